"""Inline suppressions: syntax, ranges, assembly comments, TL001, and the CLI path."""
import json
import os

import pytest

from harness import write_databases
from threadlint import suppress
from threadlint.cli import main
from threadlint.finding import Finding, Location

KNOWN = {"TL001": "TL001", "TL002": "TL002", "TL101": "TL101", "TL102": "TL102",
         "TL104": "TL104", "lock-kind-mismatch": "TL102"}


def directives(text, path="f.c"):
    return suppress.parse(path, text, KNOWN)


def finding(rule, path, line, severity="warning"):
    return Finding(rule=rule, name="x", severity=severity, message=f"{rule} here",
                   location=Location(path, line, 1), fingerprint=f"{rule}:{path}:{line}")


def run_apply(root, files, findings, rules_ran=("TL001", "TL101", "TL102", "TL104"), **kw):
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return suppress.apply(findings, str(root), rules_ran=set(rules_ran),
                          sources=kw.pop("sources", sorted(files)), known_rules=KNOWN, **kw)


def located(findings):
    return sorted((f.rule, f.location.path, f.location.line) for f in findings)


# -- parsing -------------------------------------------------------------------------------

def test_block_and_line_comments_cover_their_line_and_the_next():
    (a, b) = directives("/* threadlint: ignore[TL102] startup only */\n"
                        "x = 1; // threadlint: ignore[TL101, TL104] the lock is held by the caller\n")
    assert (a.verb, a.ids, a.reason, a.ranges) == ("ignore", ["TL102"], "startup only", {"TL102": (1, 2)})
    assert (a.line, a.col) == (1, 4)
    assert b.ids == ["TL101", "TL104"] and b.ranges == {"TL101": (2, 3), "TL104": (2, 3)}
    assert b.col == 11 and b.reason == "the lock is held by the caller" and not b.problems


def test_rule_names_and_reason_separators():
    (d,) = directives("// threadlint: ignore[lock-kind-mismatch]: weak is enough here\n")
    assert d.ids == ["TL102"] and d.reason == "weak is enough here" and not d.problems


def test_directive_inside_a_multiline_block_comment_covers_the_line_after_it():
    (d,) = directives("/*\n * threadlint: ignore[TL102] generated table\n */\nint x;\n")
    assert d.line == 2 and d.ranges == {"TL102": (2, 4)}


def test_interactive_report_insertion_is_understood(tmp_path):
    """The report browser writes the comment on the line before, same indentation,
    with a continuation backslash inside a macro; the parser must accept that."""
    from threadlint.report_app.actions import suppress_in_file
    src = tmp_path / "m.c"
    src.write_text("#define LOCKED(x) \\\n    do_lock(x); \\\n    use(x)\nint f(void) {\n    return g();\n}\n")
    suppress_in_file(str(src), 5, "TL102", "weak lock is fine: no suspension here")
    suppress_in_file(str(src), 2, "TL101", "macro users hold the lock")
    found = {d.line: d for d in suppress.parse("m.c", src.read_text(), KNOWN)}
    lines = src.read_text().splitlines()
    assert lines[1].endswith("\\") and lines[1].strip().startswith("/* threadlint: ignore[TL101]")
    assert found[2].ranges == {"TL101": (2, 3)} and not found[2].problems
    assert found[6].ranges == {"TL102": (6, 7)} and lines[6].strip() == "return g();"


def test_strings_and_digit_separators_are_not_comments():
    text = ('const char *s = "/* threadlint: ignore[TL102] no */";\n'
            "int n = 1'000'000; char c = '\"'; /* threadlint: ignore[TL101] yes */\n")
    (d,) = directives(text)
    assert d.line == 2 and d.ids == ["TL101"]


def test_directive_must_open_the_comment():
    assert directives("/* see threadlint: ignore[TL102] in the docs */\n") == []


def test_disable_enable_ranges():
    ds = directives("// threadlint: disable[TL101, TL102] legacy code\n"
                    "a();\n"
                    "// threadlint: enable[TL101]\n"
                    "b();\n"
                    "/* threadlint: enable[TL102] */\n")
    assert ds[0].ranges == {"TL101": (1, 3), "TL102": (1, 5)}
    assert not any(d.problems for d in ds)


def test_range_problems():
    ds = directives("// threadlint: enable[TL101]\n"
                    "// threadlint: disable[TL102] old\n"
                    "// threadlint: disable[TL102] again\n")
    assert "no preceding disable" in ds[0].problems[0]
    assert ds[1].ranges["TL102"][1] > 10**6                       # to the end of the file
    assert any("no matching enable" in p for p in ds[1].problems)
    assert "already disabled since line 2" in ds[2].problems[0] and ds[2].ranges == {}


@pytest.mark.parametrize("text, problem", [
    ("// threadlint: ignor[TL102] typo\n", "unknown directive"),
    ("// threadlint: ignore TL102 reason\n", "needs the rules in brackets"),
    ("// threadlint: ignore[TL102 reason\n", "needs the rules in brackets"),
    ("// threadlint: ignore[] reason\n", "names no rule"),
    ("// threadlint: ignore[TL999] reason\n", "unknown rule 'TL999'"),
    ("// threadlint: ignore[TL102]\n", "gives no reason"),
    ("/* threadlint: ignore[TL102] -- */\n", "gives no reason"),
])
def test_malformed(text, problem):
    (d,) = directives(text)
    assert any(problem in p for p in d.problems), d.problems


def test_missing_reason_still_suppresses():
    (d,) = directives("// threadlint: ignore[TL102]\n")
    assert d.ranges == {"TL102": (1, 2)}


def test_assembly_comments():
    (d,) = directives("    i32.const 0\n    # threadlint: ignore[TL101] single-threaded init\n", "x.s")
    assert d.ranges == {"TL101": (2, 3)} and d.col == 7
    ds = directives("#include \"x.h\"\n/* threadlint: ignore[TL101] a */\n"
                    "// threadlint: ignore[TL102] b\n    .ascii \"# threadlint: ignore[TL104] c\"\n", "x.S")
    assert [d.ids for d in ds] == [["TL101"], ["TL102"]]
    # '#' is not a comment in C, and ' is a quote there but not in assembly
    assert directives("# threadlint: ignore[TL101] r\n", "f.c") == []
    assert len(directives("    .byte 'a\n    # threadlint: ignore[TL101] r\n", "y.s")) == 1


# -- applying ------------------------------------------------------------------------------

def test_apply_line_and_previous_line(tmp_path):
    files = {"a.c": "/* threadlint: ignore[TL102] startup */\n"
                    "lock();\n"
                    "unlock(); // threadlint: ignore[TL101] held by caller\n"
                    "x();\n"
                    "y();\n"}
    fs = [finding("TL102", "a.c", 2), finding("TL101", "a.c", 3), finding("TL101", "a.c", 4),
          finding("TL101", "a.c", 5), finding("TL104", "a.c", 2)]
    out = run_apply(tmp_path, files, fs)
    assert located(out) == [("TL101", "a.c", 5), ("TL104", "a.c", 2)]


def test_apply_ranges_and_other_files(tmp_path):
    files = {"b.c": "// threadlint: disable[TL101] legacy\n" + "x();\n" * 3 +
                    "// threadlint: enable[TL101]\nx();\n",
             "c.c": "x();\nx();\n"}
    fs = [finding("TL101", "b.c", 3), finding("TL101", "b.c", 5), finding("TL101", "b.c", 6),
          finding("TL101", "c.c", 2)]
    assert located(run_apply(tmp_path, files, fs)) == [("TL101", "b.c", 6), ("TL101", "c.c", 2)]


def test_unused_and_malformed_become_tl001(tmp_path):
    files = {"a.c": "// threadlint: ignore[TL102, TL101] reason\nx();\n",
             "h.h": "/* threadlint: ignore[TL104] stale */\nint y;\n// threadlint: ignore[TL101]\nint z;\n",
             "s.s": "  # threadlint: frobnicate\n"}
    out = run_apply(tmp_path, files, [finding("TL102", "a.c", 2), finding("TL101", "h.h", 4)])
    got = {(f.location.path, f.location.line, f.message) for f in out}
    assert all(f.rule == "TL001" for f in out)
    assert got == {
        ("a.c", 1, "unused suppression: no TL101 finding on this line or the next"),
        ("h.h", 1, "unused suppression: no TL104 finding on this line or the next"),
        ("h.h", 3, "suppression of TL101 gives no reason (write it after the brackets)"),
        ("s.s", 1, "unknown directive 'threadlint: frobnicate' (expected ignore[...], "
                   "disable[...] or enable[...])"),
    }
    assert len({f.fingerprint for f in out}) == len(out) and all(f.fingerprint for f in out)
    assert {f.location.col for f in out if f.location.path == "s.s"} == {5}


def test_tl001_only_when_it_ran_and_only_for_rules_that_ran(tmp_path):
    files = {"a.c": "// threadlint: ignore[TL102] r\nx();\n// threadlint: ignore[TL104]\nx();\n"}
    assert run_apply(tmp_path, files, [], rules_ran=("TL102", "TL104")) == []
    out = run_apply(tmp_path, files, [], rules_ran=("TL001", "TL102"))
    # TL104 did not run: its suppression cannot be judged unused, but the missing reason is reported
    assert sorted(f.message for f in out) == [
        "suppression of TL104 gives no reason (write it after the brackets)",
        "unused suppression: no TL102 finding on this line or the next"]
    out = run_apply(tmp_path, files, [], rules_ran=("TL001", "TL102"), require_reason=False)
    assert [f.message for f in out] == ["unused suppression: no TL102 finding on this line or the next"]


def test_unused_only_in_analysed_files(tmp_path):
    files = {"a.c": "// threadlint: ignore[TL102] r\nx();\n", "other.c": "// threadlint: ignore[TL102] r\n"}
    out = run_apply(tmp_path, files, [], sources=["a.c"])
    assert [f.location.path for f in out] == ["a.c"]


def test_tl001_can_itself_be_suppressed(tmp_path):
    files = {"a.c": "// threadlint: ignore[TL001] kept for the next release\n"
                    "// threadlint: ignore[TL102] r\nx();\n"}
    assert run_apply(tmp_path, files, []) == []


def test_unreadable_or_missing_file_keeps_findings(tmp_path):
    out = run_apply(tmp_path, {}, [finding("TL102", "gone.c", 3)])
    assert located(out) == [("TL102", "gone.c", 3)]


# -- through the CLI -----------------------------------------------------------------------

BROKEN = "int f(void) {\n    return undeclared_a;\n}\n"


def cli_tree(tmp_path, sources):
    src = tmp_path / "src"
    src.mkdir()
    for name, text in sources.items():
        (src / name).write_text(text)
    specs = write_databases(str(src), str(tmp_path / "builds"))
    return src, ["check", str(src), *[a for s in specs for a in ("-p", s)], "--profile", "wasi-libc",
                 "-j", "1", "--cache-dir", str(tmp_path / "cache")]


def test_cli_suppression_and_unused_report(tmp_path, capsys):
    src, argv = cli_tree(tmp_path, {"a.c": BROKEN})
    assert main(argv + ["--format", "json"]) == 1
    assert [f["rule"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["TL002"]

    (src / "a.c").write_text("int f(void) {\n    /* threadlint: ignore[TL002] stub header missing */\n"
                             "    return undeclared_a;\n}\n")
    assert main(argv + ["--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []

    (src / "a.c").write_text("int f(void) {\n    /* threadlint: ignore[TL002] no longer needed */\n"
                             "    return 0;\n}\n")
    assert main(argv + ["--format", "json"]) == 1
    (f,) = json.loads(capsys.readouterr().out)["findings"]
    assert (f["rule"], f["location"]["line"], f["severity"]) == ("TL001", 2, "warning")
    assert f["fingerprint"]
    assert main(argv + ["--format", "json", "--select", "TL002"]) == 0     # TL001 did not run
    capsys.readouterr()


def test_cli_require_reason_from_config(tmp_path, capsys):
    src, argv = cli_tree(tmp_path, {"a.c": "int f(void) {\n    // threadlint: ignore[TL002]\n"
                                           "    return undeclared_a;\n}\n"})
    assert main(argv + ["--format", "concise"]) == 1
    assert "gives no reason" in capsys.readouterr().out
    (src / "threadlint.toml").write_text("require_reason = false\n")
    assert main(argv + ["--format", "concise"]) == 0
    capsys.readouterr()


def test_sarif_has_the_tl001_rule(tmp_path, capsys):
    _, argv = cli_tree(tmp_path, {"a.c": "// threadlint: bogus\nint x;\n"})
    assert main(argv + ["--format", "sarif"]) == 1
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["TL001"]
    assert "TL001" in [r["id"] for r in run["tool"]["driver"]["rules"]]


def test_tl001_documentation():
    from threadlint.registry import all_rules, doc_sections
    rule = all_rules()["TL001"]
    assert set(doc_sections(rule.doc())) >= {"What it does", "Why is this bad", "Example",
                                               "How to fix", "Configuration"}
    assert os.path.isfile(os.path.join(os.path.dirname(__file__), "..", "docs", "suppressions.md"))
