"""The command line: exit codes, subcommands, inputs."""
import json
import os
import subprocess
import sys

import pytest

from harness import write_databases
from threadlint import __version__
from threadlint.cli import main

HERE = os.path.dirname(os.path.abspath(__file__))
TL002 = os.path.join(HERE, "fixtures", "rules", "TL002")


def run_cli(*args):
    proc = subprocess.run([sys.executable, "-m", "threadlint", *args], capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def spec(tmp_path):
    (s,) = write_databases(TL002, str(tmp_path))
    return s


def test_findings_exit_1_and_concise_output(spec, capsys, tmp_path):
    code = main(["check", TL002, "-p", spec, "--profile", "wasi-libc", "--format", "concise",
                 "--cache-dir", str(tmp_path / "cache"), "-j", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("broken.c:6:12: TL002 ")


def test_clean_tree_exits_0(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.c").write_text("int ok(void) { return 0; }\n")
    db = tmp_path / "build" / "compile_commands.json"
    db.parent.mkdir()
    db.write_text(json.dumps([{"directory": str(src), "file": "ok.c",
                               "arguments": ["clang", "--target=wasm32-wasip3", "-c", "ok.c"]}]))
    assert main(["check", str(src), "-p", f"x={db}", "--profile", "wasi-libc", "--no-cache"]) == 0
    assert "Found 0 findings in 1 TUs across 1 configuration" in capsys.readouterr().out


def test_select_ignore_and_exit_zero(spec, tmp_path):
    common = ["check", TL002, "-p", spec, "--profile", "wasi-libc", "--no-cache", "-q"]
    assert main(common + ["--ignore", "TL002"]) == 0
    assert main(common + ["--exit-zero"]) == 0
    assert main(common + ["--select", "TL0"]) == 1


def test_output_file_is_written(spec, tmp_path):
    out = tmp_path / "r.sarif"
    assert main(["check", TL002, "-p", spec, "--profile", "wasi-libc", "--no-cache",
                 "--format", "sarif", "-o", str(out)]) == 1
    assert json.loads(out.read_text())["runs"][0]["results"][0]["ruleId"] == "TL002"


@pytest.mark.parametrize("args,needle", [
    (["check", "/nonexistent-dir"], "source root is not a directory"),
    (["check", TL002, "-p", "/nonexistent/build", "--profile", "wasi-libc"], "no such file or directory"),
    (["check", TL002, "--profile", "no-such-profile"], "unknown profile 'no-such-profile'"),
    (["check", TL002, "--select", "TL999", "--profile", "wasi-libc"], "unknown rule or prefix 'TL999'"),
    (["check", "--bogus-flag"], "unrecognized arguments: --bogus-flag"),
    (["explain", "TL999"], "unknown rule 'TL999'"),
    ([], "missing command"),
])
def test_usage_errors_exit_2_with_one_line(args, needle):
    code, out, err = run_cli(*args)
    assert code == 2, (code, out, err)
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_invalid_database_is_a_usage_error(tmp_path):
    db = tmp_path / "compile_commands.json"
    db.write_text("[{not json")
    code, _, err = run_cli("check", TL002, "-p", str(db), "--profile", "wasi-libc")
    assert code == 2 and "invalid JSON in compile database" in err


def test_explain_rules_and_version():
    code, out, _ = run_cli("explain", "TL002")
    assert code == 0 and out.startswith("# TL002 parse-error") and "## How to fix" in out
    code, out, _ = run_cli("explain", "parse-error")
    assert code == 0 and out.startswith("# TL002")
    code, out, _ = run_cli("rules")
    assert code == 0 and "TL002  parse-error" in out
    code, out, _ = run_cli("--version")
    assert code == 0 and out.strip() == f"threadlint {__version__}"


def test_assembly_comes_from_the_tree_when_the_database_lists_none(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.c").write_text("int ok(void) { return 0; }\n")
    (src / "start.s").write_text("start:\n  call ok\n  end_function\n")
    db = tmp_path / "build" / "compile_commands.json"
    db.parent.mkdir()
    db.write_text(json.dumps([{"directory": str(src), "file": "ok.c",
                               "arguments": ["clang", "--target=wasm32-wasip3", "-c", "ok.c"]}]))
    assert main(["check", str(src), "-p", f"x={db}", "--profile", "wasi-libc", "--no-cache",
                 "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["configs"][0]["asm_files"] == 1
