"""The shipped pre-commit hook, run for real by pre-commit.

pre-commit builds the hook's own virtualenv and pip-installs threadlint into it
from a git repository holding the hook manifest.  The hook repository here is a
fresh commit of this checkout's package files (the checkout itself may have
uncommitted or untracked files, which ``try-repo`` would leave out), and the
project is a small C tree with a compile database and a threadlint.toml.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_FILES = ["pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml"]
PACKAGE_DIRS = ["threadlint", "rules"]
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "GIT_CONFIG_NOSYSTEM": "1"}

CLEAN = "#include \"shared.h\"\nint clean(void) {\n    return SHARED;\n}\n"
BAD = "#include \"shared.h\"\nint bad(void) {\n    return undeclared_in_bad + SHARED;\n}\n"


def test_manifest():
    from pre_commit.clientlib import load_manifest
    (hook,) = load_manifest(os.path.join(REPO, ".pre-commit-hooks.yaml"))
    assert hook["id"] == "threadlint" and hook["language"] == "python"
    assert hook["types_or"] == ["c", "header", "asm"]
    assert hook["require_serial"] is True and hook["pass_filenames"] is True
    assert hook["entry"].split()[:2] == ["threadlint", "check"]
    assert hook["entry"].split()[-1] == "--only-files"      # the file names follow it


def run(cmd, cwd, env, check=True):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = dict(os.environ, **GIT_ENV)
    e["PRE_COMMIT_HOME"] = str(tmp_path_factory.mktemp("pre-commit-home"))
    home = tmp_path_factory.mktemp("home")
    e["HOME"] = str(home)                                # no user git or pre-commit config
    (home / ".gitconfig").write_text("")
    e["GIT_CONFIG_GLOBAL"] = str(home / ".gitconfig")
    e.pop("THREADLINT_CACHE_DIR", None)
    # the hook environment's python must be this one (>= 3.11)
    e["PATH"] = os.path.dirname(sys.executable) + os.pathsep + e.get("PATH", "")
    return e


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory, env):
    dest = tmp_path_factory.mktemp("hook-repo")
    for name in PACKAGE_FILES:
        if os.path.exists(os.path.join(REPO, name)):
            shutil.copy2(os.path.join(REPO, name), dest / name)
    for name in PACKAGE_DIRS:
        shutil.copytree(os.path.join(REPO, name), dest / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run(["git", "init", "-q", "-b", "main"], dest, env)
    run(["git", "add", "-A"], dest, env)
    run(["git", "commit", "-q", "-m", "threadlint"], dest, env)
    return dest, run(["git", "rev-parse", "HEAD"], dest, env).stdout.strip()


def write_database(project):
    """What the project's build would do: list every .c with absolute paths."""
    src = project / "src"
    entries = [{"directory": str(project), "file": str(src / f),
                "arguments": ["clang", "--target=wasm32-wasip3", "-I", str(src), "-c", f"src/{f}"]}
               for f in sorted(os.listdir(src)) if f.endswith(".c")]
    (project / "build").mkdir(exist_ok=True)
    (project / "build" / "compile_commands.json").write_text(json.dumps(entries, indent=1))


@pytest.fixture
def project(tmp_path, env, hook_repo):
    p = tmp_path / "project"
    (p / "src").mkdir(parents=True)
    (p / "src" / "shared.h").write_text("#define SHARED 1\n")
    (p / "src" / "clean.c").write_text(CLEAN)
    (p / "threadlint.toml").write_text('profile = "wasi-libc"\nbuilds = ["build"]\n')
    (p / ".gitignore").write_text("build/\n")
    path, rev = hook_repo
    (p / ".pre-commit-config.yaml").write_text(yaml.safe_dump(
        {"repos": [{"repo": str(path), "rev": rev, "hooks": [{"id": "threadlint"}]}]}))
    write_database(p)
    run(["git", "init", "-q", "-b", "main"], p, env)
    return p


def git_commit(project, env, *files, no_verify=False):
    run(["git", "add", *files], project, env)
    cmd = ["git", "commit", "-m", "change"] + (["--no-verify"] if no_verify else [])
    return run(cmd, project, env, check=False)


def head(project, env):
    return run(["git", "rev-parse", "--verify", "-q", "HEAD"], project, env, check=False).stdout.strip()


def test_hook_blocks_a_commit_that_adds_a_finding(project, env):
    run([sys.executable, "-m", "pre_commit", "install"], project, env)
    # a clean commit passes (this run also builds the hook's environment)
    first = git_commit(project, env, ".")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "threadlint" in first.stdout + first.stderr and "Passed" in first.stdout + first.stderr
    good = head(project, env)

    # a commit adding a file with a finding is refused, and says why
    (project / "src" / "bad.c").write_text(BAD)
    write_database(project)
    refused = git_commit(project, env, "src/bad.c")
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    assert "Failed" in out and "TL002" in out and "src/bad.c:3" in out
    assert head(project, env) == good

    # findings outside the staged files do not block: bad.c goes in unchecked, then a
    # clean edit of clean.c is committed while bad.c still has its finding
    assert git_commit(project, env, "src/bad.c", no_verify=True).returncode == 0
    (project / "src" / "clean.c").write_text(CLEAN.replace("return SHARED;", "return SHARED + 1;"))
    clean_edit = git_commit(project, env, "src/clean.c")
    assert clean_edit.returncode == 0, clean_edit.stdout + clean_edit.stderr
    # the run used the cache beside the project, which git ignores
    assert (project / ".threadlint_cache" / ".gitignore").is_file()
    assert run(["git", "status", "--porcelain"], project, env).stdout == ""


def test_try_repo(project, env, hook_repo):
    run(["git", "add", "."], project, env)
    run(["git", "commit", "-q", "-m", "base"], project, env)
    (project / "src" / "bad.c").write_text(BAD)
    write_database(project)
    run(["git", "add", "src/bad.c"], project, env)
    tried = run([sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo[0]), "threadlint",
                 "--files", "src/bad.c", "src/clean.c"], project, env, check=False)
    out = tried.stdout + tried.stderr
    assert tried.returncode == 1, out
    assert "src/bad.c:3" in out and "TL002" in out and "clean.c:" not in out
