"""--format github annotations and the CI exit-code flags (--fail-on, --exit-zero)."""
import re

import pytest

from harness import write_databases
from threadlint.cli import main
from threadlint.finding import Finding, Location
from threadlint.reporters import github
from threadlint.result import RunResult

LINE = re.compile(r"^::(error|warning|notice) (?P<props>[^:]*)::(?P<msg>.*)$")


def finding(i, severity, path="src/a.c", message=None, confidence="high", **loc):
    return Finding(rule="TL102", name="lock-kind-mismatch", severity=severity,
                   message=message or f"{severity} {i}", location=Location(path, i + 1, 2, **loc),
                   configs=("coop",), confidence=confidence)


def result(findings, root="/w/repo", notes=()):
    return RunResult("0", "22", root, "p", [], [], list(findings), notes=list(notes))


def annotations(text):
    return [LINE.match(line) for line in text.splitlines() if line.startswith("::")]


def test_capped_per_level_most_severe_first():
    fs = [finding(i, "note") for i in range(12)] + [finding(i, "error") for i in range(15)] + \
         [finding(i, "warning") for i in range(3)]
    out = github.render(result(fs), env={})
    anns = annotations(out)
    levels = [m.group(1) for m in anns]
    assert levels == ["error"] * 10 + ["warning"] * 3 + ["notice"] * 10
    assert [m.group("msg") for m in anns[:2]] == ["error 0 [coop]", "error 1 [coop]"]
    summary = out.splitlines()[len(anns)]
    assert summary.startswith("threadlint: 30 finding(s), 7 not annotated (GitHub shows 10 per level).")
    assert "--format sarif" in summary


def test_confidence_orders_within_a_level():
    fs = [finding(0, "warning", confidence="low"), finding(1, "warning", confidence="high")]
    assert [m.group("msg") for m in annotations(github.render(result(fs), env={}))] == \
        ["warning 1 [coop]", "warning 0 [coop]"]


def test_escaping_and_properties():
    f = finding(4, "warning", path="dir,x/a:b.c", message="50% done\nsecond line",
                end_line=5, end_col=9)
    (m,) = annotations(github.render(result([f]), env={}))
    assert m.group("props") == ("file=dir%2Cx/a%3Ab.c,line=5,col=2,endLine=5,endColumn=9,"
                                "title=TL102 lock-kind-mismatch")
    assert m.group("msg") == "50% done%0Asecond line [coop]".replace("50%", "50%25")
    multi = finding(1, "warning", end_line=7, end_col=3)
    assert "endColumn" not in annotations(github.render(result([multi]), env={}))[0].group("props")


def test_paths_are_made_repository_relative(tmp_path):
    root = tmp_path / "ws" / "libc"
    root.mkdir(parents=True)
    env = {"GITHUB_WORKSPACE": str(tmp_path / "ws"), "GITHUB_SERVER_URL": "https://github.example",
           "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42"}
    out = github.render(result([finding(0, "error")], root=str(root)), env=env)
    assert "file=libc/src/a.c," in out
    assert out.splitlines()[-1].endswith("Full report: https://github.example/o/r/actions/runs/42")
    assert "Full report: https://x/y" in github.render(result([finding(0, "error")], str(root)),
                                                        report_url="https://x/y", env=env)


def test_empty_and_notes():
    out = github.render(result([], notes=["2 finding(s) hidden by baseline b.json"]), env={})
    assert out == "threadlint: 0 finding(s).\nthreadlint: note: 2 finding(s) hidden by baseline b.json\n"


# -- exit codes through the CLI ---------------------------------------------------------------

@pytest.fixture
def tree(tmp_path):
    """One TU with a TL002 finding (severity error) and one with a TL001 (warning)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.c").write_text("int a(void) { return undeclared_a; }\n")
    (src / "b.c").write_text("// threadlint: ignroe[TL002] typo: malformed\nint b;\n")
    specs = write_databases(str(src), str(tmp_path / "builds"))
    return ["check", str(src), *[a for s in specs for a in ("-p", s)], "--profile", "wasi-libc",
            "-j", "1", "--cache-dir", str(tmp_path / "cache"), "--format", "github"]


@pytest.mark.parametrize("select, extra, code", [
    ("TL001,TL002", [], 1),
    ("TL001,TL002", ["--fail-on", "error"], 1),
    ("TL001", ["--fail-on", "error"], 0),          # only a warning left
    ("TL001", ["--fail-on", "warning"], 1),
    ("TL001", ["--fail-on", "note"], 1),
    ("TL001,TL002", ["--exit-zero"], 0),
])
def test_fail_on_and_exit_zero(tree, capsys, select, extra, code):
    assert main(tree + ["--select", select] + extra) == code
    out = capsys.readouterr().out
    assert out.count("::error ") == ("TL002" in select)
    assert out.count("::warning ") == 1


def test_fail_on_from_configuration(tree, capsys, tmp_path):
    (tmp_path / "src" / "threadlint.toml").write_text('fail_on = "error"\n')
    assert main(tree + ["--select", "TL001"]) == 0
    assert main(tree + ["--select", "TL001", "--fail-on", "warning"]) == 1   # the flag wins
    capsys.readouterr()


# -- docs/ci.md stays runnable ------------------------------------------------------------------

def ci_workflow():
    import os
    import yaml
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "ci.md"), encoding="utf-8").read()
    block = re.search(r"```yaml\n(# \.github/workflows/threadlint\.yml\n.*?)```", doc, re.S).group(1)
    return yaml.safe_load(block)


def test_ci_workflow_is_complete_and_uses_real_flags():
    import shlex
    from threadlint.cli import build_parser
    wf = ci_workflow()
    job = wf["jobs"]["threadlint"]
    assert job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@") and steps[0]["with"]["fetch-depth"] == 0
    upload = [s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert len(upload) == 1 and "category" not in upload[0]["with"]
    builds = shlex.split(job["env"]["BUILDS"])
    runs = [s["run"] for s in steps if "threadlint check" in s.get("run", "")]
    assert len(runs) == 2
    for run in runs:
        words = shlex.split(run.replace("$BUILDS", " ".join(builds))
                            .replace("${{ github.event.pull_request.base.sha }}", "abc123"))
        args = build_parser().parse_args(words[1:])            # every flag exists
        assert args.command == "check" and len(args.build) == 3
    sarif_args = build_parser().parse_args(shlex.split(runs[0].replace("$BUILDS", ""))[1:])
    assert sarif_args.format == "sarif" and sarif_args.output == upload[0]["with"]["sarif_file"]
    assert sarif_args.exit_zero


def test_sarif_has_one_category_per_configuration(tmp_path, capsys):
    import json
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.c").write_text("int a(void) { return undeclared_a; }\n")
    (src / "fixture.toml").write_text('[configs.coop]\nargs = ["--target=wasm32-wasip3"]\n'
                                      '[configs.threads]\nargs = ["--target=wasm32-wasip1-threads"]\n')
    specs = write_databases(str(src), str(tmp_path / "builds"))
    argv = ["check", str(src), *[a for s in specs for a in ("-p", s)], "--profile", "wasi-libc",
            "-j", "1", "--no-cache", "--format", "sarif", "--select", "TL002"]
    assert main(argv) == 1
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["automationDetails"]["id"] for r in runs] == ["threadlint/coop/", "threadlint/threads/"]
    assert all(len(r["results"]) == 1 for r in runs)


def test_output_into_a_fifo_keeps_the_fifo(tree, tmp_path):
    """-o /dev/stdout or /dev/null must write into the node, not rename a file over it
    (as root a rename would replace /dev/null itself); a FIFO stands in for them."""
    import os
    import threading
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, encoding="utf-8").read()))
    reader.start()
    assert main(tree + ["--select", "TL002", "-o", str(fifo)]) == 1
    reader.join(30)
    assert got and got[0].startswith("::error ")
    assert stat_is_fifo(fifo)


def stat_is_fifo(path):
    import os
    import stat
    return stat.S_ISFIFO(os.stat(path).st_mode)
