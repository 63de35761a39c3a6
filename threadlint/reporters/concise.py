"""``path:line:col: TL102 message`` - one finding per line (editors, grep)."""


def render(result) -> str:
    lines = [f"{f.location.path}:{f.location.line}:{f.location.col}: {f.rule} {f.message}"
             for f in result.findings]
    return "".join(line + "\n" for line in lines)
