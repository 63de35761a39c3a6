"""Functional-test harness: run rules on a fixture directory and compare the
findings with the ``expect:`` markers written next to the lines that should
trigger them (semgrep/pylint style).

Markers: ``/* expect: TL102 */`` or ``// expect: TL102, TL104`` in C, and
``# expect: TL501`` in assembly, on the line the finding is reported at.
A fixture directory may hold ``fixture.toml``:

    [configs.coop]                      # one table per build configuration
    args = ["--target=wasm32-wasip3"]   # '{dir}' is replaced by the fixture dir
    files = ["*.c", "*.s"]              # globs relative to the fixture (default: all)

Without it there is one configuration, ``coop``, targeting wasm32-wasip3.
Every configuration also gets ``-I tests/fixtures/include``.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import tomllib

from threadlint import engine, profile as profile_mod, registry
from threadlint.inputs import load_configs

HERE = os.path.dirname(os.path.abspath(__file__))
COMMON_INCLUDE = os.path.join(HERE, "fixtures", "include")
EXPECT = re.compile(r"expect:\s*((?:TL\d{3}\s*,?\s*)+)")
SOURCE_EXTS = (".c", ".s", ".S", ".h")


def expected(fixture_dir: str) -> set[tuple[str, int, str]]:
    out = set()
    for dirpath, _, files in os.walk(fixture_dir):
        for f in sorted(files):
            if not f.endswith(SOURCE_EXTS):
                continue
            full = os.path.join(dirpath, f)
            rel = os.path.relpath(full, fixture_dir).replace(os.sep, "/")
            with open(full, encoding="utf-8") as fh:
                for no, line in enumerate(fh, 1):
                    m = EXPECT.search(line)
                    if m:
                        for rid in re.findall(r"TL\d{3}", m.group(1)):
                            out.add((rel, no, rid))
    return out


def write_databases(fixture_dir: str, out_dir: str) -> list[str]:
    """compile_commands.json per configuration; returns NAME=PATH specs."""
    spec_path = os.path.join(fixture_dir, "fixture.toml")
    configs = {"coop": {"args": ["--target=wasm32-wasip3"]}}
    if os.path.isfile(spec_path):
        with open(spec_path, "rb") as fh:
            configs = tomllib.load(fh)["configs"]
    sources = []
    for dirpath, _, files in os.walk(fixture_dir):
        for f in sorted(files):
            if f.endswith((".c", ".s", ".S")):
                sources.append(os.path.relpath(os.path.join(dirpath, f), fixture_dir))
    specs = []
    for name, cfg in configs.items():
        globs = cfg.get("files", ["*"])
        args = [a.replace("{dir}", fixture_dir) for a in cfg.get("args", [])]
        entries = []
        for rel in sources:
            if not any(fnmatch.fnmatch(rel, g) for g in globs):
                continue
            entries.append({"directory": fixture_dir, "file": os.path.join(fixture_dir, rel),
                            "arguments": ["clang", *args, "-I", COMMON_INCLUDE, "-c", rel]})
        d = os.path.join(out_dir, f"build-{name}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "compile_commands.json"), "w") as fh:
            json.dump(entries, fh, indent=1)
        specs.append(f"{name}={d}")
    return specs


def run_rules_opts(fixture_dir: str, tmp_dir: str, select: list[str] | None = None,
                   profile: str = "wasi-libc") -> engine.Options:
    """Engine options for the selected rules (default: all) on a fixture directory."""
    specs = write_databases(fixture_dir, tmp_dir)
    prof = profile_mod.load(profile, registry.profile_schema())
    configs = load_configs(specs, fixture_dir, None)
    return engine.Options(root=fixture_dir, configs=configs, profile=prof,
                          rules=registry.decide(select, None), jobs=1)


def run_rules(fixture_dir: str, tmp_dir: str, select: list[str], profile: str = "wasi-libc"):
    """Findings of the selected rules on a fixture directory."""
    return engine.run(run_rules_opts(fixture_dir, tmp_dir, select, profile)).findings


def actual(findings) -> set[tuple[str, int, str]]:
    return {(f.location.path, f.location.line, f.rule) for f in findings}


def check_fixture(fixture_dir: str, tmp_dir: str, select: list[str]):
    """Assert the findings equal the markers; returns the findings for more checks."""
    findings = run_rules(fixture_dir, tmp_dir, select)
    want = {e for e in expected(fixture_dir) if e[2] in select}
    got = {a for a in actual(findings) if a[2] in select}
    missing = sorted(want - got)
    extra = sorted(got - want)
    details = "\n".join(f"  {f.location.path}:{f.location.line} {f.rule} {f.message}"
                        for f in findings if (f.location.path, f.location.line, f.rule) in set(extra))
    assert not missing and not extra, (
        f"fixture {os.path.basename(fixture_dir)}:\n missing (expected, not reported): {missing}\n"
        f" unexpected (reported, no marker): {extra}\n{details}")
    return findings
