"""Every report format, SARIF against the 2.1.0 schema and GitHub's required fields."""
import json
import os

import jsonschema
import pytest

from threadlint.finding import Finding, Location, Related, compute_fingerprint
from threadlint.reporters import render
from threadlint.result import ConfigInfo, RuleMeta, RunResult

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = json.load(open(os.path.join(HERE, "schemas", "sarif-schema-2.1.0.json")))


@pytest.fixture
def result(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.c").write_text("void f(void) {\n    WEAK_LOCK(l);\n    g();\n}\n")
    f1 = Finding(rule="TL002", name="parse-error", severity="error", message="broken: x",
                 location=Location("src/a.c", 2, 5, 2, 18), function="f",
                 related=(Related(Location("src/a.c", 1, 1), "declared here"),),
                 chain=(Related(Location("src/a.c", 3, 5), "f calls g", "f"),),
                 configs=("coop", "threads"), help="fix it")
    f1 = Finding(**{**f1.__dict__, "fingerprint": compute_fingerprint(f1, "    WEAK_LOCK(l);")})
    f2 = Finding(rule="TL002", name="parse-error", severity="warning", message="second",
                 location=Location("src/a.c", 3, 5), configs=("threads",), fingerprint="abc")
    return RunResult(tool_version="0.1.0", libclang_version="clang version 22", root=str(tmp_path),
                     profile_name="wasi-libc",
                     configs=[ConfigInfo("coop", "/b/coop/compile_commands.json", 3, 1),
                              ConfigInfo("threads", "/b/threads/compile_commands.json", 4, 0)],
                     rules=[RuleMeta("TL002", "parse-error", "Translation unit failed to parse",
                                     "error", "high")],
                     findings=[f1, f2], seconds=1.25)


def test_sarif_is_valid_and_has_one_run_per_configuration(result):
    doc = json.loads(render("sarif", result))
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    assert doc["version"] == "2.1.0"
    assert [r["automationDetails"]["id"] for r in doc["runs"]] == ["threadlint/coop/", "threadlint/threads/"]
    coop, threads = doc["runs"]
    assert len(coop["results"]) == 1 and len(threads["results"]) == 2


def test_sarif_meets_github_code_scanning_required_fields(result):
    doc = json.loads(render("sarif", result))
    for run in doc["runs"]:
        rules = run["tool"]["driver"]["rules"]
        for rule in rules:
            assert rule["id"] and rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
            assert rule["help"]["text"]
        for res in run["results"]:
            assert res["ruleId"] == rules[res["ruleIndex"]]["id"]
            assert res["message"]["text"]
            loc = res["locations"][0]["physicalLocation"]
            assert not loc["artifactLocation"]["uri"].startswith(("/", "file:"))
            assert loc["region"]["startLine"] >= 1
            assert res["partialFingerprints"]["primaryLocationLineHash"]
    first = doc["runs"][0]["results"][0]
    assert first["locations"][0]["logicalLocations"][0]["name"] == "f"
    assert first["relatedLocations"][0]["message"]["text"] == "declared here"
    steps = first["codeFlows"][0]["threadFlows"][0]["locations"]
    assert steps[0]["location"]["physicalLocation"]["region"]["startLine"] == 3


def test_text_report_is_plain_without_a_terminal(result, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    out = render("text", result)
    assert "\x1b[" not in out and "│" not in out
    assert "error[TL002]: broken: x" in out
    assert "--> src/a.c:2:5" in out
    assert " 2 |     WEAK_LOCK(l);" in out
    assert "^^^^^^^^^^^^^" in out                     # the span 5..18
    assert "note: declared here" in out and "1. f calls g" in out and "help: fix it" in out
    assert "configurations: coop, threads" in out
    assert out.rstrip().splitlines()[-1].startswith("Found 2 findings (TL002: 2) in 7 TUs across 2")


class _Terminal:
    def isatty(self):
        return True


def test_text_report_in_a_terminal_has_colour_and_the_same_text(result, monkeypatch):
    import re

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("CI", raising=False)
    coloured = render("text", result, color_target=_Terminal())
    assert "\x1b[" in coloured
    monkeypatch.setenv("NO_COLOR", "1")
    plain = render("text", result)
    # the colour is the only difference (soft wrap: no line is re-wrapped)
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_text_report_keeps_brackets_in_messages(result, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    f = result.findings[0]
    result.findings[0] = type(f)(**{**f.__dict__, "message": "lock [bold]l[/] held", "help": "use [x]"})
    out = render("text", result)
    assert "error[TL002]: lock [bold]l[/] held" in out and "help: use [x]" in out


def test_concise_json_and_github(result):
    assert render("concise", result).splitlines() == [
        "src/a.c:2:5: TL002 broken: x", "src/a.c:3:5: TL002 second"]
    doc = json.loads(render("json", result))
    assert doc["format"] == "threadlint-report" and len(doc["findings"]) == 2
    assert doc["findings"][0]["configs"] == ["coop", "threads"]
    gh = render("github", result).splitlines()
    assert gh[0].startswith("::error file=src/a.c,line=2,col=5,endLine=2,endColumn=18,title=TL002 parse-error::broken: x")
    assert gh[-1].startswith("threadlint: 2 finding(s).")


def test_reports_are_deterministic(result):
    for fmt in ("json", "sarif", "concise"):
        assert render(fmt, result) == render(fmt, result)
    assert "1.25" not in render("json", result)         # no timings in machine output
