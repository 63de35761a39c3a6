"""The run memo: a run whose inputs are all unchanged reuses the previous result;
any change to anything the run read (or to the tree, the settings, the profile)
runs the analysis again."""
import glob
import json
import os
import shutil

import pytest

from harness import write_databases
from threadlint import engine
from threadlint.cli import main

OLD_NS = 1_500_000_000 * 10**9          # far in the past: never a racy stat

TREE = {
    "ok.c": '#include "common.h"\nint ok(void) { return COMMON; }\n',
    "broken.c": '#include "common.h"\nint broken(void) { return undeclared_b + COMMON; }\n',
    "start.s": '#include "asm.h"\n.globl start\nstart:\n  end_function\n',
}


def _age(path, ns=OLD_NS):
    os.utime(path, ns=(ns, ns))


def make_tree(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name, text in TREE.items():
        (src / name).write_text(text)
    outside = tmp_path / "inc"                      # an include dir outside the source root
    outside.mkdir()
    (outside / "common.h").write_text("#define COMMON 1\n")
    (outside / "asm.h").write_text("#define ASM_H 1\n")
    specs = write_databases(str(src), str(tmp_path / "builds"))
    for spec in specs:                              # add the outside include dir
        db = spec.split("=", 1)[1] + "/compile_commands.json"
        entries = json.load(open(db))
        for e in entries:
            e["arguments"][1:1] = ["-I", str(outside)]
        json.dump(entries, open(db, "w"))
    for path in glob.glob(str(tmp_path / "**"), recursive=True):
        _age(path)
    argv = ["check", str(src), *[a for s in specs for a in ("-p", s)], "--profile", "wasi-libc",
            "-j", "1", "--format", "json", "--cache-dir", str(tmp_path / "cache")]
    return src, outside, argv


@pytest.fixture
def engine_runs(monkeypatch):
    calls = []
    real = engine.run

    def counting(opts):
        calls.append(opts)
        return real(opts)

    monkeypatch.setattr(engine, "run", counting)
    return calls


def run(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr().out


def memo_files(tmp_path):
    return glob.glob(str(tmp_path / "cache" / "runs" / "*.json"))


def test_unchanged_inputs_reuse_the_result(tmp_path, capsys, engine_runs):
    src, outside, argv = make_tree(tmp_path)
    first = run(argv, capsys)
    assert first[0] == 1 and len(engine_runs) == 1
    assert json.loads(first[1])["findings"]
    assert len(memo_files(tmp_path)) == 1
    second = run(argv, capsys)
    assert len(engine_runs) == 1                    # the analysis did not run again
    assert second == first                          # byte-identical report, same exit code
    text = main(argv[:-4] + ["--format", "text", "--cache-dir", str(tmp_path / "cache")])
    assert text == 1 and len(engine_runs) == 1
    assert "broken.c" in capsys.readouterr().out


def _edit(path, text, ns=OLD_NS + 10**9):
    with open(path, "a") as fh:
        fh.write(text)
    _age(path, ns)


CHANGES = {
    # what changes -> how (all with old, non-racy mtimes)
    "header-outside-root": lambda src, out, argv: _edit(out / "common.h", "int x;\n"),
    "asm-include-outside-root": lambda src, out, argv: _edit(out / "asm.h", "#define Y 2\n"),
    "source": lambda src, out, argv: _edit(src / "ok.c", "int more(void) { return 2; }\n"),
    "new-file-in-tree": lambda src, out, argv: _edit(src / "notes.txt", "x\n"),
    "removed-file": lambda src, out, argv: os.remove(src / "broken.c"),
    "database": lambda src, out, argv: _edit(argv[3].split("=", 1)[1] + "/compile_commands.json",
                                             "\n"),
    "select": lambda src, out, argv: argv.extend(["--select", "TL002"]),
    "config-file": lambda src, out, argv: _edit(src / "threadlint.toml", 'ignore = ["TL701"]\n'),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_any_change_runs_the_analysis_again(tmp_path, capsys, engine_runs, change):
    src, outside, argv = make_tree(tmp_path)
    run(argv, capsys)
    CHANGES[change](src, outside, argv)
    if change == "removed-file":                    # the database must not list it any more
        for spec in argv:
            if "=" in spec:
                db = spec.split("=", 1)[1] + "/compile_commands.json"
                entries = [e for e in json.load(open(db)) if not e["file"].endswith("broken.c")]
                json.dump(entries, open(db, "w"))
                _age(db, OLD_NS + 10**9)
    changed = run(argv, capsys)
    assert len(engine_runs) == 2, change
    # the new result is memoised in turn
    assert run(argv, capsys) == changed and len(engine_runs) == 2


def test_profile_content_is_part_of_the_key(tmp_path, capsys, engine_runs):
    src, outside, argv = make_tree(tmp_path)
    from threadlint import profile as profile_mod
    custom = tmp_path / "port.toml"
    shutil.copy(os.path.join(profile_mod.builtin_dir(), "wasi-libc.toml"), custom)
    _age(custom)
    argv[argv.index("--profile") + 1] = str(custom)
    run(argv, capsys)
    run(argv, capsys)
    assert len(engine_runs) == 1
    _edit(custom, "\n# a comment\n")
    run(argv, capsys)
    assert len(engine_runs) == 2


def test_same_content_new_mtime_misses_then_hits(tmp_path, capsys, engine_runs):
    src, outside, argv = make_tree(tmp_path)
    first = run(argv, capsys)
    _age(src / "ok.c", OLD_NS + 5 * 10**9)          # touch: stat differs, content does not
    assert run(argv, capsys) == first and len(engine_runs) == 2
    assert run(argv, capsys) == first and len(engine_runs) == 2


def test_racy_inputs_are_not_trusted(tmp_path, capsys, engine_runs):
    src, outside, argv = make_tree(tmp_path)
    (src / "ok.c").write_text(TREE["ok.c"])         # mtime now: within the racy window
    run(argv, capsys)
    run(argv, capsys)
    assert len(engine_runs) == 2                    # recorded as untrusted: not reused


@pytest.mark.parametrize("damage", [b"", b"garbage", None])
def test_corrupt_memo_is_a_miss_and_is_rewritten(tmp_path, capsys, engine_runs, damage):
    src, outside, argv = make_tree(tmp_path)
    first = run(argv, capsys)
    (path,) = memo_files(tmp_path)
    raw = open(path, "rb").read()
    open(path, "wb").write(raw[:len(raw) // 2] if damage is None else damage)
    assert run(argv, capsys) == first and len(engine_runs) == 2
    assert run(argv, capsys) == first and len(engine_runs) == 2


def test_incomplete_runs_and_no_cache_are_not_memoised(tmp_path, capsys, monkeypatch):
    src, outside, argv = make_tree(tmp_path)
    run(argv + ["--no-cache"], capsys)
    assert memo_files(tmp_path) == []
    real = engine.run

    def crashed(opts):
        result = real(opts)
        result.complete = False                     # as when a TU's worker crashed
        return result

    monkeypatch.setattr(engine, "run", crashed)
    run(argv, capsys)
    assert memo_files(tmp_path) == []


def test_filters_apply_on_a_memo_hit(tmp_path, capsys, engine_runs):
    """Suppressions and the baseline are applied after the memo, on every run."""
    src, outside, argv = make_tree(tmp_path)
    code, out = run(argv, capsys)
    baseline = tmp_path / "baseline.json"
    assert main(argv + ["--write-baseline", str(baseline)]) == 0     # all now baselined
    capsys.readouterr()
    assert len(engine_runs) == 1
    code, out = run(argv + ["--baseline", str(baseline)], capsys)
    assert code == 0 and json.loads(out)["findings"] == []
    assert len(engine_runs) == 1


@pytest.mark.parametrize("skipped_dir", ["build-gen", ".git"])
def test_a_header_under_root_but_outside_the_tree_listing_is_an_input(tmp_path, capsys, engine_runs,
                                                                       skipped_dir):
    # Build directories with a compile database (generated headers live
    # there) and VCS directories are left out of the tree listing; a header
    # the run read from one is still an input whose change must miss.
    src, outside, argv = make_tree(tmp_path)
    gen = src / skipped_dir
    gen.mkdir()
    (gen / "compile_commands.json").write_text("[]\n")
    (gen / "gen.h").write_text("#define GEN 1\n")
    (src / "ok.c").write_text('#include "common.h"\n#include "gen.h"\nint ok(void) { return COMMON + GEN; }\n')
    for spec in argv:
        if "=" in spec:
            db = spec.split("=", 1)[1] + "/compile_commands.json"
            entries = json.load(open(db))
            for e in entries:
                e["arguments"][1:1] = ["-I", str(gen)]
            json.dump(entries, open(db, "w"))
    for path in glob.glob(str(tmp_path / "**"), recursive=True, include_hidden=True):
        _age(path)
    first = run(argv, capsys)
    assert json.loads(first[1])["configs"] and len(engine_runs) == 1
    assert run(argv, capsys) == first and len(engine_runs) == 1
    _edit(gen / "gen.h", "#define MORE 2\n")
    run(argv, capsys)
    assert len(engine_runs) == 2


def test_a_memo_hit_judges_suppressions_reading_only_the_files_that_mention_threadlint(
        tmp_path, capsys, engine_runs, monkeypatch):
    src, outside, argv = make_tree(tmp_path)
    (src / "quiet.c").write_text("/* threadlint: ignore[TL102] nothing here to silence */\n"
                                 "int quiet(void) { return 0; }\n")
    for spec in argv:
        if "=" in spec:
            db = spec.split("=", 1)[1] + "/compile_commands.json"
            entries = json.load(open(db))
            entries.append(dict(entries[0], file=str(src / "quiet.c"),
                                arguments=[a if not a.endswith("ok.c") else str(src / "quiet.c")
                                           for a in entries[0]["arguments"]]))
            json.dump(entries, open(db, "w"))
    for path in glob.glob(str(tmp_path / "**"), recursive=True):
        _age(path)
    first = run(argv, capsys)
    unused = [f for f in json.loads(first[1])["findings"] if f["rule"] == "TL001"]
    assert [f["location"]["path"] for f in unused] == ["quiet.c"]

    from threadlint import suppress
    opened = []
    real_read = suppress._read
    monkeypatch.setattr(suppress, "_read", lambda path: opened.append(os.path.basename(path)) or real_read(path))
    assert run(argv, capsys) == first and len(engine_runs) == 1     # a memo hit, same TL001
    findings_files = {f["location"]["path"] for f in json.loads(first[1])["findings"]}
    assert set(opened) <= {"quiet.c"} | findings_files
    assert "quiet.c" in opened and "start.s" not in opened
