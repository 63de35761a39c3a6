"""The ``check`` command: settings -> inputs -> engine -> filters -> report -> exit code."""
from __future__ import annotations

import json
import os
import sys
import time

from threadlint import config as config_mod
from threadlint import inputs, parallel, profile as profile_mod, registry
from threadlint.errors import UsageError
from threadlint.finding import SEVERITY_RANK


def _split(values) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def run_check(args) -> int:
    root = os.path.abspath(args.root)
    if not os.path.isdir(root):
        raise UsageError(f"{args.root}: source root is not a directory")
    settings = config_mod.load(args.config or config_mod.find(root))
    rules = registry.decide(_split(args.select) or settings.get("select"),
                            _split(args.ignore) or settings.get("ignore"))
    profile_name = args.profile or settings.get("profile")
    if not profile_name:
        raise UsageError("no port profile: pass --profile NAME|PATH or set 'profile' in the "
                         f"configuration file (available: {', '.join(profile_mod.available())})")
    profile = profile_mod.load(profile_name, registry.profile_schema())
    builds = args.build or [os.path.join(root, b) for b in settings.get("builds", [])]
    databases = inputs.resolve_databases(builds, root)

    jobs = args.jobs if args.jobs is not None else settings.get("jobs") or parallel.default_jobs()
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    timeout = args.timeout if args.timeout is not None else settings.get("timeout", 120.0)
    if not timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout:g}")
    _require_libclang()
    filters = _Filters(args, settings, root)
    cache = memo = cache_dir = None
    if not args.no_cache:
        from threadlint.cache import FactCache
        from threadlint.frontend.cxbind import clang_version
        from threadlint import __version__
        cache_dir = os.path.abspath(args.cache_dir or os.environ.get("THREADLINT_CACHE_DIR")
                                    or _config_relative(settings.get("cache_dir"), args, root)
                                    or os.path.join(root, ".threadlint_cache"))
        cache = FactCache(cache_dir, clang_version(), __version__)
        memo = _run_memo(cache_dir, root, databases, settings, rules, profile)

    t0 = time.monotonic()
    tree = inputs.tree_files(root)       # one listing per run: rules and memo agree on it
    result = memo.lookup(tree) if memo else None
    if result is not None:
        result.root, result.seconds = root, time.monotonic() - t0
    else:
        configs = inputs.load_databases(databases, root, settings.get("fallback"), tree, cache_dir)
        if not any(cfg.entries for cfg in configs):
            raise UsageError("nothing to analyse: the compile databases list no C or assembly files")
        _check_sources(configs)
        progress = None if args.quiet or not sys.stderr.isatty() else _progress
        # imported here: a run the memo answers needs none of it (~0.03 s of imports)
        from threadlint import engine
        opts = engine.Options(root=root, configs=configs, profile=profile, rules=rules, jobs=jobs,
                              timeout=timeout, cache=cache, progress=progress, tree=tree)
        result = engine.run(opts)
        if progress:
            sys.stderr.write("\r\033[K")
        if result.not_utf8:
            result.notes.append(_not_utf8_note(result.not_utf8, root))
        from threadlint import suppress
        result.sources = suppress.directive_sources(root, result.sources)
        if memo and result.complete:
            # (the settings' content is part of the memo key)
            memo.store(result, tree, result.inputs | {db for _, db in databases} | {profile.path})

    _apply_filters(result, filters, settings, root)
    _write_report(result, args)
    if args.interactive:
        from threadlint.report_app import run_findings
        run_findings(result.findings, result.rules, root,
                     configs=[c.name for c in result.configs],
                     baseline_path=args.baseline or settings.get("baseline"))
    return exit_code(result.findings, args.fail_on or settings.get("fail_on") or "note",
                     args.exit_zero)


def _run_memo(cache_dir, root, databases, settings, rules, profile):
    from threadlint import __version__
    from threadlint.frontend.cxbind import clang_version
    from threadlint.runmemo import RunMemo, code_fingerprint
    with open(profile.path, "rb") as fh:
        profile_text = fh.read().decode("utf-8", "replace")
    key = {"tool": __version__, "code": code_fingerprint(), "libclang": clang_version(),
           "root": root, "databases": databases, "rules": [r.id for r in rules],
           "profile": [profile.path, profile_text],
           "settings": json.dumps(dict(settings), sort_keys=True, default=str)}
    return RunMemo(cache_dir, root, key)


def _check_sources(configs) -> None:
    """Every listed source must be a readable regular file (exit 2 otherwise).

    Sources that are not valid UTF-8 are analysed anyway (libclang reads
    bytes and reports invalid characters in code as errors, i.e. TL002); the
    engine, which reads them, lists them (``RunResult.not_utf8``) and the
    report says their text is shown with replacements.  Nothing is read here
    (an open is enough): reading every source before the parse cost 0.014 s
    of a run on wasi-libc.
    """
    seen: set[str] = set()
    for cfg in configs:
        where = cfg.database or "configuration"
        for e in cfg.entries:
            if e.file in seen:
                continue
            seen.add(e.file)
            if not os.path.lexists(e.file):
                raise UsageError(f"{where}: listed source does not exist: {e.file}")
            if not os.path.isfile(e.file):
                raise UsageError(f"{where}: listed source is not a regular file: {e.file}")
            try:
                open(e.file, "rb").close()
            except OSError as err:
                raise UsageError(f"{e.file}: source file is not readable ({err.strerror})") from None


def _not_utf8_note(paths: list[str], root: str) -> str:
    rel = [os.path.relpath(p, root).replace(os.sep, "/") for p in paths]
    shown = ", ".join(rel[:3]) + (f" (+{len(rel) - 3} more)" if len(rel) > 3 else "")
    return (f"{len(rel)} source file(s) are not valid UTF-8: {shown}; they were analysed as "
            "bytes, invalid characters in code are reported as TL002, and their text is shown "
            "with U+FFFD replacement characters")


def _require_libclang() -> None:
    """Load libclang in this process once, so a missing or broken library is one
    clear error (exit 2) here instead of a failure in every worker."""
    try:
        import clang.cindex as cindex
    except ImportError as e:
        raise UsageError(f"cannot import the libclang Python bindings ({e}); "
                         "reinstall threadlint's dependency libclang-ng") from None
    from threadlint.errors import libclang_message
    try:
        from threadlint.frontend.cxbind import clang_version
        clang_version()
    except (OSError, AttributeError, cindex.LibclangError) as e:
        raise UsageError(libclang_message(e, cindex.conf.get_filename())) from None


def _config_relative(path, args, root):
    """A path from the configuration file is relative to that file's directory."""
    if not path or os.path.isabs(path):
        return path
    config_path = args.config or config_mod.find(root)
    base_dir = os.path.dirname(os.path.abspath(config_path)) if config_path else root
    return os.path.join(base_dir, path)


class _Filters:
    """What --baseline/--write-baseline/--update-baseline/--diff-base/--only-files ask for,
    checked before the analysis so that a bad flag fails in a second, not after it."""

    def __init__(self, args, settings, root):
        from threadlint import baseline, diffbase
        self.write = args.write_baseline
        self.update = args.update_baseline
        configured = _config_relative(settings.get("baseline"), args, root)
        self.baseline = self.write or args.baseline or configured
        if self.update and self.write:
            raise UsageError("--update-baseline and --write-baseline cannot be combined "
                             "(--write-baseline rewrites the whole file)")
        if self.update and not self.baseline:
            raise UsageError("--update-baseline needs --baseline FILE (or 'baseline' in the "
                             "configuration file)")
        self.entries = None
        if self.baseline and not self.write:
            try:
                self.entries = baseline.load(self.baseline)
            except baseline.BaselineError as e:
                hint = " (create it with --write-baseline FILE)" if "not found" in str(e) else ""
                raise UsageError(f"{e}{hint}") from None
        self.diff_base = args.diff_base
        if self.diff_base:
            diffbase.base_commit(root, self.diff_base)      # not a repo / bad ref: exit 2 now
        self.only_files = args.only_files


def _apply_filters(result, filters: _Filters, settings, root) -> None:
    """Suppressions, baseline, changed-lines and file filters (in that order)."""
    from threadlint import baseline, suppress
    before = len(result.findings)
    result.findings = suppress.apply(result.findings, root,
                                     require_reason=settings.get("require_reason", True),
                                     rules_ran={r.id for r in result.rules},
                                     sources=getattr(result, "sources", ()))
    silenced = before - sum(1 for f in result.findings if f.rule != suppress.UNUSED_RULE)
    if silenced > 0:
        result.notes.append(f"{silenced} finding(s) suppressed by threadlint: comments")
    all_findings = result.findings
    if filters.write:
        filters.entries = [baseline.entry(f) for f in all_findings]
        try:
            baseline.dump(filters.write, filters.entries)
        except OSError as e:
            raise UsageError(f"{filters.write}: cannot write baseline ({e.strerror})") from None
        result.notes.append(f"wrote {len(filters.entries)} finding(s) to baseline {filters.write}")
    if filters.entries is not None:
        new, stale = baseline.apply(all_findings, filters.entries)
        hidden = len(all_findings) - len(new)
        result.findings = new
        result.stale_baseline = stale
        if hidden and not filters.write:
            result.notes.append(f"{hidden} finding(s) hidden by baseline {filters.baseline}")
        if stale and filters.update:
            removed = len(filters.entries) - len(baseline.update(filters.baseline, all_findings))
            result.notes.append(f"removed {removed} stale entr{'y' if removed == 1 else 'ies'} "
                                f"from {filters.baseline}")
        elif stale:
            result.notes.append(f"{len(stale)} baseline entr{'y' if len(stale) == 1 else 'ies'} "
                                "no longer match any finding (stale; remove them with "
                                "--update-baseline)")
    if filters.diff_base:
        from threadlint import diffbase
        changed = diffbase.changed_lines(root, filters.diff_base)
        kept = [f for f in result.findings if f.location.line in changed.get(f.location.path, ())]
        if len(kept) != len(result.findings):
            result.notes.append(f"{len(result.findings) - len(kept)} finding(s) on lines not "
                                f"changed since {filters.diff_base} not shown")
        result.findings = kept
    if filters.only_files is not None:
        wanted = {os.path.relpath(os.path.abspath(p), root).replace(os.sep, "/")
                  for p in filters.only_files}
        result.findings = [f for f in result.findings if f.location.path in wanted]


def exit_code(findings, fail_on: str, exit_zero: bool) -> int:
    """1 when a finding is at or above ``fail_on`` (error > warning > note), else 0."""
    if exit_zero:
        return 0
    limit = SEVERITY_RANK[fail_on]
    return 1 if any(SEVERITY_RANK[f.severity] <= limit for f in findings) else 0


def _write_report(result, args) -> None:
    from threadlint.reporters import render
    text = render(args.format, result, color_target=None if args.output else sys.stdout,
                  report_url=args.github_report_url)
    if args.output:
        from threadlint.fsutil import atomic_write_text
        try:
            if os.path.exists(args.output) and not os.path.isfile(args.output):
                # /dev/null, /dev/stdout, a FIFO: write into it; a rename would
                # replace the device node itself (as root, /dev/null becomes a file)
                with open(args.output, "w", encoding="utf-8") as fh:
                    fh.write(text)
            else:
                atomic_write_text(args.output, text)
        except OSError as e:
            raise UsageError(f"{args.output}: cannot write report ({e.strerror})") from None
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _progress(done, total):
    sys.stderr.write(f"\rthreadlint: parsed {done}/{total} TUs")
    sys.stderr.flush()
