import fnmatch
import os
import posixpath
import re

from threadlint.registry import Rule
from threadlint_rules._port import plist, pvalue


class StrayFile(Rule):
    """## What it does
    Looks at the source tree next to the compile databases and reports:

    - an *unbuilt duplicate*: a source file no configuration builds while a
      built file with the same name sits in a nearby directory (a sibling
      implementation directory such as `thread/wasi-threads/` next to
      `thread/coop-threads/`), in a directory where other files are built;
    - a file whose name contains whitespace or matches a backup/editor
      pattern (`*~`, `*.orig`, `*.rej`, `.#*`, ...);
    - an empty source file that a build lists.

    ## Why is this bad
    An unbuilt copy next to the built one is the file a reviewer or the next
    porter edits by mistake, and the fix then silently does nothing; it also
    hides that a configuration lacks the function altogether.  Backup files
    and names with spaces are accidents of an editor or a merge, and an empty
    file in a build is a placeholder that compiles to nothing.

    ## Example
    ```
    src/thread/coop-threads/mtx_lock.c     built (coop)
    src/thread/wasi-threads/mtx_lock.c     built by no configuration   <- TL701
    ```

    ## How to fix
    Delete the stray file, or add it to the configuration that should build
    it.  Give an intentionally empty file a comment saying why it exists.

    ## Configuration
    `[stray_files] source_exts` are the extensions of source files;
    `max_distance` is how many directory levels above the unbuilt file the
    built one may start (1: sibling directories); `backup_patterns` are
    file-name globs of editor and merge leftovers; `ignore` are path globs
    (relative to the source root) to leave alone.
    """

    id = "TL701"
    name = "stray-file"
    summary = "Unbuilt duplicate, backup-named or empty source file in the tree"
    severity = "note"
    precision = "high"
    scope = "project"
    profile_schema = {"stray_files": {"source_exts": ("list", str), "max_distance": int,
                                      "backup_patterns": ("list", str), "ignore": ("list", str)}}

    def check_project(self, project):
        prof = project.profile
        exts = tuple(plist(prof, "stray_files.source_exts")) or (".c", ".s", ".S")
        distance = pvalue(prof, "stray_files.max_distance", 1)
        backups = plist(prof, "stray_files.backup_patterns")
        ignore = plist(prof, "stray_files.ignore")
        ignored = _any_glob(ignore)
        is_backup = _any_glob(backups)
        tree = [f for f in project.tree_files if not ignored(f)]

        built: dict[str, set[str]] = {}          # path -> configurations building it
        has_code: set[str] = set()               # built files whose facts show code
        for program in project.programs:
            for tu in program.tus:
                built.setdefault(tu.path, set()).add(program.name)
                if any(tu.facts.get(k) for k in _MAIN_FILE_FACTS):
                    has_code.add(tu.path)
            for af in program.asm:
                built.setdefault(af.path, set()).add(program.name)
        # a .c file #included by a built one is built too (musl's shared fragments)
        root = os.path.abspath(project.root)
        included = {os.path.relpath(i, root).replace(os.sep, "/")
                    for program in project.programs for tu in program.tus for i in tu.includes
                    if i.endswith(exts)}
        built_dirs = {posixpath.dirname(p) for p in built}
        by_name: dict[str, list[str]] = {}
        for p in built:
            by_name.setdefault(posixpath.basename(p), []).append(p)

        for rel in tree:
            base = posixpath.basename(rel)
            if _SPACE.search(rel):
                yield self.finding(f"file name contains whitespace: '{rel}'", rel, 1,
                                   key="whitespace")
                continue
            if is_backup(base):
                yield self.finding(f"backup or editor file '{base}' is in the source tree",
                                   rel, 1, key="backup")
                continue
            if not rel.endswith(exts) or rel in built or rel in included:
                continue
            folder = posixpath.dirname(rel)
            if folder not in built_dirs:
                continue                  # a directory no build uses (another arch, tests)
            twins = [b for b in by_name.get(base, ()) if _distance(folder, posixpath.dirname(b))
                     <= distance]
            if twins:
                twin = sorted(twins)[0]
                where = ", ".join(sorted(built[twin]))
                yield self.finding(
                    f"'{rel}' is built by no configuration, but '{twin}' with the same name is "
                    f"built ({where}): an unbuilt duplicate that edits go to by mistake",
                    rel, 1, related=[self.related(twin, 1, 1, f"the built {base}")],
                    key=f"duplicate:{twin}")

        for path, configs in sorted(built.items()):
            if path in has_code:
                continue                  # declarations come from tokens: not empty
            try:
                with open(os.path.join(project.root, path), "rb") as fh:
                    empty = not fh.read().strip()
            except OSError:
                continue
            if empty:
                yield self.finding(f"empty source file is compiled ({', '.join(sorted(configs))})",
                                   path, 1, configs=tuple(sorted(configs)), key="empty")


_SPACE = re.compile(r"\s")
# facts that only code in the TU's main file produces (includes may be forced
# with -include, so they prove nothing)
_MAIN_FILE_FACTS = ("functions", "globals", "records", "macros", "top_events")


def _any_glob(patterns):
    """One compiled matcher for a list of fnmatch patterns (case-sensitive):
    the tree has thousands of files."""
    if not patterns:
        return lambda name: False
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)).match


def _distance(a: str, b: str) -> int:
    """Levels from directory ``a`` up to the closest directory that holds ``b``."""
    pa = a.split("/") if a else []
    pb = b.split("/") if b else []
    common = 0
    while common < min(len(pa), len(pb)) and pa[common] == pb[common]:
        common += 1
    return len(pa) - common
