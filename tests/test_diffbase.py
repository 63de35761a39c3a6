"""--diff-base: changed lines from git, untracked files, merge base, errors."""
import json
import subprocess

import pytest

from harness import write_databases
from threadlint import diffbase
from threadlint.cli import main
from threadlint.errors import UsageError

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent"}


@pytest.fixture
def git(tmp_path, monkeypatch):
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)
    (tmp_path / "gitconfig").write_text("")             # no user or system git settings
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    repo = tmp_path / "repo"
    repo.mkdir()

    def run(*args):
        return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                              text=True).stdout.strip()
    run("init", "-q", "-b", "main")
    run.repo = repo
    return run


def write(repo, name, text):
    p = repo / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def commit_all(git, msg="c"):
    git("add", "-A")
    git("commit", "-q", "-m", msg)
    return git("rev-parse", "HEAD")


def test_parse_diff():
    text = ("diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n"
            "@@ -3 +3 @@\n-old\n+new\n"
            "@@ -10,2 +10,3 @@\n-a\n-b\n+a\n+b\n+c\n"
            "@@ -20,3 +22,0 @@\n-gone\n-gone\n-gone\n"
            "diff --git a/tab\\tname.c b/tab\\tname.c\n--- /dev/null\n+++ \"b/t\\303\\251st\\tname.c\"\n"
            "@@ -0,0 +1,2 @@\n+x\n+y\n"
            "diff --git a/dead.c b/dead.c\n--- a/dead.c\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n-y\n")
    got = diffbase.parse_diff(text)
    assert got == {"x.c": {3, 10, 11, 12, 22, 23}, "t\u00e9st\tname.c": {1, 2}}


def test_changed_lines_in_a_repository(git):
    repo = git.repo
    write(repo, "src/a.c", "".join(f"line{i}\n" for i in range(1, 11)))
    write(repo, "src/b.c", "b\n")
    write(repo, ".gitignore", "build/\n")
    base = commit_all(git)
    write(repo, "src/a.c", "".join(f"line{i}\n" if i != 4 else "changed\n" for i in range(1, 11)) + "new\n")
    git("add", "src/a.c")                                   # staged edits count too
    write(repo, "src/b.c", "b\nunstaged\n")
    write(repo, "src/new.c", "x\n")                         # untracked: every line
    write(repo, "build/gen.c", "x\n")                       # ignored: not new code
    changed = diffbase.changed_lines(str(repo / "src"), base)
    assert set(changed) == {"a.c", "b.c", "new.c"}          # relative to the given root
    assert changed["a.c"] == {4, 11} and changed["b.c"] == {2}
    assert 1 in changed["new.c"] and 500 in changed["new.c"]
    assert "build/gen.c" not in diffbase.changed_lines(str(repo), "HEAD")


def test_branch_is_compared_with_its_merge_base(git):
    repo = git.repo
    write(repo, "a.c", "1\n2\n3\n")
    commit_all(git)
    git("checkout", "-q", "-b", "feature")
    write(repo, "a.c", "1\n2\n3\nfeature\n")
    commit_all(git)
    git("checkout", "-q", "main")
    write(repo, "a.c", "main\n1\n2\n3\n")
    write(repo, "m.c", "only on main\n")
    commit_all(git)
    git("checkout", "-q", "feature")
    # main moved on; only the branch's own change counts (like `git diff main...`)
    assert diffbase.changed_lines(str(repo), "main") == {"a.c": {4}}


@pytest.mark.parametrize("ref, message", [
    ("no-such-branch", "unknown git revision 'no-such-branch'"),
    ("--output=/tmp/x", "is not a git revision"),
    ("", "is not a git revision"),
])
def test_bad_revision(git, ref, message):
    write(git.repo, "a.c", "x\n")
    commit_all(git)
    with pytest.raises(UsageError, match=message):
        diffbase.changed_lines(str(git.repo), ref)


def test_not_a_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(UsageError, match="is not inside a git repository"):
        diffbase.changed_lines(str(tmp_path), "HEAD")


def test_cli_reports_only_changed_lines(git, capsys):
    repo = git.repo
    write(repo, "old.c", "int o(void) {\n    return undeclared_old;\n}\n")
    write(repo, "mod.c", "int m(void) {\n    return 0;\n}\n")
    write(repo, ".gitignore", "builds/\n.threadlint_cache/\n")
    specs = write_databases(str(repo), str(repo / "builds"))
    commit_all(git)
    write(repo, "mod.c", "int m(void) {\n    return undeclared_mod;\n}\n")
    write(repo, "new.c", "int n(void) { return undeclared_new; }\n")
    specs = write_databases(str(repo), str(repo / "builds"))
    argv = ["check", str(repo), *[a for s in specs for a in ("-p", s)], "--profile", "wasi-libc",
            "-j", "1", "--select", "TL002", "--format", "json"]
    assert main(argv) == 1
    assert {f["location"]["path"] for f in json.loads(capsys.readouterr().out)["findings"]} == \
        {"old.c", "mod.c", "new.c"}
    assert main(argv + ["--diff-base", "HEAD"]) == 1
    assert {f["location"]["path"] for f in json.loads(capsys.readouterr().out)["findings"]} == \
        {"mod.c", "new.c"}
    write(repo, "mod.c", "int m(void) {\n    return 0;\n}\n")
    (repo / "new.c").unlink()
    specs = write_databases(str(repo), str(repo / "builds"))
    assert main(argv + ["--diff-base", "HEAD"]) == 0                 # old.c's finding is not new
    capsys.readouterr()


def test_cli_bad_ref_fails_fast(git, capsys):
    write(git.repo, "a.c", "int a;\n")
    specs = write_databases(str(git.repo), str(git.repo / "builds"))
    argv = ["check", str(git.repo), *[a for s in specs for a in ("-p", s)], "--profile",
            "wasi-libc", "--cache-dir", str(git.repo / "cache"), "--diff-base", "nope"]
    assert main(argv) == 2
    assert "unknown git revision 'nope'" in capsys.readouterr().err
    assert not (git.repo / "cache").exists()
