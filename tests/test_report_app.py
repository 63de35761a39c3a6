"""threadlint report: the pure model, the file actions, the Textual browser and the static fallback.

The browser tests drive the real app headless with Textual's Pilot; the file
actions are checked on copies of tests/report_fixtures on disk.
"""
from __future__ import annotations

import asyncio
import io
import json
import shutil
import stat
import sys
import time
import types
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from threadlint.finding import Finding, Location, Related
from threadlint.report_app import actions, app as app_module, run, run_findings
from threadlint.report_app.app import ReportApp
from threadlint.report_app.model import ReportData, load_report
from threadlint.report_app.query import (filter_indices, group_indices, parse_query, sort_indices)
from threadlint.report_app.sarif import sarif_to_findings
from threadlint.report_app.screens import ExplainScreen, HelpScreen, PromptScreen
from threadlint.report_app.source import SourceCache, char_col, snippet
from threadlint.report_app.widgets import CodeView, FindingsTree, LocationsTree

FIXTURES = Path(__file__).parent / "report_fixtures"
MUTEX, COND, TLS = "thread/mutex.c", "thread/cond.c", "thread/tls_legacy.c"
# Indices of the findings in report_fixtures/report.json (see make_report.py).
UNLOCK, LOCK_ALL, MACRO, FORK, SIGNAL, WAIT, TLS_GET, CAS, SPIN = range(9)


@pytest.fixture
def fx(tmp_path) -> Path:
    """A private copy of the fixture report and sources (the actions write to them)."""
    dest = tmp_path / "fx"
    shutil.copytree(FIXTURES, dest)
    return dest


@pytest.fixture
def data(fx) -> ReportData:
    return load_report(str(fx / "report.json"))


def text_of(renderable, width: int = 100) -> str:
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def drive(app: ReportApp, script, size=(80, 24)):
    """Run ``script(pilot)`` against the app headless; returns the app afterwards."""
    async def main():
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot)
    asyncio.run(main())
    return app


def rows(app: ReportApp) -> list[tuple]:
    """The findings list as (kind, key) pairs in display order."""
    out = []
    for group in app.query_one(FindingsTree).root.children:
        out.append(group.data)
        out.extend(child.data for child in group.children)
    return out


def findings_shown(app: ReportApp) -> list[int]:
    return [key for kind, key in rows(app) if kind == "finding"]


def groups_shown(app: ReportApp) -> list[tuple[str, int]]:
    return [(g.data[1], len(g.children)) for g in app.query_one(FindingsTree).root.children]


# --- filter language, sorting, grouping (pure) --------------------------------

def test_query_parses_fields_aliases_and_negation():
    q = parse_query('rule:TL102,tl103 sev:err -path:*.S cfg:arm "two words" -skip')
    fields = [(t.field, t.values, t.negate) for t in q.terms]
    assert fields == [("rule", ("tl102", "tl103"), False), ("severity", ("error",), False),
                      ("path", ("*.S",), True), ("config", ("arm",), False),
                      (None, ("two words",), False), (None, ("skip",), True)]
    assert q.errors == ()


def test_query_reports_unknown_values_instead_of_matching_nothing(data):
    q = parse_query("sev:fatal barrier")
    assert q.errors == ("unknown severity fatal",)
    assert filter_indices(data.findings, q) == [SIGNAL, TLS_GET]   # the bad term is dropped
    assert parse_query("is:bogus").errors


@pytest.mark.parametrize("text,expected", [
    ("rule:TL103", [LOCK_ALL, MACRO]),
    ("rule:tl2", [CAS, SPIN]),                           # id prefix
    ("rule:wakeup", [WAIT]),                             # part of the rule name
    ("sev:error", [UNLOCK, LOCK_ALL, MACRO, CAS]),
    ("sev:warning,note", [FORK, SIGNAL, WAIT, TLS_GET, SPIN]),
    ("path:cond", [SIGNAL, WAIT]),
    ("path:*.S", [CAS]),                                 # glob; case matters: not spin.s
    ("path:arch/*", [CAS, SPIN]),
    ("config:riscv", [UNLOCK, MACRO, FORK, SIGNAL, WAIT, TLS_GET]),
    ("config:x86_64 -rule:TL1", [CAS, SPIN]),
    ("barrier", [SIGNAL, TLS_GET]),                      # message text
    ("__fork_handler", [FORK]),                          # function name
    ("mutex sev:warning", [FORK, WAIT]),                # WAIT's message says "mutex"
    ("-mutex -cond", [TLS_GET, CAS, SPIN]),
])
def test_filter_by_each_field(data, text, expected):
    assert filter_indices(data.findings, parse_query(text)) == expected


def test_filter_by_status(data):
    statuses = {UNLOCK: frozenset({"suppressed"}), CAS: frozenset({"baselined"})}
    open_ = filter_indices(data.findings, parse_query("is:open"), statuses)
    assert UNLOCK not in open_ and CAS not in open_ and len(open_) == 7
    assert filter_indices(data.findings, parse_query("is:handled"), statuses) == [UNLOCK, CAS]
    assert filter_indices(data.findings, parse_query("is:baselined"), statuses) == [CAS]


def test_sort_orders(data):
    everything = list(range(len(data.findings)))
    by_sev = sort_indices(data.findings, everything, "severity")
    assert [data.findings[i].severity for i in by_sev] == ["error"] * 4 + ["warning"] * 4 + ["note"]
    assert by_sev[:4] == [CAS, UNLOCK, LOCK_ALL, MACRO]          # then by path and line
    by_file = sort_indices(data.findings, everything, "file")
    assert by_file == [CAS, SPIN, SIGNAL, WAIT, UNLOCK, LOCK_ALL, FORK, MACRO, TLS_GET]
    by_rule = sort_indices(data.findings, everything, "rule")
    assert [data.findings[i].rule for i in by_rule] == sorted(f.rule for f in data.findings)


def test_grouping_counts_and_order(data):
    everything = sort_indices(data.findings, list(range(len(data.findings))), "severity")
    by_rule = group_indices(data.findings, everything, "rule", "severity")
    # The groups holding errors come first when sorting by severity.
    assert [(g.key, len(g)) for g in by_rule] == [
        ("TL102", 1), ("TL103", 2), ("TL201", 1), ("TL101", 2), ("TL104", 1), ("TL105", 1), ("TL202", 1)]
    by_file = group_indices(data.findings, everything, "file", "file")
    assert [(g.key, len(g)) for g in by_file] == [
        ("arch/x86_64/atomic.S", 1), ("arch/x86_64/spin.s", 1), (COND, 2), (MUTEX, 4), (TLS, 1)]
    # A finding present in several configurations is listed under each.
    by_config = group_indices(data.findings, everything, "config", "file")
    assert [(g.key, len(g)) for g in by_config] == [
        ("aarch64-linux", 6), ("riscv64-linux", 6), ("x86_64-linux", 7)]


# --- loading reports -------------------------------------------------------------

def test_load_json_report(fx, data):
    assert data.root == str(fx / "src")                  # relative root resolved against the report
    assert data.configs == ["aarch64-linux", "riscv64-linux", "x86_64-linux"]
    assert len(data.findings) == 9 and data.findings[LOCK_ALL].chain[1].location == Location(MUTEX, 25, 2)
    assert data.rule_summary("TL105") == "A condition read outside the lock that protects it"
    assert data.title == "report.json"
    assert load_report(str(fx / "report.json"), root="/elsewhere").root == "/elsewhere"


@pytest.mark.parametrize("content,message", [
    (None, "cannot read report"),
    (b"{not json", "not valid JSON (line 1"),
    (b"[1, 2]", "not a threadlint JSON report or SARIF log"),
    (b'{"format": "something-else"}', "not a threadlint JSON report or SARIF log"),
    (b'{"format": "threadlint-report", "root": "/", "findings": [{"rule": "TL1"}]}',
     "finding #0 is malformed"),
    (b'\xff\xfe{', "not UTF-8"),
])
def test_bad_report_files_raise_one_line_value_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        load_report(str(path))
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ValueError):
        run(str(path))


def _run_result(data: ReportData):
    from threadlint.result import ConfigInfo, RuleMeta, RunResult
    rules = [RuleMeta(rid, m["name"], m["summary"], m["severity"], m["precision"])
             for rid, m in data.rules.items()]
    configs = [ConfigInfo(c, "", 3, 1) for c in data.configs]
    return RunResult("0.1.0", "18", data.root, "musl-like", configs, rules, list(data.findings))


def test_sarif_from_threadlint_writer_round_trips(data):
    from threadlint.reporters import sarif as sarif_writer
    doc = json.loads(sarif_writer.render(_run_result(data)))
    assert len(doc["runs"]) == 3                         # one run per configuration
    findings, rules, root, configs = sarif_to_findings(doc)
    assert root == data.root
    assert configs == data.configs
    assert rules["TL103"]["name"] == "sleep-under-spinlock" and rules["TL103"]["severity"] == "error"

    def essence(f: Finding):
        # SARIF has no function names for related locations and chain steps.
        return (f.rule, f.severity, f.message, f.location, f.function, f.configs, f.fingerprint,
                f.confidence, tuple((r.location.path, r.location.line, r.label) for r in f.related),
                tuple((r.location.path, r.location.line, r.label) for r in f.chain))
    assert sorted(map(essence, findings)) == sorted(map(essence, data.findings))


def test_sarif_merges_results_by_fingerprint_across_runs(tmp_path):
    def result(line, fp, config):
        return {"ruleId": "TL102", "level": "error", "message": {"text": f"m{line}"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.c", "uriBaseId": "SRCROOT"},
                                                   "region": {"startLine": line, "startColumn": 3}},
                               "logicalLocations": [{"name": "f"}]}],
                "partialFingerprints": {"primaryLocationLineHash": fp}}

    def run_(config, results):
        return {"tool": {"driver": {"name": "threadlint", "rules": [
                    {"id": "TL102", "name": "lock-kind-mismatch", "shortDescription": {"text": "S"},
                     "defaultConfiguration": {"level": "error"}}]}},
                "automationDetails": {"id": f"threadlint/{config}/"},
                "originalUriBaseIds": {"SRCROOT": {"uri": "file:///src/my%20port/"}},
                "results": results}
    doc = {"version": "2.1.0", "runs": [run_("arm", [result(1, "aa", "arm"), result(5, "bb", "arm")]),
                                        run_("x86", [result(1, "aa", "x86")])]}
    findings, rules, root, configs = sarif_to_findings(doc)
    assert root == "/src/my port" and configs == ["arm", "x86"]
    assert [(f.location.line, f.configs, f.function) for f in findings] == [
        (1, ("arm", "x86"), "f"), (5, ("arm",), "f")]
    path = tmp_path / "r.sarif"
    path.write_text(json.dumps(doc))
    assert len(load_report(str(path)).findings) == 2


# --- sources and snippets -------------------------------------------------------

def test_byte_columns_become_character_columns(data):
    cache = SourceCache(data.root)
    first = cache.line(MUTEX, 1)
    assert "—" in first                                   # three bytes in UTF-8, one character
    byte_col = first.encode("utf-8").index(b"fast") + 1
    assert first[char_col(first, byte_col, "utf-8"):].startswith("fast")
    assert cache.get(TLS)[1] == "latin-1" and "résumé" in cache.line(TLS, 1)
    assert cache.line(COND, 8) == "    c->_c_seq++;"        # CR stripped


def test_snippet_marks_the_finding_line(data):
    out = text_of(snippet(SourceCache(data.root), data.findings[UNLOCK].location, 2, theme="ansi_dark"))
    lines = out.splitlines()
    assert [ln.split()[0] for ln in lines if ln.strip()] == ["17", "18", "❱", "20", "21"]
    assert "__spin_unlock(&m->_m_lock);" in lines[2]
    missing = text_of(snippet(SourceCache(data.root), Location("gone.c", 3)))
    assert "source not available" in missing


# --- file actions -------------------------------------------------------------------

def test_suppress_inserts_comment_with_indentation(fx):
    path = fx / "src" / MUTEX
    before = path.read_bytes().split(b"\n")
    done = actions.suppress_in_file(str(path), 19, "TL102", "  unlock is\n a spin lock  ")
    after = path.read_bytes().split(b"\n")
    assert done == actions.Suppressed(19, "\t/* threadlint: ignore[TL102] unlock is a spin lock */", 1)
    assert after[18] == b"\t/* threadlint: ignore[TL102] unlock is a spin lock */"
    assert after[:18] == before[:18] and after[19:] == before[18:]    # nothing else changed


def test_suppress_keeps_crlf(fx):
    path = fx / "src" / COND
    original = path.read_bytes()
    actions.suppress_in_file(str(path), 8, "TL101", "wake has a barrier")
    data = path.read_bytes()
    assert b"    /* threadlint: ignore[TL101] wake has a barrier */\r\n    c->_c_seq++;\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n") == original.count(b"\r\n") + 1


def test_suppress_keeps_latin1_encoding(fx):
    path = fx / "src" / TLS
    original = path.read_bytes()
    actions.suppress_in_file(str(path), 9, "TL101", "déjà vu")
    data = path.read_bytes()
    inserted = b"\t\t/* threadlint: ignore[TL101] d\xe9j\xe0 vu */\n"
    assert data == original.replace(b"\t\ttls_ready = 1;", inserted + b"\t\ttls_ready = 1;")
    with pytest.raises(actions.ActionError, match="cannot hold"):
        actions.suppress_in_file(str(path), 3, "TL101", "costs 5 €")
    assert path.read_bytes() == data


def test_suppress_comment_style_by_file_type(fx):
    spin, cas = fx / "src/arch/x86_64/spin.s", fx / "src/arch/x86_64/atomic.S"
    actions.suppress_in_file(str(spin), 4, "TL202", "bounded by the caller")
    actions.suppress_in_file(str(cas), 6, "TL201", "uniprocessor only */ really")
    assert spin.read_text().splitlines()[3] == "# threadlint: ignore[TL202] bounded by the caller"  # "1:" at col 1
    # '*/' in the reason would end the comment early.
    assert cas.read_text().splitlines()[5] == "\t/* threadlint: ignore[TL201] uniprocessor only * / really */"


def test_suppress_inside_macro_keeps_line_continuation(fx):
    path = fx / "src" / MUTEX
    actions.suppress_in_file(str(path), 45, "TL103", "b is never contended")
    lines = path.read_text().splitlines()
    assert lines[44] == "\t/* threadlint: ignore[TL103] b is never contended */ \\"
    assert lines[45] == "\t__pthread_mutex_lock(b); \\"


def test_suppress_is_idempotent_and_needs_a_reason(fx):
    path = fx / "src" / MUTEX
    actions.suppress_in_file(str(path), 19, "TL102", "first")
    once = path.read_bytes()
    again = actions.suppress_in_file(str(path), 20, "TL102", "second")
    assert (again.inserted, again.written, again.line) == (0, False, 19) and path.read_bytes() == once
    # Rule names work in place of ids; a trailing ignore on the finding's own line counts too.
    other = path.parent / "t.c"
    other.write_text("/* threadlint: ignore[Lock-Kind-Mismatch] r */\nx();\ny(); /* threadlint: ignore[TL104, TL102] r */\n")
    assert not actions.suppress_in_file(str(other), 2, "TL102", "r", rule_name="lock-kind-mismatch").written
    assert not actions.suppress_in_file(str(other), 3, "TL102", "r").written
    assert other.read_text().count("threadlint") == 2
    with pytest.raises(actions.ActionError, match="needs a reason"):
        actions.suppress_in_file(str(path), 5, "TL102", "  \n ")
    with pytest.raises(actions.ActionError, match="no line 400"):
        actions.suppress_in_file(str(path), 400, "TL102", "x")


def test_suppress_beside_an_existing_ignore_of_another_rule(tmp_path):
    # Inserting a line between "ignore[TL104]" and its line would un-suppress TL104.
    path = tmp_path / "a.c"
    path.write_bytes(b"int f(void)\r\n{\r\n\t/* threadlint: ignore[TL104] ok */\r\n\tg();\r\n}\r\n")
    done = actions.suppress_in_file(str(path), 4, "TL102", "fine")
    assert (done.line, done.inserted, done.written) == (3, 0, True)
    assert path.read_bytes() == (b"int f(void)\r\n{\r\n\t/* threadlint: ignore[TL104] ok */ "
                                 b"/* threadlint: ignore[TL102] fine */\r\n\tg();\r\n}\r\n")
    asm = tmp_path / "a.s"
    asm.write_text("# threadlint: ignore[TL501] ok\n\tmov %eax, %ebx\n")
    with pytest.raises(actions.ActionError, match="add TL502 to it by hand"):
        actions.suppress_in_file(str(asm), 2, "TL502", "fine")


@pytest.mark.parametrize("path,line,rule", [
    (MUTEX, 19, "TL102"), (MUTEX, 45, "TL103"), (COND, 8, "TL101"), (TLS, 9, "TL101"),
    ("arch/x86_64/atomic.S", 6, "TL201"), ("arch/x86_64/spin.s", 4, "TL202"),
])
def test_threadlint_suppress_parser_reads_what_we_write(fx, path, line, rule):
    from threadlint import suppress
    src = fx / "src" / path
    done = actions.suppress_in_file(str(src), line, rule, "reviewed")
    text = src.read_bytes().decode("utf-8" if path != TLS else "latin-1")
    known = {r: r for r in ("TL101", "TL102", "TL103", "TL201", "TL202")}
    directives = suppress.parse(path, text, known_rules=known)
    assert [(d.verb, d.ids, d.reason, d.problems) for d in directives] == [("ignore", [rule], "reviewed", [])]
    first, last = directives[0].ranges[rule]
    assert first <= line + done.inserted <= last           # covers the finding where it now is


def test_suppress_first_line_after_bom_and_keeps_mode(tmp_path):
    path = tmp_path / "bom.c"
    path.write_bytes(b"\xef\xbb\xbfint x;\nint y;\n")
    path.chmod(0o640)
    actions.suppress_in_file(str(path), 1, "TL101", "why")
    assert path.read_bytes() == b"\xef\xbb\xbf/* threadlint: ignore[TL101] why */\nint x;\nint y;\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["bom.c"]     # no temporary file left behind


def test_shift_lines_moves_locations_at_and_below_the_insertion(data):
    f = data.findings[LOCK_ALL]
    moved = actions.shift_lines(f, MUTEX, 25)
    assert moved.location.line == 32 and moved.location.end_line == 32
    assert [r.location.line for r in moved.chain] == [32, 26, 14]
    assert moved.related[0].location.line == 31
    assert actions.shift_lines(f, MUTEX, 33) == f                # all above line 33
    assert actions.shift_lines(f, COND, 1) == f


@pytest.mark.parametrize("editor,expected", [
    ("vim", ["vim", "+12", "/s/a.c"]),
    ("emacsclient -t", ["emacsclient", "-t", "+12", "/s/a.c"]),
    ("/usr/bin/code --wait", ["/usr/bin/code", "--wait", "--goto", "/s/a.c:12:5"]),
    ("subl", ["subl", "/s/a.c:12:5"]),
    ("hx", ["hx", "/s/a.c:12:5"]),
    ("", ["vi", "+12", "/s/a.c"]),
])
def test_editor_command(editor, expected):
    assert actions.editor_command(editor, "/s/a.c", 12, 5) == expected


def test_short_path_keeps_the_file_name():
    from threadlint.report_app.render import short_path
    assert short_path("src/a.c") == "src/a.c"
    assert short_path("libc-top-half/musl/src/thread/common/pthread_key_create.c") == \
        "…/thread/common/pthread_key_create.c"
    assert short_path("a/" + "x" * 50 + ".c", 20) == "…/" + "x" * 50 + ".c"


def test_editor_from_env():
    assert actions.editor_from_env({"EDITOR": "nano", "VISUAL": "code"}) == "nano"
    assert actions.editor_from_env({"VISUAL": "code"}) == "code"
    assert actions.editor_from_env({}) == "vi"


def test_explain_uses_the_registry_and_falls_back_to_the_summary(data, monkeypatch):
    fake = types.ModuleType("threadlint.registry")
    fake.explain = lambda rule_id: f"# {rule_id} from the registry\n"
    monkeypatch.setitem(sys.modules, "threadlint.registry", fake)
    assert actions.explain("TL102", data.rules) == "# TL102 from the registry\n"

    def unknown(rule_id):
        raise LookupError(rule_id)
    fake.explain = unknown
    text = actions.explain("TL105", data.rules)
    assert text.startswith("# TL105 lost-wakeup") and "A condition read outside the lock" in text
    monkeypatch.setitem(sys.modules, "threadlint.registry", None)    # import fails
    assert "precision: low" in actions.explain("TL105", data.rules)


def test_add_to_baseline(tmp_path, data):
    from threadlint import baseline
    path = tmp_path / "sub" / "bl.json"
    actions.add_to_baseline(str(path), [data.findings[UNLOCK]])
    actions.add_to_baseline(str(path), [data.findings[UNLOCK], data.findings[CAS]])
    entries = baseline.load(str(path))
    assert sorted(e["fingerprint"] for e in entries) == sorted(
        [data.findings[UNLOCK].fingerprint, data.findings[CAS].fingerprint])
    with pytest.raises(actions.ActionError, match="no fingerprint"):
        actions.add_to_baseline(str(path), [replace(data.findings[CAS], fingerprint="")])
    path.write_text("not json")
    with pytest.raises(actions.ActionError, match="unreadable baseline"):
        actions.add_to_baseline(str(path), [data.findings[CAS]])


# --- the browser --------------------------------------------------------------------

def meta_text(app: ReportApp) -> str:
    return text_of(app.query_one("#meta").content)


def code_text(app: ReportApp) -> str:
    return text_of(app.query_one(CodeView).content)


def test_opens_on_the_first_finding_and_navigates(data):
    seen = {}

    async def script(pilot):
        app = pilot.app
        assert app.focused is app.query_one(FindingsTree)
        seen["start"] = (app.current, meta_text(app), code_text(app))
        await pilot.press("down")
        seen["group"] = (app.current, meta_text(app))
        await pilot.press("down")
        seen["next"] = (app.current, str(app.query_one("#code-title").content), code_text(app))
        await pilot.press("end")
        seen["end"] = app.current
        await pilot.press("home", "down", "left")          # left on a finding: up to its group
        seen["left"] = app.query_one(FindingsTree).cursor_node.data
        await pilot.press("left")                          # left on an open group folds it
        seen["folded"] = app.query_one(FindingsTree).cursor_node.is_collapsed
    drive(ReportApp(data), script)
    current, meta, code = seen["start"]
    assert current == UNLOCK
    assert "TL102 lock-kind-mismatch" in meta and "released with __spin_unlock()" in meta
    assert "❱ 19" in code and "__spin_unlock(&m->_m_lock);" in code
    assert seen["group"][0] is None and "TL103" in seen["group"][1] and "2 finding(s)" in seen["group"][1]
    assert seen["next"][0] == LOCK_ALL and seen["next"][1] == "primary: thread/mutex.c:31:2"
    assert "❱ 31" in seen["next"][2]
    assert seen["end"] == SPIN
    assert seen["left"] == ("group", "TL102") and seen["folded"]


def test_chain_steps_and_related_locations_show_their_code(data):
    seen = []

    async def script(pilot):
        app = pilot.app
        await pilot.press("down", "down", "tab")            # the TL103 finding with a call chain
        locations = app.query_one(LocationsTree)
        assert app.focused is locations
        labels = []
        for _ in range(6):
            await pilot.press("down")
            node = locations.cursor_node
            labels.append(node.label.plain)
            seen.append((str(app.query_one("#code-title").content), app.shown_location))
        seen.append(labels)
        seen.append(code_text(app))
    drive(ReportApp(data), script)
    titles = [t for t, _ in seen[:6]]
    assert titles == ["primary: thread/mutex.c:31:2",          # 'related (1)' heading: code stays
                      "related: thread/mutex.c:30:2",
                      "related: thread/mutex.c:30:2",          # 'call chain' heading
                      "chain step 1/3: thread/mutex.c:31:2",
                      "chain step 2/3: thread/mutex.c:25:2",
                      "chain step 3/3: thread/mutex.c:14:9"]
    assert seen[5][1] == Location(MUTEX, 14, 9)
    assert seen[6][4].startswith("take_global() calls __pthread_mutex_lock()")
    assert "❱ 14" in seen[7] and "return __pthread_mutex_timedlock(m, 0);" in seen[7]


def test_grouping_and_sorting_toggle(data):
    seen = {}

    async def script(pilot):
        app = pilot.app
        seen["rule"] = groups_shown(app)
        await pilot.press("g")
        seen["file"] = (groups_shown(app), app.query_one(FindingsTree).root.children[0].children[0].label.plain)
        await pilot.press("g")
        seen["config"] = groups_shown(app)
        await pilot.press("g", "o")
        seen["rule/file"] = (app.grouping, app.sort, findings_shown(app))
        seen["topbar"] = str(app.query_one("#topbar").content)
    drive(ReportApp(data), script)
    assert seen["rule"][:3] == [("TL102", 1), ("TL103", 2), ("TL201", 1)]
    groups, first_label = seen["file"]
    assert groups[:2] == [("arch/x86_64/atomic.S", 1), (MUTEX, 4)]     # files with errors first
    assert first_label == "E TL201 :6 cmpxchg without a lock prefix is not atomic on SMP"   # no path: it is the group
    assert seen["config"] == [("aarch64-linux", 6), ("riscv64-linux", 6), ("x86_64-linux", 7)]
    grouping, sort, shown = seen["rule/file"]
    assert (grouping, sort) == ("rule", "file")
    assert shown == [SIGNAL, TLS_GET, UNLOCK, LOCK_ALL, MACRO, FORK, WAIT, CAS, SPIN]
    assert "group:rule sort:file" in seen["topbar"]


def test_filter_box_filters_and_returns_to_the_list(data):
    seen = {}

    async def script(pilot):
        app = pilot.app
        await pilot.press("slash")
        assert app.focused is app.query_one("#filter")
        await pilot.press(*"sev:warning", "enter")          # Enter applies at once
        seen["warnings"] = (findings_shown(app), app.focused, str(app.query_one("#topbar").content))
        await pilot.press("slash", "ctrl+u", *"config:riscv barrier", "escape")
        seen["riscv"] = (findings_shown(app), app.focused)
        await pilot.press("slash", "ctrl+u", *"nothing matches this")
        await pilot.pause(app_module.FILTER_DELAY + 0.2)
        seen["none"] = (findings_shown(app), app.current, meta_text(app))
        await pilot.press("ctrl+u")
        await pilot.pause(app_module.FILTER_DELAY + 0.2)
        seen["all"] = len(findings_shown(app))
    drive(ReportApp(data), script)
    shown, focused, topbar = seen["warnings"]
    assert shown == [SIGNAL, TLS_GET, FORK, WAIT] and isinstance(focused, FindingsTree)
    assert "4/9 shown" in topbar
    assert seen["riscv"][0] == [SIGNAL, TLS_GET] and isinstance(seen["riscv"][1], FindingsTree)
    assert seen["none"][:2] == ([], None) and "No findings match the filter" in seen["none"][2]
    assert seen["all"] == 9


def test_filter_typing_is_debounced(data, monkeypatch):
    monkeypatch.setattr(app_module, "FILTER_DELAY", 0.5)
    app = ReportApp(data)
    calls = []
    seen = {}

    async def script(pilot):
        original = app.apply_filter
        app.apply_filter = lambda text: (calls.append(text), original(text))
        await pilot.press("slash", *"rule:TL103")
        seen["while typing"] = list(calls)
        await pilot.pause(0.8)
        seen["shown"] = findings_shown(app)
    drive(app, script)
    assert seen["while typing"] == []
    assert calls == ["rule:TL103"]                        # one rebuild for ten keystrokes
    assert seen["shown"] == [LOCK_ALL, MACRO]


def test_suppress_action_writes_the_comment_and_follows_the_lines(fx, data):
    seen = {}

    async def script(pilot):
        app = pilot.app
        await pilot.press("s")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"released by owner", "enter")
        await pilot.pause()
        seen["after"] = (type(app.screen), findings_shown(app), app.statuses)
        seen["label"] = app.query_one(FindingsTree).cursor_node.label.plain
        seen["code"] = code_text(app)
        await pilot.press("slash", *"is:open", "enter")
        seen["open"] = findings_shown(app)
    app = drive(ReportApp(data), script)
    lines = (fx / "src" / MUTEX).read_text().splitlines()
    assert lines[18] == "\t/* threadlint: ignore[TL102] released by owner */"
    assert lines[19] == "\t__spin_unlock(&m->_m_lock);"
    screen, _, statuses = seen["after"]
    assert not issubclass(screen, PromptScreen) and statuses == {UNLOCK: frozenset({"suppressed"})}
    assert seen["label"] == "E thread/mutex.c:20 [suppressed] mutex m->_m_lock released with __spin_unlock() but taken with a_cas()"
    # The browser follows the file: later findings and chain steps moved down one line.
    assert app.findings[UNLOCK].location.line == 20
    assert app.findings[LOCK_ALL].location.line == 32
    assert [r.location.line for r in app.findings[LOCK_ALL].chain] == [32, 26, 14]
    assert app.findings[UNLOCK].related[0].location.line == 11
    assert "❱ 20" in seen["code"] and "threadlint: ignore[TL102]" in seen["code"]
    assert UNLOCK not in seen["open"] and len(seen["open"]) == 8


def test_suppress_dialog_requires_a_reason_and_can_be_cancelled(fx, data):
    original = (fx / "src" / MUTEX).read_bytes()
    seen = {}

    async def script(pilot):
        app = pilot.app
        await pilot.press("s", "enter")
        seen["still open"] = isinstance(app.screen, PromptScreen)
        seen["error"] = str(app.screen.query_one("#error").content)
        await pilot.press("escape")
        seen["closed"] = not isinstance(app.screen, PromptScreen)
    drive(ReportApp(data), script)
    assert seen == {"still open": True, "error": "A reason is required.", "closed": True}
    assert (fx / "src" / MUTEX).read_bytes() == original


def test_baseline_action_for_a_finding_and_for_a_group(fx, data):
    from threadlint import baseline
    target = fx / "bl.json"

    async def script(pilot):
        app = pilot.app
        await pilot.press("b")
        answer = app.screen.query_one("#answer")
        assert answer.value == str(target)                 # the path given to the app, editable
        await pilot.press("enter")
        await pilot.press("down", "b", "enter")            # the TL103 group: both its findings
        await pilot.pause()
    app = drive(ReportApp(data, baseline_path=str(target)), script)
    fingerprints = {e["fingerprint"] for e in baseline.load(str(target))}
    assert fingerprints == {data.findings[i].fingerprint for i in (UNLOCK, LOCK_ALL, MACRO)}
    assert {i for i, s in app.statuses.items() if "baselined" in s} == {UNLOCK, LOCK_ALL, MACRO}


def test_baseline_default_path_is_under_the_root(fx, data):
    async def script(pilot):
        await pilot.press("b", "enter")
        await pilot.pause()
    drive(ReportApp(data), script)
    assert (fx / "src" / actions.DEFAULT_BASELINE).exists()


def test_explain_action(data, monkeypatch):
    fake = types.ModuleType("threadlint.registry")
    fake.explain = lambda rule_id: f"# {rule_id} explained\n\nBecause locks.\n"
    monkeypatch.setitem(sys.modules, "threadlint.registry", fake)
    seen = {}

    async def script(pilot):
        app = pilot.app
        await pilot.press("x")
        await pilot.pause()
        seen["screen"] = app.screen
        seen["markdown"] = app.screen.query_one("Markdown").source
        await pilot.press("escape")
        seen["after"] = app.screen
    drive(ReportApp(data), script)
    assert isinstance(seen["screen"], ExplainScreen)
    assert seen["markdown"] == "# TL102 explained\n\nBecause locks.\n"
    assert not isinstance(seen["after"], ExplainScreen)


def test_edit_action_opens_the_shown_location(fx, data, monkeypatch, tmp_path):
    log = tmp_path / "editor.log"
    script_path = tmp_path / "fake_editor.py"
    script_path.write_text("import sys\nopen(sys.argv[1], 'a').write(' '.join(sys.argv[2:]) + '\\n')\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script_path} {log}")

    async def script(pilot):
        await pilot.press("e")
        await pilot.press("down", "down", "tab", "down", "down", "down", "down", "down")  # chain step 2
        await pilot.press("e")
    drive(ReportApp(data), script)
    mutex = fx / "src" / MUTEX
    assert log.read_text().splitlines() == [f"+19 {mutex}", f"+25 {mutex}"]


def test_edit_action_reports_a_missing_editor(data, monkeypatch):
    monkeypatch.setenv("EDITOR", "/nonexistent/editor")
    seen = {}

    async def script(pilot):
        await pilot.press("e")
        await pilot.pause()
        seen["notes"] = [n.message for n in pilot.app._notifications]
    app = drive(ReportApp(data), script)
    assert app.is_running is False
    assert any("cannot run /nonexistent/editor" in m for m in seen["notes"])


def test_help_screen_blocks_actions_and_closes(data, fx):
    original = (fx / "src" / MUTEX).read_bytes()
    seen = {}

    async def script(pilot):
        app = pilot.app
        await pilot.press("question_mark")
        seen["help"] = isinstance(app.screen, HelpScreen)
        await pilot.press("s", "b", "g")                   # keys of the main screen do nothing here
        seen["still help"] = isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        seen["closed"] = not isinstance(app.screen, HelpScreen)
        seen["grouping"] = app.grouping
    drive(ReportApp(data), script)
    assert seen == {"help": True, "still help": True, "closed": True, "grouping": "rule"}
    assert (fx / "src" / MUTEX).read_bytes() == original


@pytest.mark.parametrize("keys", [("q",), ("ctrl+c",), ("slash", "ctrl+c")])
def test_quit_keys(data, keys):
    async def script(pilot):
        await pilot.press(*keys)
        await pilot.pause()
        assert not pilot.app.is_running
    app = drive(ReportApp(data), script)
    assert app.return_value == 0


def test_q_in_the_filter_box_is_text(data):
    async def script(pilot):
        await pilot.press("slash", "q")
        assert pilot.app.is_running and pilot.app.query_one("#filter").value == "q"
    drive(ReportApp(data), script)


def test_zoom_and_layouts(data):
    seen = {}

    async def script(pilot):
        app = pilot.app
        seen["narrow"] = app.screen.has_class("-narrow")
        await pilot.press("down", "down", "z")
        seen["zoomed"] = (app.screen.maximized is app.query_one("#detail"), app.focused)
        seen["zoomed code lines"] = code_text(app).count("\n")
        await pilot.press("escape")
        seen["restored"] = app.screen.maximized is None
    drive(ReportApp(data), script)
    assert seen["narrow"] and seen["restored"]
    assert seen["zoomed"][0] and isinstance(seen["zoomed"][1], LocationsTree)
    assert seen["zoomed code lines"] >= 10                  # the code view grew with the pane

    async def wide(pilot):
        seen["wide"] = pilot.app.screen.has_class("-wide")
        findings = pilot.app.query_one(FindingsTree).region
        detail = pilot.app.query_one("#detail").region
        seen["side by side"] = findings.y == detail.y and findings.right <= detail.x
    drive(ReportApp(data), wide, size=(140, 40))
    assert seen["wide"] and seen["side by side"]


def test_empty_report(tmp_path):
    data = ReportData([], {}, str(tmp_path))

    async def script(pilot):
        await pilot.press("down", "s", "b", "x", "e", "z")     # nothing to act on: no crash
        await pilot.pause()
        assert "No findings in this report" in meta_text(pilot.app)
        assert not isinstance(pilot.app.screen, PromptScreen)
    drive(ReportApp(data), script)


def _many_findings(n: int) -> list[Finding]:
    """n findings spread over the fixture files, rules, severities and configurations."""
    files = [(MUTEX, 46), (COND, 19), (TLS, 11)]
    configs = [("aarch64-linux",), ("riscv64-linux", "x86_64-linux"), ("aarch64-linux", "riscv64-linux", "x86_64-linux")]
    out = []
    for i in range(n):
        path, length = files[i % 3]
        loc = Location(path, 1 + (i * 7) % length, 1)
        out.append(Finding(rule=f"TL1{i % 7:02d}", name=f"rule-{i % 7}", severity=("error", "warning", "note")[i % 3],
                           message=f"finding number {i} about lock_{i % 13}", location=loc, function=f"fn{i % 17}",
                           related=(Related(loc, "here"),), chain=(Related(loc, "a", "fn"), Related(loc, "b", "g")),
                           configs=configs[i % 3], fingerprint=f"{i:032x}"))
    return out


def test_a_large_report_filters_without_lag(data):
    big = ReportData(_many_findings(900), data.rules, data.root, ["aarch64-linux", "riscv64-linux", "x86_64-linux"])
    timings = {}

    async def script(pilot):
        # CPU time of this process, so that other busy processes on the machine do not count.
        app = pilot.app
        for text in ("lock_3", "sev:error", "config:x86 -path:cond", ""):
            start = time.process_time()
            app.apply_filter(text)
            await pilot.pause()                            # includes re-rendering the screen
            timings[text] = (time.process_time() - start, len(findings_shown(app)))
        start = time.process_time()
        await pilot.press("g")
        timings["group"] = time.process_time() - start
        start = time.process_time()
        for _ in range(20):
            await pilot.press("down")
        timings["20 moves"] = time.process_time() - start
    drive(ReportApp(big), script)
    assert timings["lock_3"][1] == len([i for i in range(900) if i % 13 == 3])
    assert timings["sev:error"][1] == 300
    assert timings[""][1] == 900
    # Generous bounds (slow CI machines), well above the 10-70 ms this takes on a laptop.
    slowest = max(t for t, _ in (timings[k] for k in ("lock_3", "sev:error", "config:x86 -path:cond", "")))
    assert slowest < 0.5, timings
    assert timings["group"] < 1.0 and timings["20 moves"] < 2.0, timings


# --- entry points ---------------------------------------------------------------

def test_run_prints_the_static_report_when_stdout_is_not_a_terminal(fx, capsys):
    assert run(str(fx / "report.json")) == 0
    out = capsys.readouterr().out
    assert "threadlint report report.json: 9 finding(s) in 5 file(s)" in out
    assert "configurations: aarch64-linux, riscv64-linux, x86_64-linux" in out
    assert "TL103 sleep-under-spinlock (2)" in out
    assert "error thread/mutex.c:31:2: take_global() may sleep while spinlock big_lock is" in out
    assert "call chain: __lock_all() → take_global() → __pthread_mutex_lock()" in out
    assert "❱ 19         __spin_unlock(&m->_m_lock);" in out
    assert "\x1b[" not in out                               # no escape codes in a pipe
    # Grouped by rule, in rule order.
    assert out.index("TL101 missing-barrier") < out.index("TL102 lock-kind") < out.index("TL202 spin")


def test_run_findings_from_memory(data, capsys):
    from threadlint.result import RuleMeta
    rules = [RuleMeta("TL102", "lock-kind-mismatch", "Summary of TL102", "error", "high")]
    assert run_findings([data.findings[UNLOCK]], rules, data.root) == 0
    out = capsys.readouterr().out
    assert "TL102 lock-kind-mismatch (1)" in out and "Summary of TL102" in out
    assert "configurations: aarch64-linux, riscv64-linux, x86_64-linux" in out


# --- snapshots (SVG, reviewed by hand; update with --snapshot-update) ---------------

def _snap_app(monkeypatch=None, **kw) -> ReportApp:
    return ReportApp(load_report(str(FIXTURES / "report.json")), baseline_path="/tmp/threadlint-baseline.json",
                     **kw)


def test_snapshot_main_80x24(snap_compare):
    assert snap_compare(_snap_app(), terminal_size=(80, 24))


def test_snapshot_call_chain_step_80x24(snap_compare):
    assert snap_compare(_snap_app(), press=["down", "down", "tab", "down", "down", "down", "down", "down"],
                        terminal_size=(80, 24))


def test_snapshot_grouped_by_file_and_filtered_80x24(snap_compare):
    assert snap_compare(_snap_app(), press=["g", "slash", *"-sev:note", "enter"], terminal_size=(80, 24))


def test_snapshot_help_80x24(snap_compare):
    assert snap_compare(_snap_app(), press=["question_mark"], terminal_size=(80, 24))


def test_snapshot_suppress_dialog_80x24(snap_compare):
    assert snap_compare(_snap_app(), press=["s", *"owner releases it"], terminal_size=(80, 24))


def test_snapshot_wide_140x40(snap_compare):
    assert snap_compare(_snap_app(), press=["down", "down"], terminal_size=(140, 40))
