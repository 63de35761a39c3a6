"""Compile database loading: validation errors and argument sanitising."""
import json
import os

import pytest

from threadlint import compdb
from threadlint.errors import UsageError


def write_db(path, entries, raw=None):
    path.write_text(raw if raw is not None else json.dumps(entries), encoding="utf-8")
    return str(path)


def entry(tmp_path, *args, file="a.c", command=None):
    e = {"directory": str(tmp_path), "file": file}
    if command is not None:
        e["command"] = command
    else:
        e["arguments"] = ["clang", *args, "-c", file]
    return e


# -- validation --------------------------------------------------------------

@pytest.mark.parametrize("raw, message", [
    ("[{", "invalid JSON in compile database"),
    ('{"directory": "/"}', "must be a JSON array"),
    ('[1]', "entry 0: not an object"),
    ('[{"directory": "/x", "arguments": ["cc"]}]', "entry 0: missing or empty 'file'"),
    ('[{"file": "a.c", "arguments": ["cc"]}]', "entry 0: missing or empty 'directory'"),
    ('[{"directory": "rel", "file": "a.c", "arguments": ["cc"]}]', "'directory' must be an absolute path"),
    ('[{"directory": "/x", "file": "a.c"}]', "needs 'arguments'"),
    ('[{"directory": "/x", "file": "a.c", "arguments": ["cc", 1]}]', "'arguments' must be a list of strings"),
    ('[{"directory": "/x", "file": "a.c", "command": "cc \\"a.c"}]', "cannot split 'command'"),
    ('[{"directory": "/x", "file": "a.c", "file": "b.c", "arguments": []}]', "key 'file' given twice"),
    ('[{"directory": "/x", "file": "a\\u0000.c", "arguments": []}]', "'file' contains a NUL"),
    ('[{"directory": "/x", "file": "a.c", "arguments": ["cc", "-DX=\\ud800"]}]', "argument 1 is not valid Unicode"),
    ("[" * 100000 + "]" * 100000, "nests too deeply"),
])
def test_invalid_database_is_one_clear_error(tmp_path, raw, message):
    db = write_db(tmp_path / "compile_commands.json", None, raw)
    with pytest.raises(UsageError) as exc:
        compdb.load(db)
    text = str(exc.value)
    assert message in text
    assert text.startswith(db) and "\n" not in text


def test_not_utf8_and_missing(tmp_path):
    db = tmp_path / "compile_commands.json"
    db.write_bytes(b'[{"directory": "/\xff", "file": "a.c", "arguments": []}]')
    with pytest.raises(UsageError, match="not UTF-8"):
        compdb.load(str(db))
    with pytest.raises(UsageError, match="cannot read compile database"):
        compdb.load(str(tmp_path / "nope.json"))


def test_command_string_is_split_not_run(tmp_path):
    marker = tmp_path / "ran"
    cmd = f"clang -DA='x y' $(touch {marker}) `touch {marker}` ; touch {marker} -c a.c"
    (e,) = compdb.load(write_db(tmp_path / "db.json", [entry(tmp_path, command=cmd)]))
    assert e.args == ("-DA=x y",)
    assert "$(touch" in e.dropped and ";" in e.dropped
    assert not marker.exists()


def test_relative_paths_resolved_against_directory(tmp_path):
    (e,) = compdb.load(write_db(tmp_path / "db.json", [
        entry(tmp_path, "-Iinc", "-I", "inc2", "-isystem", "sys", "--sysroot=root", file="src/a.c")]))
    d = str(tmp_path)
    assert e.file == os.path.join(d, "src", "a.c")
    assert e.args == (f"-I{d}/inc", "-I", f"{d}/inc2", "-isystem", f"{d}/sys", f"--sysroot={d}/root")


# -- sanitising ---------------------------------------------------------------

DANGEROUS = [
    ["-fplugin=/x/evil.so"], ["--fplugin=/x/evil.so"], ["-fpass-plugin=/x/evil.so"],
    ["-fplugin-arg-evil-x"], ["-Xclang", "-load"], ["-Xclang", "/x/evil.so"],
    ["-Xclang=-load"], ["-Xarch_device", "-fplugin=/x/evil.so"], ["-Xopenmp-target", "-fplugin=/x/e.so"],
    ["-Xlinker", "--wrap"], ["-mllvm", "-load=/x/evil.so"], ["-load", "/x/evil.so"],
    ["-o", "/x/out.o"], ["-o/x/out.o"], ["--output=/x/out.o"], ["--output", "/x/out.o"],
    ["-MD"], ["-MMD"], ["-MF", "/x/dep.d"], ["-MF/x/dep.d"], ["-MJ", "/x/j.json"],
    ["--write-dependencies"], ["-ftime-trace"], ["-ftime-trace=/x/t.json"], ["-save-temps"],
    ["-save-temps=obj"], ["-save-stats=cwd"], ["--serialize-diagnostics", "/x/d.dia"],
    ["--config", "/x/evil.cfg"], ["--config=/x/evil.cfg"], ["--driver-mode=cl"],
    ["-B/x/bin"], ["-ccc-install-dir", "/x"], ["-fmodules"], ["-fmodules-cache-path=/x"],
    ["-include-pch", "/x/p.pch"], ["-fcrash-diagnostics-dir=/x"], ["-Wl,-rpath,/x"],
    ["-Wp,-MD,/x/dep.d"], ["-cc1"], ["-fno-integrated-cc1"], ["-fproc-stat-report=/x/r"],
]


@pytest.mark.parametrize("flags", DANGEROUS, ids=lambda f: " ".join(f))
def test_dangerous_arguments_dropped(flags):
    args, dropped = compdb.sanitize(["-DKEEP", *flags, "-DKEEP2", "a.c"], "/w", "/w/a.c")
    assert args == ["-DKEEP", "-DKEEP2"]
    assert flags[0] in dropped


def test_values_never_smuggle_options():
    # '-I' would hand the next argument to libclang unexamined: a value that
    # looks like an option is classified on its own instead.
    args, dropped = compdb.sanitize(["-I", "-fplugin=/x/e.so", "-D", "-Xclang", "-load",
                                     "-target", "@/etc/passwd", "-I"], "/w", "/w/a.c")
    assert args == []
    assert "-fplugin=/x/e.so" in dropped and "-load" in dropped and "@/etc/passwd" in dropped


def test_parsing_flags_kept():
    argv = ["--target=wasm32-wasip3", "-O3", "-DNDEBUG", "-pthread", "-mthread-model", "posix",
            "-ftls-model=local-exec", "-std=c11", "-Wall", "-Wno-unused", "-fPIC", "-x", "c",
            "-include", "pre.h", "-U", "X", "-matomics"]
    args, dropped = compdb.sanitize(argv, "/w", "/w/a.c")
    assert dropped == []
    assert args == [a if a != "pre.h" else "/w/pre.h" for a in argv]


def test_response_files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.rsp").write_text("-DFROM_RSP -fplugin=/x/evil.so @nested.rsp -o out.o", encoding="utf-8")
    outside = tmp_path / "outside.rsp"
    outside.write_text("-DOUTSIDE", encoding="utf-8")
    big = src / "big.rsp"
    big.write_text("-DX " * (compdb._RSP_MAX // 3), encoding="utf-8")
    fifo = src / "fifo.rsp"
    os.mkfifo(fifo)                      # reading would block forever: must be skipped
    d = str(src)
    args, dropped = compdb.sanitize(["@ok.rsp", f"@{outside}", "@big.rsp", "@fifo.rsp", "@missing.rsp"],
                                    d, f"{d}/a.c", root=d)
    assert args == ["-DFROM_RSP"]
    assert {"-fplugin=/x/evil.so", "@nested.rsp", "-o", f"@{outside}", "@big.rsp",
            "@fifo.rsp"} <= set(dropped)
    # the entry's 'directory' alone does not make a place trusted
    args, _ = compdb.sanitize([f"@{outside}"], str(tmp_path), f"{d}/a.c", root=d)
    assert args == []
    # the database's own directory does (CMake writes response files there)
    args, _ = compdb.sanitize([f"@{outside}"], str(tmp_path), f"{d}/a.c", root=d, db_dir=str(tmp_path))
    assert args == ["-DOUTSIDE"]


def test_response_file_symlink_out_of_tree(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (tmp_path / "evil.rsp").write_text("-DEVIL", encoding="utf-8")
    (src / "link.rsp").symlink_to(tmp_path / "evil.rsp")
    args, dropped = compdb.sanitize(["@link.rsp"], str(src), f"{src}/a.c", root=str(src))
    assert args == [] and dropped == ["@link.rsp"]


def test_entries_stay_one_per_database_entry(tmp_path):
    e = entry(tmp_path, "-DX")
    entries = compdb.load(write_db(tmp_path / "db.json", [e, e]))
    assert len(entries) == 2 and entries[0] == entries[1]


# -- memo --------------------------------------------------------------------

def test_memoised_load_equals_load_and_follows_the_database(tmp_path, monkeypatch):
    memo = tmp_path / "memo"
    db = write_db(tmp_path / "cc.json", [entry(tmp_path, "-Iinc", "-DX=1", "-o", "a.o"),
                                         entry(tmp_path, "-O2", file="b.c")])
    direct = compdb.load(db, str(tmp_path))
    assert compdb.load_memoised(db, str(tmp_path), str(memo)) == direct
    assert len(list((memo / "compdb").iterdir())) == 1
    parsed = []
    real = compdb._parse_database
    monkeypatch.setattr(compdb, "_parse_database", lambda *a: parsed.append(1) or real(*a))
    assert compdb.load_memoised(db, str(tmp_path), str(memo)) == direct
    assert parsed == []                                     # from the memo
    write_db(tmp_path / "cc.json", [entry(tmp_path, "-DX=2")])
    changed = compdb.load_memoised(db, str(tmp_path), str(memo))
    assert parsed == [1]
    assert changed == compdb.load(db, str(tmp_path)) and "-DX=2" in changed[0].args
    parsed.clear()
    # a damaged memo is parsed again
    for f in (memo / "compdb").iterdir():
        f.write_bytes(b"garbage")
    assert compdb.load_memoised(db, str(tmp_path), str(memo)) == changed and parsed == [1]


def test_databases_with_response_files_are_not_memoised(tmp_path):
    (tmp_path / "flags.rsp").write_text("-DFROM_RSP=1")
    db = write_db(tmp_path / "cc.json", [entry(tmp_path, "@flags.rsp")])
    first = compdb.load_memoised(db, str(tmp_path), str(tmp_path / "memo"))
    assert "-DFROM_RSP=1" in first[0].args
    assert not (tmp_path / "memo" / "compdb").exists()
    (tmp_path / "flags.rsp").write_text("-DFROM_RSP=2")
    assert "-DFROM_RSP=2" in compdb.load_memoised(db, str(tmp_path), str(tmp_path / "memo"))[0].args


def test_invalid_database_is_an_error_through_the_memo_too(tmp_path):
    db = write_db(tmp_path / "cc.json", None, raw="[{")
    with pytest.raises(UsageError, match="invalid JSON"):
        compdb.load_memoised(db, None, str(tmp_path / "memo"))
