"""Execution: parse every TU once, build the program model, run the rules.

Discovery (``inputs``), decision (``registry.decide``), execution (here) and
formatting (``reporters``) are separate so each stays small.
"""
from __future__ import annotations

import gc
import os
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

from threadlint import __version__, adapter, parallel
from threadlint.facts import AsmFile, EncodedBodies, Program, Project, TU
from threadlint.finding import Finding, compute_fingerprint
from threadlint.frontend import asm as asm_scanner, pch, summary
from threadlint.inputs import BuildConfig, tree_files
from threadlint.sources import SourceLines
from threadlint.result import ConfigInfo, RuleMeta, RunResult


@dataclass
class Options:
    root: str
    configs: list[BuildConfig]
    profile: object
    rules: list
    jobs: int = 1
    timeout: float = 120.0
    cache: object = None          # threadlint.cache.FactCache or None
    progress: object = None       # callable(done, total) or None
    tree: list[str] | None = None  # the run's listing of root (default: taken here)
    pch: bool = True              # shared precompiled prefix headers (frontend.pch)


@dataclass
class _CJob:
    path: str
    args: tuple[str, ...]
    pic_variants: list[tuple[str, ...]] = field(default_factory=list)
    result: dict | None = None      # without the function bodies ...
    bodies: EncodedBodies | None = None   # ... which stay encoded until a rule needs them
    failure: str = ""

    def take(self, loaded: tuple[dict, bytes]) -> None:
        self.result, self.bodies = loaded[0], EncodedBodies(loaded[1])


def run(opts: Options) -> RunResult:
    t0 = time.monotonic()
    from threadlint.frontend.cxbind import clang_version
    # No cyclic GC while the model is built and the rules run: the fact trees,
    # indexes and call graphs are large, acyclic and live until the end, and
    # short-lived objects are freed by reference counting, so collections only
    # cost time (measured: 15% of the rule phase, 5% of an incremental run).
    # Frozen afterwards, so that later collections never rescan them.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        project, infos = analyse(opts)
        findings = run_rules(opts.rules, project)
    finally:
        gc.freeze()
        if gc_was_enabled:
            gc.enable()
    findings = finalize(findings, opts.root)
    metas = [RuleMeta(r.id, r.name, r.summary, r.severity, r.precision) for r in opts.rules]
    read = _read_files(project)
    return RunResult(tool_version=__version__, libclang_version=clang_version(), root=opts.root,
                     profile_name=getattr(opts.profile, "name", ""), configs=infos, rules=metas,
                     findings=findings, seconds=time.monotonic() - t0,
                     sources=analysed_sources(project, read), inputs=analysed_inputs(project, read),
                     complete=not any(tu.crashed for p in project.programs for tu in p.tus),
                     not_utf8=sorted({f.abspath for p in project.programs for f in [*p.tus, *p.asm]
                                      if f.not_utf8}))


def analysed_inputs(project: Project, read: set[str]) -> set[str]:
    """Absolute paths of every file the analysis read: ``read`` (``_read_files``)
    and the assembly files' includes."""
    out = set(read)
    for program in project.programs:
        for a in program.asm:
            out.update(a.facts.get("includes", ()))
    return out


def analysed_sources(project: Project, read: set[str]) -> list[str]:
    """Relative paths of the files under root among ``read`` (``_read_files``:
    C files, their headers, assembly files)."""
    prefix = os.path.join(project.root, "")
    rel = {_rel(project.root, p) for p in read if p.startswith(prefix)}
    return sorted(p for p in rel if not p.startswith("../"))


def _read_files(project: Project) -> set[str]:
    """Absolute paths of the C main files, every header they included, and the
    assembly files (thousands of TUs share the headers: one set for all)."""
    out: set[str] = set()
    for program in project.programs:
        for tu in program.tus:
            out.add(tu.abspath)
            out.update(tu.includes)
        out.update(a.abspath for a in program.asm)
    return out


def analyse(opts: Options) -> tuple[Project, list[ConfigInfo]]:
    """Parse everything (cache first) and build the program model."""
    from threadlint.frontend.cxbind import clang_major
    major = clang_major()
    root = opts.root

    # 1. Work units: each distinct (file, effective args) once, across configurations.
    jobs: dict[tuple, _CJob] = {}
    variants: dict[tuple, list[tuple]] = {}
    per_config: dict[str, list[tuple]] = {}
    asm_entries: dict[str, list] = {}
    for cfg in opts.configs:
        keys = []
        seen = set()
        asm_entries[cfg.name] = []
        for e in cfg.entries:
            if e.is_asm:
                if e.file not in {a.file for a in asm_entries[cfg.name]}:
                    asm_entries[cfg.name].append(e)
                continue
            if not e.file.endswith(".c"):
                continue
            args = tuple(adapter.adapt(e.args, opts.profile, major))
            kept, pic = adapter.dedupe_key(args)
            key = (e.file, kept)
            variants.setdefault(key, [])
            if args not in variants[key]:
                variants[key].append(args)
            if key not in seen:
                seen.add(key)
                keys.append(key)
        per_config[cfg.name] = keys
    for key, arg_lists in variants.items():
        # the representative is a variant without PIC-like flags when there is one
        arg_lists.sort(key=lambda a: (len(adapter.dedupe_key(a)[1]), a))
        jobs[key] = _CJob(key[0], arg_lists[0], arg_lists[1:])

    asm_files: dict[str, list[AsmFile]] = {}

    def beside_parsing() -> None:
        """What needs no parse result, done while the workers parse: the
        assembly, and each configuration's predefined macros (read by rules
        through ``Program.predefined``, from its first TU's arguments)."""
        for cfg in opts.configs:
            asm_files[cfg.name] = [_asm(root, e, opts, major) for e in asm_entries[cfg.name]]
            if per_config[cfg.name]:
                _predefines(jobs[per_config[cfg.name][0]].args, opts.cache)

    # 2. Parse (cache first, then workers, most expensive first).
    # PIC variants matter only when a file of the TU tests the PIC macros.
    extra = _execute(list(jobs.values()), opts, beside_parsing)
    variant_results = {(j.path, j.args): j for j in extra}

    # 3. Program model per configuration.
    programs = []
    infos = []
    for cfg in opts.configs:
        tus = []
        for key in per_config[cfg.name]:
            job = jobs[key]
            tus.append(_tu(root, job))
            for v in job.pic_variants:
                vj = variant_results.get((job.path, v))
                if vj is not None:
                    tus.append(_tu(root, vj))
        programs.append(Program(cfg.name, root, opts.profile, tus, asm_files[cfg.name], cfg.database,
                                predefined_for=lambda args: _predefines(args, opts.cache)))
        infos.append(ConfigInfo(cfg.name, cfg.database, len(per_config[cfg.name]), len(asm_files[cfg.name])))
    tree = opts.tree if opts.tree is not None else tree_files(root)
    return Project(root, opts.profile, programs, tree), infos


def _execute(job_list: list[_CJob], opts: Options, beside_parsing=None) -> list[_CJob]:
    """Give every job its result: from the cache, else from the workers (most
    expensive first).  A job whose result shows that a file of the TU tests a
    PIC-like macro gets its PIC variants parsed too, by the same workers as soon
    as that is known; returns those variant jobs.  ``beside_parsing()`` runs in
    this process while the workers parse."""
    misses, hits = [], []
    for job in job_list:
        entry = opts.cache.lookup(job.path, job.args) if opts.cache else None
        if entry is not None:
            hits.append((job, entry))
        else:
            misses.append(job)
    if misses:
        # Imported before the workers fork, so that each starts with it loaded
        # (the assembly scanner needs it in this process anyway).
        import threadlint.frontend.parse  # noqa: F401
    misses.sort(key=lambda j: (-_size(j.path), j.path, j.args))
    prefixes = _shared_prefixes(misses) if opts.pch else [None] * len(misses)
    variants: list[_CJob] = []
    with tempfile.TemporaryDirectory(prefix="threadlint-pch-") as pch_dir:
        batch: list[_CJob] = []
        specs: list[tuple] = []         # grows while the workers run (parallel.run)

        def parse(job: _CJob, prefix: str | None = None) -> None:
            batch.append(job)
            specs.append(("c", job.path, job.args, prefix, pch_dir))

        def settled(job: _CJob) -> None:
            for vj in _pic_variants(job):
                variants.append(vj)
                entry = opts.cache.lookup(vj.path, vj.args) if opts.cache else None
                loaded = entry.load() if entry is not None else None
                if loaded is None:
                    parse(vj)
                else:
                    vj.take(loaded)

        def decode_hits() -> None:
            for job, entry in hits:
                loaded = entry.load()
                if loaded is None:
                    parse(job)          # undecodable despite its checksum
                else:
                    job.take(loaded)
                    settled(job)

        def independent_work() -> None:
            """What needs neither a parse result nor the cache hits."""
            import threadlint.callgraph  # noqa: F401  (networkx: ~0.1 s of imports the model needs)
            if beside_parsing is not None:
                beside_parsing()

        def while_parsing() -> None:
            """This process's work that overlaps the workers' parsing."""
            decode_hits()
            independent_work()

        for job, prefix in zip(misses, prefixes):
            parse(job, prefix)
        # After a fork every page this process writes is copied while the child
        # lives (decoding ~900 whole entries beside a worker took 0.17 s instead
        # of 0.10 s); with a few parses (~0.02 s each, round trip included) there
        # is little to overlap, so the heads are decoded first.  Many misses: overlap.
        # Either way the imports and the assembly overlap the parses: they
        # allocate new objects more than they write old pages.
        decode_first = len(misses) <= FEW_MISSES
        if decode_first:
            decode_hits()
        _collect(batch, parallel.run(specs, opts.jobs, opts.timeout,
                                     while_waiting=independent_work if decode_first else while_parsing,
                                     affinity=_parse_setup),
                 opts, settled)
    return variants


# Up to this many TUs to parse, the cache hits are decoded before the workers start.
FEW_MISSES = 4


def _parse_setup(spec: tuple):
    """Jobs parsed with the same arguments and precompiled prefix: best parsed
    by one worker, one after the other (it builds the prefix once and reparses
    one TU, ``frontend/reparse.py``)."""
    _, _, args, prefix, _ = spec
    return prefix, args


def _shared_prefixes(todo: list[_CJob]) -> list[str | None]:
    """Each job's leading #include when other jobs with its arguments share it
    (worth one precompiled header between them), else None."""
    directives = [pch.prefix_directive(j.path, j.args) for j in todo]
    uses = Counter((d, j.args) for d, j in zip(directives, todo) if d)
    return [d if d and uses[d, j.args] >= pch.MIN_GROUP else None for d, j in zip(directives, todo)]


def _collect(batch: list[_CJob], runner, opts: Options, settled) -> None:
    done = 0
    for i, ok, payload in runner:
        job = batch[i]
        loaded = summary.split(payload) if ok else None
        if loaded is not None:
            job.take(loaded)
            if opts.cache:
                opts.cache.put(job.path, job.args, job.result, raw=payload)
            settled(job)
        else:
            job.failure = str(payload) if not ok else "the worker's result does not decode"
        done += 1
        if opts.progress:
            opts.progress(done, len(batch))


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _pic_variants(job: _CJob) -> list[_CJob]:
    """Variants differing only in -fPIC-like flags are parsed too when the TU
    tests one of the macros those flags define in live preprocessor code."""
    if job.pic_variants and job.result is not None and job.result.get("live_codegen_macros"):
        return [_CJob(job.path, v) for v in job.pic_variants]
    return []


def _rel(root: str, path: str) -> str:
    prefix = root.rstrip(os.sep) + os.sep
    if path.startswith(prefix) and os.path.isabs(root) and os.path.normpath(path) == path:
        return path[len(prefix):].replace(os.sep, "/")     # relpath, without its normalising
    return os.path.relpath(path, root).replace(os.sep, "/")


def _tu(root: str, job: _CJob) -> TU:
    res = job.result or {}
    diags = [dict(d, path=_rel(root, d["path"]) if d.get("path") else "") for d in res.get("diagnostics", [])]
    return TU(path=_rel(root, job.path), abspath=job.path, args=job.args,
              facts=res.get("facts", {"functions": [], "globals": [], "records": [], "macros": [],
                                      "top_events": []}),
              includes=res.get("includes", []), diagnostics=diags, crashed=job.failure,
              bodies=job.bodies if "facts" in res else None, not_utf8=bool(res.get("not_utf8")))


def _asm(root: str, entry, opts: Options, major: int) -> AsmFile:
    args = tuple(adapter.adapt(entry.args, opts.profile, major))
    include_dirs = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-I", "-isystem")]
    include_dirs += [a[2:] for a in args if a.startswith("-I") and len(a) > 2]
    try:
        with open(entry.file, "rb") as fh:
            data = fh.read()
    except OSError as e:
        facts = {"functions": [], "problems": [{"l": 1, "message": f"cannot read: {e.strerror}"}]}
        return AsmFile(_rel(root, entry.file), entry.file, facts)
    try:
        text, not_utf8 = data.decode("utf-8"), False
    except UnicodeDecodeError:
        text, not_utf8 = data.decode("utf-8", "replace"), True
    facts = asm_scanner.scan(entry.file, text, _predefines(args, opts.cache), include_dirs)
    return AsmFile(_rel(root, entry.file), entry.file, facts, not_utf8)


def _predefines(args: tuple[str, ...], cache) -> dict[str, str]:
    """The configuration's predefined macros (a libclang parse of an empty file),
    from the cache when the arguments read no file (``-include``, ``-imacros``)."""
    from threadlint.frontend.parse import predefined_macros
    if cache is None or any(a.startswith(("-include", "-imacros", "--include", "@")) for a in args):
        return predefined_macros(args)
    value = cache.get_value("predefines", list(args))
    if not isinstance(value, dict):
        value = predefined_macros(args)
        cache.put_value("predefines", list(args), value)
    return value


def run_rules(rules, project: Project) -> list[Finding]:
    """Every rule's findings, in rule order.

    In one process: running the costliest rule (TL101) in a forked copy beside
    the others was measured to gain nothing on a cold run and to lose ~0.03 s
    on a warm one, as both processes copy every page of the model they touch
    (reference counts are writes)."""
    out: list[Finding] = []
    for rule_cls in rules:
        rule = rule_cls()
        if rule.scope == "project":
            if len(project.programs) < rule.min_configs:
                continue
            out.extend(rule.check_project(project))
            continue
        for program in project.programs:
            if rule.scope == "program":
                found = rule.check_program(program)
            else:
                found = [f for tu in program.tus for f in rule.check_tu(tu, program)]
            out.extend(f if f.configs else replace(f, configs=(program.name,)) for f in found)
    return out


def finalize(findings: list[Finding], root: str) -> list[Finding]:
    """Merge identical findings of several configurations, fingerprint, sort."""
    merged: dict[tuple, Finding] = {}
    configs: dict[tuple, set] = defaultdict(set)
    for f in findings:
        key = (f.rule, f.location, f.message, f.function)
        merged.setdefault(key, f)
        configs[key].update(f.configs)
    sources = SourceLines(root)
    out = []
    for key, f in merged.items():
        f = f.with_configs(configs[key])
        code = sources.line(f.location.path, f.location.line)
        out.append(replace(f, fingerprint=compute_fingerprint(f, code)))
    out.sort(key=Finding.sort_key)
    seen: dict[str, int] = {}
    final = []
    for f in out:
        n = seen.get(f.fingerprint, 0)
        seen[f.fingerprint] = n + 1
        final.append(f if n == 0 else replace(f, fingerprint=f"{f.fingerprint}-{n + 1}"))
    return final
