"""Discovery: which build configurations and which files to analyse."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from threadlint import compdb
from threadlint.compdb import Entry
from threadlint.errors import UsageError

SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".threadlint_cache", "node_modules", ".venv"}


@dataclass
class BuildConfig:
    name: str
    database: str                 # '' when flags come from the configuration file
    entries: list[Entry] = field(default_factory=list)


def parse_build_spec(spec: str, root: str) -> tuple[str, str]:
    """``-p`` value -> (name, path of compile_commands.json)."""
    name = None
    if "=" in spec and not os.path.exists(spec):
        name, spec = spec.split("=", 1)
        if not name:
            raise UsageError(f"-p {name}={spec}: empty configuration name")
    path = os.path.abspath(spec)
    if os.path.isdir(path):
        db = os.path.join(path, "compile_commands.json")
        if not os.path.isfile(db):
            raise UsageError(f"-p {spec}: no compile_commands.json in that directory")
        default_name = os.path.basename(os.path.normpath(path))
    elif os.path.isfile(path):
        db = path
        default_name = os.path.basename(os.path.dirname(path)) or "default"
    else:
        raise UsageError(f"-p {spec}: no such file or directory")
    return name or default_name, db


def load_configs(specs: list[str], root: str, fallback: dict | None) -> list[BuildConfig]:
    return load_databases(resolve_databases(specs, root), root, fallback, tree_files(root))


def resolve_databases(specs: list[str], root: str) -> list[tuple[str, str]]:
    """(configuration name, compile_commands.json path) per ``-p``, or the
    ``build*/`` databases under root when there is none (cheap: nothing is read)."""
    if specs:
        pairs = [parse_build_spec(s, root) for s in specs]
    else:
        pairs = [(os.path.basename(os.path.dirname(db)), db) for db in compdb.find_databases(root)]
    names = [n for n, _ in pairs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise UsageError(f"two -p configurations are named {sorted(dupes)[0]!r}; use NAME=PATH")
    return pairs


def load_databases(pairs: list[tuple[str, str]], root: str, fallback: dict | None,
                   tree: list[str], memo_dir: str | None = None) -> list[BuildConfig]:
    """``tree``: the run's listing of root (``tree_files``), taken once per run;
    ``memo_dir``: where parsed databases are memoised (the cache directory)."""
    configs: list[BuildConfig] = []
    for name, db in pairs:
        entries = compdb.load_memoised(db, root, memo_dir) if memo_dir else compdb.load(db, root)
        configs.append(BuildConfig(name, db, entries + tree_assembly(root, entries, tree)))
    if not configs:
        configs.append(fallback_config(root, fallback or {}, tree))
    return configs


def tree_assembly(root: str, entries: list[Entry], tree: list[str]) -> list[Entry]:
    """Databases that list no assembly at all (some generators leave it out):
    take the tree's .s/.S files, preprocessed with the first C entry's flags."""
    if any(e.is_asm for e in entries):
        return []
    c_entries = [e for e in entries if e.file.endswith(compdb.C_EXTS)]
    if not c_entries:
        return []
    args = c_entries[0].args
    return [Entry(os.path.join(root, rel), root, args, ())
            for rel in tree if rel.endswith(compdb.ASM_EXTS)]


def fallback_config(root: str, fallback: dict, tree: list[str]) -> BuildConfig:
    """Every .c/.s/.S under root with flags from the configuration file."""
    args = []
    if fallback.get("target"):
        args.append("--target=" + fallback["target"])
    for d in fallback.get("include_dirs", []):
        args.extend(["-I", os.path.normpath(os.path.join(root, d))])
    for d in fallback.get("defines", []):
        args.append("-D" + d)
    args.extend(fallback.get("args", []))
    safe, _ = compdb.sanitize(args, root, "", root)
    entries = [Entry(os.path.join(root, rel), root, tuple(safe), ())
               for rel in tree if rel.endswith(compdb.C_EXTS + compdb.ASM_EXTS)]
    return BuildConfig(fallback.get("name", "default"), "", entries)


def tree_files(root: str) -> list[str]:
    """Every regular file under root (relative, '/'-separated, sorted), skipping VCS
    and cache directories and build directories that hold a compile database.
    Symlinks are neither listed nor followed."""
    out: list[str] = []
    # scandir's d_type answers is_file/is_dir without a stat per file (os.walk
    # plus isfile/islink cost three system calls per file)
    stack = [(root, "")]
    while stack:
        path, rel = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            name = rel + e.name
            try:
                if e.is_dir(follow_symlinks=False):
                    if e.name in SKIP_DIRS or (e.name.startswith("build") and os.path.isfile(
                            os.path.join(e.path, "compile_commands.json"))):
                        continue
                    stack.append((e.path, name + "/"))
                elif e.is_file(follow_symlinks=False):
                    out.append(name)
            except OSError:
                continue
    return sorted(out)
