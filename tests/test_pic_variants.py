"""Entries differing only in -fPIC: parsed once, unless the TU tests __PIC__ in live code."""
import json

import pytest

from threadlint import cache as cache_mod, compdb, engine, inputs, profile as profile_mod, registry

ARGS = ["--target=wasm32-wasip3", "-D__wasm_libcall_thread_context__"]

SENSITIVE = """\
#ifdef __PIC__
int pic_only(void) { return 1; }
#else
int static_only(void) { return 2; }
#endif
"""
PLAIN = "int same(void) { return 3; }\n"


def build(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "sensitive.c").write_text(SENSITIVE)
    (src / "plain.c").write_text(PLAIN)
    db = tmp_path / "compile_commands.json"
    entries = [{"directory": str(src), "file": f"{name}.c",
                "arguments": ["clang", *ARGS, *pic, "-c", f"{name}.c"]}
               for name in ("sensitive", "plain") for pic in ([], ["-fPIC"])]
    db.write_text(json.dumps(entries))
    return src, db


def analyse(src, db, cache=None, jobs=1):
    prof = profile_mod.load("wasi-libc", registry.profile_schema())
    config = inputs.BuildConfig("b", str(db), compdb.load(str(db), str(src)))
    opts = engine.Options(root=str(src), configs=[config], profile=prof, rules=registry.decide(None, None),
                          cache=cache, jobs=jobs)
    project, _ = engine.analyse(opts)
    return sorted((tu.path, "-fPIC" in tu.args, tuple(f["name"] for f in tu.functions))
                  for tu in project.programs[0].tus)


EXPECTED = [("plain.c", False, ("same",)),
            ("sensitive.c", False, ("static_only",)),
            ("sensitive.c", True, ("pic_only",))]


@pytest.mark.parametrize("jobs", [1, 2])
def test_only_the_tu_that_tests_pic_gets_its_pic_variant(tmp_path, jobs):
    src, db = build(tmp_path)
    assert analyse(src, db, jobs=jobs) == EXPECTED


def test_pic_variant_comes_from_the_cache_on_the_next_run(tmp_path, monkeypatch):
    src, db = build(tmp_path)
    cache = cache_mod.FactCache(str(tmp_path / "cache"), "lib", "test")
    assert analyse(src, db, cache) == EXPECTED
    parsed = []
    real = engine.parallel.run

    def spy(specs, *a, **k):
        for item in real(specs, *a, **k):
            parsed.append(specs[item[0]][1:3])
            yield item

    monkeypatch.setattr(engine.parallel, "run", spy)
    cache2 = cache_mod.FactCache(str(tmp_path / "cache"), "lib", "test")
    assert analyse(src, db, cache2) == EXPECTED
    assert parsed == []
