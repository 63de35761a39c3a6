"""The ``check`` command: settings -> inputs -> engine -> filters -> report -> exit code."""
from __future__ import annotations

import os
import sys

from threadlint import config as config_mod
from threadlint import engine, inputs, parallel, profile as profile_mod, registry
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
    configs = inputs.load_configs(builds, root, settings.get("fallback"))
    if not any(cfg.entries for cfg in configs):
        raise UsageError("nothing to analyse: the compile databases list no C or assembly files")
    _check_sources(configs)

    jobs = args.jobs if args.jobs is not None else settings.get("jobs") or parallel.default_jobs()
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    timeout = args.timeout if args.timeout is not None else settings.get("timeout", 120.0)
    cache = None
    if not args.no_cache:
        from threadlint.cache import FactCache
        from threadlint.frontend.cxbind import clang_version
        from threadlint import __version__
        cache_dir = (args.cache_dir or os.environ.get("THREADLINT_CACHE_DIR")
                     or settings.get("cache_dir") or os.path.join(root, ".threadlint_cache"))
        cache = FactCache(os.path.abspath(cache_dir), clang_version(), __version__)
    progress = None if args.quiet or not sys.stderr.isatty() else _progress
    opts = engine.Options(root=root, configs=configs, profile=profile, rules=rules, jobs=jobs,
                          timeout=timeout, cache=cache, progress=progress)
    result = engine.run(opts)
    if progress:
        sys.stderr.write("\r\033[K")

    _apply_filters(result, args, settings, root)
    _write_report(result, args)
    if args.interactive:
        from threadlint.report_app import run_findings
        run_findings(result.findings, result.rules, root)
    if args.exit_zero:
        return 0
    fail_on = args.fail_on or settings.get("fail_on") or "note"
    limit = SEVERITY_RANK[fail_on]
    return 1 if any(SEVERITY_RANK[f.severity] <= limit for f in result.findings) else 0


def _check_sources(configs) -> None:
    for cfg in configs:
        for e in cfg.entries:
            if not os.path.isfile(e.file):
                raise UsageError(f"{cfg.database or 'configuration'}: listed source does not exist: {e.file}")
            if not os.access(e.file, os.R_OK):
                raise UsageError(f"{e.file}: source file is not readable")


def _apply_filters(result, args, settings, root) -> None:
    """Suppressions, baseline, changed-lines and file filters (in that order)."""
    from threadlint import suppress
    all_findings = result.findings = suppress.apply(result.findings, root,
                                     require_reason=settings.get("require_reason", True),
                                     rules_ran={r.id for r in result.rules})
    if args.write_baseline:
        from threadlint import baseline
        baseline.dump(args.write_baseline, [baseline.entry(f) for f in result.findings])
    baseline_path = args.baseline or settings.get("baseline")
    if baseline_path and not args.write_baseline:
        from threadlint import baseline
        entries = baseline.load(baseline_path)
        new, stale = baseline.apply(result.findings, entries)
        hidden = len(result.findings) - len(new)
        result.findings = new
        result.stale_baseline = stale
        if hidden:
            result.notes.append(f"{hidden} finding(s) hidden by baseline {baseline_path}")
        if stale:
            result.notes.append(f"{len(stale)} baseline entr{'y' if len(stale) == 1 else 'ies'} "
                                "no longer match (stale)")
        if args.update_baseline:
            baseline.update(baseline_path, all_findings)
    if args.diff_base:
        from threadlint import diffbase
        changed = diffbase.changed_lines(root, args.diff_base)
        result.findings = [f for f in result.findings
                           if f.location.line in changed.get(f.location.path, ())]
    if args.only_files is not None:
        wanted = {os.path.relpath(os.path.abspath(p), root).replace(os.sep, "/") for p in args.only_files}
        result.findings = [f for f in result.findings if f.location.path in wanted]


def _write_report(result, args) -> None:
    from threadlint.reporters import render
    text = render(args.format, result, color_target=None if args.output else sys.stdout,
                  report_url=args.github_report_url)
    if args.output:
        from threadlint.fsutil import atomic_write_text
        try:
            atomic_write_text(args.output, text)
        except OSError as e:
            raise UsageError(f"{args.output}: cannot write report ({e.strerror})") from None
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _progress(done, total):
    sys.stderr.write(f"\rthreadlint: parsed {done}/{total} TUs")
    sys.stderr.flush()
