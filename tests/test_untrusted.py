"""An untrusted compile database (or configuration) cannot run code or write files.

Each test has a positive control showing its marker mechanism works (the
plugin does write its marker when loaded, the compiler script when run,
libclang does write a dependency file when handed ``-MD -MF``), so a marker
that stays absent means threadlint prevented it.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from threadlint import compdb
from threadlint.cli import main

PLUGIN_SRC = r"""
#include <stdio.h>
__attribute__((constructor)) static void threadlint_test_plugin_loaded(void) {
    FILE *f = fopen(MARKER, "a");
    if (f) { fputs("plugin loaded\n", f); fclose(f); }
}
"""


@pytest.fixture
def plugin(tmp_path):
    """(path of a shared object that writes a marker file when loaded, marker path)."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build the test plugin")
    marker = tmp_path / "PLUGIN_WAS_LOADED"
    src = tmp_path / "evil.c"
    src.write_text(PLUGIN_SRC, encoding="utf-8")
    so = tmp_path / "plugins" / "evil.so"
    so.parent.mkdir()
    subprocess.run(["gcc", "-shared", "-fPIC", f'-DMARKER="{marker}"', "-o", str(so), str(src)],
                   check=True)
    return str(so), marker


def write_tree(tmp_path, variants):
    """One source per argument variant; returns (root, db path)."""
    root = tmp_path / "root"
    (root / "src").mkdir(parents=True)
    build = tmp_path / "build"
    build.mkdir(exist_ok=True)
    entries = []
    for i, (args, compiler) in enumerate(variants):
        rel = f"src/f{i}.c"
        (root / rel).write_text(f"int f{i}(void) {{ return {i}; }}\n", encoding="utf-8")
        entries.append({"directory": str(root), "file": rel,
                        "arguments": [compiler, "--target=wasm32-wasip3", *args, "-c", rel]})
    db = build / "compile_commands.json"
    db.write_text(json.dumps(entries), encoding="utf-8")
    return str(root), str(db)


def run_json(capsys, root, db, *extra):
    rc = main(["check", root, "-p", db, "--profile", "wasi-libc", "--format", "json",
               "--select", "TL002", "-q", "-j", "2", *extra])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def test_plugin_control_marker_works(plugin):
    so, marker = plugin
    subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({so!r})"], check=True)
    assert marker.read_text() == "plugin loaded\n"


def test_plugins_in_database_are_not_loaded(tmp_path, capsys, plugin):
    so, marker = plugin
    root_rsp = tmp_path / "root" / "flags.rsp"            # inside the tree: expanded, sanitised
    outside_rsp = tmp_path / "outside.rsp"                 # outside: never read
    variants = [
        ([f"-fplugin={so}"], "clang"),
        (["-Xclang", "-load", "-Xclang", so], "clang"),
        ([f"-fpass-plugin={so}"], "clang"),
        (["-Xclang", "-add-plugin", "-Xclang", "evil", "-Xclang", "-load", "-Xclang", so], "clang"),
        ([f"-Xclang=-load", f"-Xclang={so}"], "clang"),
        (["-mllvm", f"-load={so}"], "clang"),
        ([f"@{root_rsp}"], "clang"),
        ([f"@{outside_rsp}"], "clang"),
        (["-I", f"-fplugin={so}"], "clang"),
    ]
    root, db = write_tree(tmp_path, variants)
    root_rsp.write_text(f"-DFROM_RSP -fplugin={so} -Xclang -load -Xclang {so}", encoding="utf-8")
    outside_rsp.write_text(f"-fplugin={so}", encoding="utf-8")
    doc = run_json(capsys, root, db, "--no-cache")
    assert doc["configs"][0]["tus"] == len(variants)
    assert doc["findings"] == []                           # every file parsed cleanly
    assert not marker.exists()
    entries = compdb.load(db, root)
    for e in entries:
        assert not any(so in a for a in e.args), e.args
    assert "-DFROM_RSP" in entries[6].args                 # the in-tree response file was used


def test_listed_compiler_is_never_executed(tmp_path, capsys):
    marker = tmp_path / "COMPILER_WAS_RUN"
    script = tmp_path / "fake-cc"
    script.write_text(f"#!/bin/sh\necho ran >> '{marker}'\n", encoding="utf-8")
    script.chmod(0o755)
    subprocess.run([str(script)], check=True)              # control: running it leaves the marker
    assert marker.exists()
    marker.unlink()
    root, db = write_tree(tmp_path, [([], str(script)), (["-DX"], str(script))])
    # the same through 'command' strings with shell syntax: split as data, never run
    with open(db, encoding="utf-8") as fh:
        entries = json.load(fh)
    for e, cmd in zip(entries, [f"{script} $(touch {marker}) -c src/f0.c",
                                f"{script} `touch {marker}`; touch {marker} | sh -c src/f1.c"]):
        del e["arguments"]
        e["command"] = cmd
    with open(db, "w", encoding="utf-8") as fh:
        json.dump(entries, fh)
    doc = run_json(capsys, root, db, "--no-cache")
    assert doc["configs"][0]["tus"] == 2
    assert not marker.exists()


OUTPUT_FLAGS = [
    ["-MD", "-MF", "{out}/dep.d"], ["-MJ", "{out}/fragment.json"], ["-o", "{out}/obj.o"],
    ["-ftime-trace={out}/trace.json"], ["--serialize-diagnostics", "{out}/diag.dia"],
    ["-save-temps=obj"], ["-Wp,-MD,{out}/dep2.d"], ["-MMD", "-MF{out}/dep3.d"],
]


def test_control_libclang_writes_what_it_is_told(tmp_path):
    # Unsanitised, libclang itself writes a dependency file: dropping these
    # flags is what keeps a run from writing where a database says.
    dep = tmp_path / "dep.d"
    src = tmp_path / "t.c"
    src.write_text("int t;\n")
    code = ("import sys; from threadlint.frontend.parse import parse_c; "
            "parse_c(sys.argv[1], ['-MD', '-MF', sys.argv[2]])")
    subprocess.run([sys.executable, "-c", code, str(src), str(dep)], check=True, timeout=120)
    assert dep.exists()


def test_database_cannot_make_us_write_files(tmp_path, capsys):
    out = tmp_path / "outputs"
    out.mkdir()
    variants = [([a.replace("{out}", str(out)) for a in flags], "clang") for flags in OUTPUT_FLAGS]
    root, db = write_tree(tmp_path, variants)
    before = sorted(os.listdir(root))
    cwd = os.getcwd()
    os.chdir(out)                       # relative outputs (-save-temps) would land here
    try:
        doc = run_json(capsys, root, db, "--no-cache")
    finally:
        os.chdir(cwd)
    assert doc["configs"][0]["tus"] == len(variants) and doc["findings"] == []
    assert os.listdir(out) == []
    assert sorted(os.listdir(root)) == before


def test_configuration_is_data(tmp_path, capsys, plugin):
    so, marker = plugin
    root = tmp_path / "root"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.c").write_text("int a;\n")
    cfg = root / "threadlint.toml"
    # no builds: every file is analysed with the configuration's fallback flags
    cfg.write_text(f'profile = "wasi-libc"\n[fallback]\ntarget = "wasm32-wasip3"\n'
                   f'args = ["-fplugin={so}", "-Xclang", "-load", "-Xclang", "{so}"]\n')
    rc = main(["check", str(root), "--no-cache", "-q", "--format", "json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert json.loads(out)["configs"][0]["tus"] == 1
    assert not marker.exists()
    cfg.write_text(f"profile = \"__import__('os').system('touch {marker}')\"\n")
    rc = main(["check", str(root), "--no-cache", "-q"])
    assert rc == 2 and "__import__('os')" in capsys.readouterr().err   # a name, not code
    assert not marker.exists()
