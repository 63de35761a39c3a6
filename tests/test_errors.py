"""Bad input gets one clear line and exit 2; parse errors are findings, not failures."""
import builtins
import json
import os
import shutil
import subprocess
import sys

import pytest

from threadlint.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_tree(tmp_path, files, args=("--target=wasm32-wasip3",)):
    """root/ with the given files, and build/compile_commands.json listing the .c ones."""
    root = tmp_path / "root"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text if isinstance(text, bytes) else text.encode())
    root.mkdir(exist_ok=True)
    build = tmp_path / "build"
    build.mkdir()
    db = [{"directory": str(root), "file": rel, "arguments": ["clang", *args, "-c", rel]}
          for rel in sorted(files) if rel.endswith(".c")]
    (build / "compile_commands.json").write_text(json.dumps(db), encoding="utf-8")
    return str(root), str(build / "compile_commands.json")


def check(capsys, root, *extra, db=None):
    argv = ["check", root, "--profile", "wasi-libc", "--no-cache", "-q", *extra]
    if db:
        argv += ["-p", db]
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, *needles):
    assert rc == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("threadlint: error: ")
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


GOOD = {"src/a.c": "int a(void) { return 0; }\n"}


# -- compile database ------------------------------------------------------------

def test_missing_database(tmp_path, capsys):
    root, _ = make_tree(tmp_path, GOOD)
    rc, _, err = check(capsys, root, db=str(tmp_path / "nowhere"))
    assert_one_line_error(rc, err, "nowhere", "no such file")


@pytest.mark.parametrize("content, needle", [
    ("not json", "invalid JSON"),
    ('[{"directory": "relative", "file": "a.c", "arguments": ["cc"]}]', "entry 0: 'directory' must be an absolute path"),
    ('[{"directory": "/tmp", "arguments": ["cc"]}]', "entry 0: missing or empty 'file'"),
    ('[{"directory": "/tmp", "file": "a.c", "file": "b.c", "command": "cc"}]', "given twice"),
    ('[{"directory": "/tmp", "file": "x\\ny.c", "file": "z.c", "command": "cc"}]', "given twice"),
])
def test_invalid_database(tmp_path, capsys, content, needle):
    root, db = make_tree(tmp_path, GOOD)
    with open(db, "w", encoding="utf-8") as fh:
        fh.write(content)
    rc, _, err = check(capsys, root, db=db)
    assert_one_line_error(rc, err, db, needle)


def test_entry_for_missing_file(tmp_path, capsys):
    root, db = make_tree(tmp_path, GOOD)
    os.unlink(os.path.join(root, "src/a.c"))
    rc, _, err = check(capsys, root, db=db)
    assert_one_line_error(rc, err, db, "listed source does not exist", "src/a.c")


def test_newline_in_a_path_stays_on_one_line(tmp_path, capsys):
    root, db = make_tree(tmp_path, GOOD)
    with open(db, "w", encoding="utf-8") as fh:
        json.dump([{"directory": root, "file": "evil\nthreadlint: all good.c", "arguments": ["cc"]}], fh)
    rc, _, err = check(capsys, root, db=db)
    assert_one_line_error(rc, err, "evil\\nthreadlint: all good.c")


def test_source_is_a_directory_or_fifo(tmp_path, capsys):
    root, db = make_tree(tmp_path, {"src/a.c": "int a;\n", "src/b.c": "int b;\n"})
    os.unlink(os.path.join(root, "src/a.c"))
    os.mkdir(os.path.join(root, "src/a.c"))
    rc, _, err = check(capsys, root, db=db)
    assert_one_line_error(rc, err, "not a regular file", "src/a.c")
    os.rmdir(os.path.join(root, "src/a.c"))
    os.mkfifo(os.path.join(root, "src/a.c"))        # opening it would block the run
    rc, _, err = check(capsys, root, db=db)
    assert_one_line_error(rc, err, "not a regular file", "src/a.c")


def test_unreadable_source(tmp_path, capsys, monkeypatch):
    root, db = make_tree(tmp_path, GOOD)
    victim = os.path.join(root, "src/a.c")
    real_open = builtins.open

    def guarded(file, *a, **k):       # root ignores file modes: simulate EACCES
        if file == victim:
            raise PermissionError(13, "Permission denied", file)
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", guarded)
    rc, _, err = check(capsys, root, db=db)
    assert_one_line_error(rc, err, "src/a.c", "not readable", "Permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_source_by_mode(tmp_path, capsys):
    root, db = make_tree(tmp_path, GOOD)
    os.chmod(os.path.join(root, "src/a.c"), 0)
    rc, _, err = check(capsys, root, db=db)
    assert_one_line_error(rc, err, "src/a.c", "not readable")


# -- configuration and profile ----------------------------------------------------

@pytest.mark.parametrize("name, text, needles", [
    ("threadlint.toml", 'profile = "wasi-libc"\nbogus = 1\n', ["threadlint.toml", "unknown key 'bogus'"]),
    ("threadlint.toml", 'profile = "wasi-libc"\njobs = "two"\n', ["threadlint.toml", "'jobs' must be an integer"]),
    ("threadlint.toml", 'profile = "wasi-libc"\ntimeout = true\n', ["'timeout' must be"]),
    ("threadlint.toml", 'profile = "wasi-libc"\ntimeout = -1\n', ["'timeout' must be a positive"]),
    ("threadlint.toml", 'profile = "wasi-libc"\njobs = 0\n', ["'jobs' must be at least 1"]),
    ("threadlint.toml", '[fallback]\ntarget = "x"\nincludes = []\n', ["unknown key 'fallback.includes'"]),
    ("threadlint.toml", 'profile = "wasi-libc\n', ["threadlint.toml", "invalid TOML"]),
    ("pyproject.toml", '[tool.threadlint]\nselect = "TL002"\n', ["pyproject.toml", "'tool.threadlint.select' must be a list"]),
])
def test_invalid_configuration(tmp_path, capsys, name, text, needles):
    root, db = make_tree(tmp_path, GOOD)
    with open(os.path.join(root, name), "w", encoding="utf-8") as fh:
        fh.write(text)
    rc = main(["check", root, "-p", db, "--no-cache", "-q"])
    _, err = capsys.readouterr()
    assert_one_line_error(rc, err, *needles)


@pytest.mark.parametrize("text, needles", [
    ('[profile]\nname = "x"\n[nonsense]\nkey = 1\n', ["unknown key 'nonsense'"]),
    ('[profile]\nname = 3\n', ["'profile.name' must be a string"]),
    ('[callgraph]\nalias_macros = ["weak_alias"]\n', ["'callgraph.alias_macros' must be a table"]),
    ('[[frontend.predefine]]\ntarget = "wasm32"\nmacro = "X"\nclang_min = "22"\n',
     ["'frontend.predefine[0].clang_min' must be an integer"]),
])
def test_invalid_profile(tmp_path, capsys, text, needles):
    root, db = make_tree(tmp_path, GOOD)
    prof = tmp_path / "bad-profile.toml"
    prof.write_text(text, encoding="utf-8")
    rc = main(["check", root, "-p", db, "--no-cache", "-q", "--profile", str(prof)])
    _, err = capsys.readouterr()
    assert_one_line_error(rc, err, str(prof), *needles)


def test_unknown_profile_and_flags(tmp_path, capsys):
    root, db = make_tree(tmp_path, GOOD)
    rc = main(["check", root, "-p", db, "--profile", "no-such-port"])
    assert_one_line_error(rc, capsys.readouterr().err, "unknown profile 'no-such-port'")
    for flags, needle in ((["--timeout", "0"], "--timeout"), (["--timeout", "nan"], "--timeout"),
                          (["-j", "0"], "--jobs"), (["--select", "TL999"], "TL999")):
        rc, _, err = check(capsys, root, *flags, db=db)
        assert_one_line_error(rc, err, needle)


# -- environment ----------------------------------------------------------------------

@pytest.mark.parametrize("library", ["/nonexistent/libclang.so", "not-a-library"])
def test_missing_libclang(tmp_path, library):
    root, db = make_tree(tmp_path, GOOD)
    if library == "not-a-library":
        library = str(tmp_path / "libclang.so")
        with open(library, "w") as fh:
            fh.write("this is not an ELF file\n")
    env = dict(os.environ, LIBCLANG_LIBRARY_FILE=library)
    proc = subprocess.run([sys.executable, "-m", "threadlint", "check", root, "-p", db,
                           "--profile", "wasi-libc", "--no-cache"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("threadlint: error: cannot load the libclang library")
    assert library in line and "LIBCLANG_LIBRARY_FILE" in line


def test_unwritable_outputs_are_errors_not_exit_0(tmp_path, capsys):
    root, db = make_tree(tmp_path, GOOD)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for flags in (["-o", str(blocker / "report.json")], ["--write-baseline", str(blocker / "b.json")],
                  ["-o", str(tmp_path)]):
        rc, _, err = check(capsys, root, *flags, db=db)
        assert_one_line_error(rc, err, str(tmp_path))


def test_bad_report_file(tmp_path, capsys):
    bad = tmp_path / "r.json"
    bad.write_text("{}")
    rc = main(["report", str(bad)])
    assert_one_line_error(rc, capsys.readouterr().err, "r.json")


# -- bad sources: findings, and the run goes on --------------------------------------------

def test_parse_errors_are_tl002_and_the_run_goes_on(tmp_path, capsys):
    root, db = make_tree(tmp_path, {
        "src/a.c": "int a(void) { return undeclared_a; }\n",
        "src/b.c": '#include "missing.h"\nint b;\n',
        "src/c.c": "int c(void) { return 0; }\n",
        "src/d.c": "int d(void) { if (1) { return 0; }\n",           # unbalanced brace
    })
    rc, out, err = check(capsys, root, "--format", "json", "--select", "TL002", db=db)
    assert rc == 1, err
    doc = json.loads(out)
    assert doc["configs"][0]["tus"] == 4
    by_file = {f["location"]["path"]: f["message"] for f in doc["findings"]}
    assert set(by_file) == {"src/a.c", "src/b.c", "src/d.c"}
    assert "undeclared_a" in by_file["src/a.c"]
    assert "'missing.h' file not found" in by_file["src/b.c"]


def test_non_utf8_sources(tmp_path, capsys):
    root, db = make_tree(tmp_path, {
        "src/latin1_comment.c": b"/* caf\xe9 au lait */\nint ok(void) { return 0; }\n",
        "src/bad_ident.c": b"int f\xe9(void);\nint g\xff\xfe;\n",
        "src/clean.c": "int c(void) { return 0; }\n",
    })
    for fmt in ("json", "sarif", "text", "github", "concise"):
        rc, out, err = check(capsys, root, "--format", fmt, db=db)
        assert rc == 1 and err == "", (fmt, err)
        assert "bad_ident.c" in out
    rc, out, err = check(capsys, root, "--format", "json", "--select", "TL002", db=db)
    findings = json.loads(out)["findings"]
    assert [f["location"]["path"] for f in findings] == ["src/bad_ident.c"]
    assert "not valid UTF-8" in findings[0]["message"]
    rc, out, err = check(capsys, root, "--format", "text", db=db)
    note = [line for line in out.splitlines() if line.startswith("note:") and "UTF-8" in line]
    assert len(note) == 1
    assert "2 source file(s)" in note[0] and "latin1_comment.c" in note[0]


def test_non_utf8_sources_are_noted_from_the_cache_and_in_assembly(tmp_path, capsys):
    # the note comes from where the text is read: the workers (kept in the
    # fact cache) and the assembly scanner, not from a read of every source
    root, db = make_tree(tmp_path, {
        "src/latin1_comment.c": b"/* caf\xe9 au lait */\nint ok(void) { return 0; }\n",
        "src/clean.c": "int c(void) { return 0; }\n",
        "src/start.S": b"# d\xe9but\n.globl start\nstart:\n  end_function\n",
    })
    entries = json.loads(open(db).read())
    entries.append(dict(entries[0], file="src/start.S", arguments=["clang", "--target=wasm32-wasip3",
                                                                   "-c", "src/start.S"]))
    open(db, "w").write(json.dumps(entries))
    argv = ["check", root, "-p", db, "--profile", "wasi-libc", "-q", "--format", "text",
            "--cache-dir", str(tmp_path / "cache")]
    notes = []
    for _ in range(2):          # parsed, then from the fact cache (no run memo)
        main(argv)
        shutil.rmtree(tmp_path / "cache" / "runs", ignore_errors=True)
        out = capsys.readouterr().out
        notes.append([line for line in out.splitlines() if line.startswith("note:") and "UTF-8" in line])
    for (note,) in notes:
        assert "2 source file(s)" in note and "src/latin1_comment.c" in note and "src/start.S" in note


def test_duplicate_entries_are_analysed_once(tmp_path, capsys):
    root, db = make_tree(tmp_path, {"src/a.c": "int a(void) { return undeclared_a; }\n"})
    with open(db, encoding="utf-8") as fh:
        (entry,) = json.load(fh)
    # CMake lists a file once per target; flags that only change code generation
    # (-Wall, -fvisibility) do not make it a different translation unit
    twin = dict(entry, arguments=entry["arguments"][:1] + ["-Wall", "-fvisibility=hidden"]
                + entry["arguments"][1:])
    with open(db, "w", encoding="utf-8") as fh:
        json.dump([entry, entry, twin], fh)
    rc, out, err = check(capsys, root, "--format", "json", "--select", "TL002", db=db)
    doc = json.loads(out)
    assert rc == 1 and doc["configs"][0]["tus"] == 1
    assert len(doc["findings"]) == 1
    rc, _, err = check(capsys, root, "-p", db, db=db)          # the same database twice
    assert_one_line_error(rc, err, "named")
