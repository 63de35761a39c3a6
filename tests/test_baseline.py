"""Baselines: fingerprint matching, stable file, stale entries, shrink-only updates, CLI flags."""
import json

import pytest

from harness import write_databases
from threadlint import baseline
from threadlint.cli import main
from threadlint.finding import Finding, Location


def finding(fp, path="a.c", rule="TL102", function="f", line=1):
    return Finding(rule=rule, name="x", severity="warning", message=f"msg {fp}",
                   location=Location(path, line), function=function, fingerprint=fp)


# -- the module -----------------------------------------------------------------------------

def test_dump_is_stable_sorted_and_deduplicated(tmp_path):
    p1, p2 = tmp_path / "1.json", tmp_path / "2.json"
    fs = [finding("f3", "b.c"), finding("f1", "a.c", "TL104"), finding("f2", "a.c", "TL102"),
          finding("f2", "a.c", "TL102")]
    baseline.dump(str(p1), [baseline.entry(f) for f in fs])
    baseline.dump(str(p2), [baseline.entry(f) for f in reversed(fs)])
    assert p1.read_bytes() == p2.read_bytes()
    doc = json.loads(p1.read_text())
    assert [e["fingerprint"] for e in doc["entries"]] == ["f2", "f1", "f3"]   # path, rule, ...
    assert doc["threadlint_baseline"] == baseline.BASELINE_VERSION
    assert set(doc["entries"][0]) == {"fingerprint", "rule", "path", "function", "message"}
    text = p1.read_text()
    assert text.endswith("}\n") and '\n    {\n      "fingerprint": "f2",\n' in text
    assert all("line" not in key for e in doc["entries"] for key in e)


def test_apply_splits_new_and_stale():
    entries = [baseline.entry(finding("old")), baseline.entry(finding("gone"))]
    new, stale = baseline.apply([finding("old", line=40), finding("fresh")], entries)
    assert [f.fingerprint for f in new] == ["fresh"]
    assert [e["fingerprint"] for e in stale] == ["gone"]


def test_update_only_removes_unless_asked(tmp_path):
    p = str(tmp_path / "b.json")
    baseline.dump(p, [baseline.entry(finding("keep")), baseline.entry(finding("gone"))])
    kept = baseline.update(p, [finding("keep"), finding("brand-new")])
    assert [e["fingerprint"] for e in kept] == ["keep"]
    assert [e["fingerprint"] for e in baseline.load(p)] == ["keep"]
    baseline.update(p, [finding("keep"), finding("brand-new")], prune_only=False)
    assert sorted(e["fingerprint"] for e in baseline.load(p)) == ["brand-new", "keep"]


def test_add_creates_and_appends(tmp_path):
    p = str(tmp_path / "new.json")
    baseline.add(p, [finding("one")])
    baseline.add(p, [finding("two"), finding("one")])
    assert sorted(e["fingerprint"] for e in baseline.load(p)) == ["one", "two"]
    with pytest.raises(baseline.BaselineError):
        baseline.add(str(tmp_path / "missing.json"), [finding("x")], create=False)


@pytest.mark.parametrize("content, message", [
    (None, "baseline file not found"),
    ("{not json", "unreadable baseline"),
    ('{"entries": {}}', "missing 'entries' list"),
    ('{"entries": [{"rule": "TL1"}]}', "entry 0 has no 'fingerprint'"),
    ('{"threadlint_baseline": 99, "entries": []}', "newer than this threadlint"),
])
def test_load_errors(tmp_path, content, message):
    p = tmp_path / "b.json"
    if content is not None:
        p.write_text(content)
    with pytest.raises(baseline.BaselineError, match=message):
        baseline.load(str(p))


# -- through the CLI ------------------------------------------------------------------------

def tree(tmp_path, files):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for name, text in files.items():
        (src / name).write_text(text)
    specs = write_databases(str(src), str(tmp_path / "builds"))
    return src, ["check", str(src), *[a for s in specs for a in ("-p", s)], "--profile", "wasi-libc",
                 "-j", "1", "--cache-dir", str(tmp_path / "cache"), "--select", "TL002"]


def report(capsys):
    return json.loads(capsys.readouterr().out)


A = "int a(void) {\n    return undeclared_a;\n}\n"
B = "int b(void) {\n    return undeclared_b;\n}\n"


def test_write_then_check_against_baseline(tmp_path, capsys):
    src, argv = tree(tmp_path, {"a.c": A, "b.c": B})
    bl = tmp_path / "bl.json"
    assert main(argv + ["--format", "json", "--write-baseline", str(bl)]) == 0
    assert report(capsys)["findings"] == []
    assert len(baseline.load(str(bl))) == 2
    first = bl.read_bytes()

    # unrelated lines added above a baselined finding: still matched (no line numbers)
    (src / "a.c").write_text("/* a comment */\n\n" + A)
    assert main(argv + ["--format", "json", "--baseline", str(bl)]) == 0
    doc = report(capsys)
    assert doc["findings"] == [] and doc["stale_baseline"] == []

    # a new finding is reported; the old ones are not
    (src / "c.c").write_text("int c(void) { return undeclared_c; }\n")
    argv2 = tree(tmp_path, {})[1]
    assert main(argv2 + ["--format", "json", "--baseline", str(bl)]) == 1
    assert [f["location"]["path"] for f in report(capsys)["findings"]] == ["c.c"]

    # writing again is byte-identical for the same findings
    (src / "c.c").unlink()
    (src / "a.c").write_text(A)                    # (TL002's message quotes line numbers)
    argv3 = tree(tmp_path, {})[1]
    assert main(argv3 + ["--format", "json", "--write-baseline", str(tmp_path / "again.json")]) == 0
    capsys.readouterr()
    assert (tmp_path / "again.json").read_bytes() == first


def test_stale_entries_are_listed_and_pruned_only_on_request(tmp_path, capsys):
    src, argv = tree(tmp_path, {"a.c": A, "b.c": B})
    bl = tmp_path / "bl.json"
    assert main(argv + ["--format", "json", "--write-baseline", str(bl)]) == 0
    capsys.readouterr()
    (src / "b.c").write_text("int b(void) { return 0; }\n")          # fixed
    assert main(argv + ["--format", "json", "--baseline", str(bl)]) == 0
    doc = report(capsys)
    assert [e["path"] for e in doc["stale_baseline"]] == ["b.c"]
    assert len(baseline.load(str(bl))) == 2                            # untouched
    assert main(argv + ["--baseline", str(bl)]) == 0
    assert "1 baseline entry no longer match" in capsys.readouterr().out

    (src / "d.c").write_text("int d(void) { return undeclared_d; }\n")  # new, must not be added
    argv = tree(tmp_path, {})[1]
    assert main(argv + ["--baseline", str(bl), "--update-baseline"]) == 1
    assert "removed 1 stale entry" in capsys.readouterr().out
    assert [e["path"] for e in baseline.load(str(bl))] == ["a.c"]


def test_baseline_from_configuration_file(tmp_path, capsys):
    src, argv = tree(tmp_path, {"a.c": A})
    (src / "threadlint.toml").write_text('baseline = "tl-baseline.json"\n')
    assert main(argv) == 2
    assert "tl-baseline.json: baseline file not found" in capsys.readouterr().err
    assert main(argv + ["--write-baseline", str(src / "tl-baseline.json")]) == 0
    assert main(argv) == 0                          # found relative to the configuration file
    capsys.readouterr()


@pytest.mark.parametrize("extra, message", [
    (["--update-baseline"], "--update-baseline needs --baseline"),
    (["--baseline", "nope.json"], "nope.json: baseline file not found"),
    (["--write-baseline", "x.json", "--update-baseline"], "cannot be combined"),
])
def test_usage_errors_exit_2_before_analysis(tmp_path, capsys, extra, message):
    _, argv = tree(tmp_path, {"a.c": A})
    assert main(argv + extra) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "cache").exists()         # failed before parsing anything
