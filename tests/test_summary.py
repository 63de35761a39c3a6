"""Function summaries (frontend.summary) and the lazily decoded bodies they spare.

The rules test a summary first and look into the body only when it says the
function may matter, so a summary must say exactly what the body holds; these
tests derive each key from the body independently and compare, on every
function of the rule fixtures and the examples.
"""
import os

import pytest

from harness import run_rules_opts

from threadlint import engine
from threadlint.cache import FactCache
from threadlint.facts import EncodedBodies, TU, iter_events, walk
from threadlint.frontend import summary

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "rules")
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples")
TREES = sorted(os.path.join(FIXTURES, d) for d in os.listdir(FIXTURES)) + [EXAMPLES]


def expected_summary(body: list) -> dict:
    """Each key from its definition, by the slow obvious route."""
    nodes = list(walk(body))
    writes = set()
    for ev, _ in iter_events(body, writes=True):
        target = ev["sub"][:1] if ev["k"] == "assign" and len(ev.get("sub", ())) == 2 else \
            ev.get("sub", []) if ev["k"] == "incdec" else None
        if target is None:
            continue
        ref = next((n for n in walk(target) if n["k"] == "ref"), None)
        if ref and ref.get("s") in ("global", "static") and not ref.get("tls"):
            writes.add((ref["n"], ref["s"]))
    return {
        "calls": [[n["n"], n["l"], n["c"], n.get("m") or ""] for n in nodes
                  if n["k"] == "call" and not n.get("ind")],
        "frefs": [[n["n"], n["l"], n["c"]] for n in nodes if n["k"] == "fref"],
        "ind": sum(1 for n in nodes if n["k"] == "call" and n.get("ind")),
        "writes": sorted(map(list, writes)),
        "globals": sorted({n["n"] for n in nodes if n["k"] == "ref" and n.get("s") in ("global", "static")}),
        "macros": sorted({n["n"] for n in nodes if n["k"] == "macro"}),
        "casts": sorted({n["f"] for n in nodes if n["k"] == "cast" and n.get("f")}),
        "types": sorted({n["t"] for n in nodes if n.get("t") and (
            n["k"] == "decl" or (n["k"] == "ref" and n.get("s") in ("local", "param")))}),
        "kinds": sorted({n["k"] for n in nodes}),
    }


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    out = []
    for tree in TREES:
        opts = run_rules_opts(tree, str(tmp_path_factory.mktemp("db")))
        out.append(engine.analyse(opts)[0])
    return out


def test_every_summary_says_what_its_body_holds(projects):
    tus = [tu for project in projects for program in project.programs for tu in program.tus]
    assert all(tu.bodies is not None and tu.bodies.raw is not None for tu in tus)  # all lazy
    checked = 0
    for tu in tus:
        for fn in tu.functions:
            want = expected_summary(fn["body"])
            got = {k: fn[k] for k in summary.SUMMARY_KEYS}
            assert got == want, (tu.path, fn["name"])
            checked += 1
    assert checked > 100
    # the fixtures exercise every key, or the comparison above proves little
    seen = {k for p in projects for prog in p.programs for tu in prog.tus for fn in tu.heads
            for k in summary.SUMMARY_KEYS if fn[k]}
    assert seen == set(summary.SUMMARY_KEYS)


def test_encoded_result_round_trips_and_the_input_is_not_modified():
    body = [{"k": "call", "l": 2, "c": 3, "n": "f", "ind": False, "a": []}]
    result = {"facts": {"functions": [{"name": "g", "l": 1, "c": 1, "static": False, "params": [],
                                       "body": body}]}, "includes": []}
    raw = summary.encode(result)
    assert "calls" not in result["facts"]["functions"][0]
    head, bodies = summary.split(raw)
    (fn,) = head["facts"]["functions"]
    assert "body" not in fn and fn["calls"] == [["f", 2, 3, ""]]
    assert summary.attach_bodies(head["facts"]["functions"], bodies) and fn["body"] == body
    assert summary.split(b"no newline") is None
    assert not summary.attach_bodies([fn], b"[[], []]")         # one body per function


def test_tus_of_one_result_decode_its_bodies_once():
    raw = summary.encode({"facts": {"functions": [
        {"name": "g", "l": 1, "c": 1, "static": False, "params": [], "body": []}]}})
    head, bodies = summary.split(raw)
    shared = EncodedBodies(bodies)
    a = TU("a.c", "/a.c", (), head["facts"], bodies=shared)
    b = TU("a.c", "/a.c", ("-fPIC",), head["facts"], bodies=shared)
    assert a.heads[0]["calls"] == [] and shared.raw is not None
    assert a.body(a.heads[0]) == [] and shared.raw is None
    assert b.functions[0]["body"] == []


def test_damaged_bodies_are_an_internal_error_not_empty_functions():
    head, _ = summary.split(summary.encode({"facts": {"functions": [
        {"name": "g", "l": 1, "c": 1, "static": False, "params": [], "body": []}]}}))
    tu = TU("a.c", "/a.c", (), head["facts"], bodies=EncodedBodies(b"[[], [], "))
    with pytest.raises(RuntimeError, match="do not decode"):
        tu.functions


def test_a_warm_run_decodes_only_the_bodies_the_rules_look_into(tmp_path):
    """Same findings from the cache as from the parse, and some TU's bodies never decoded."""
    opts = run_rules_opts(EXAMPLES, str(tmp_path / "db"))
    opts.cache = FactCache(str(tmp_path / "cache"), "any", "1.0")
    cold = engine.run(opts)
    opts.cache = FactCache(str(tmp_path / "cache"), "any", "1.0")
    project, _ = engine.analyse(opts)
    warm = engine.run_rules(opts.rules, project)
    assert opts.cache.hits > 0 and opts.cache.misses == 0
    assert [f.fingerprint for f in engine.finalize(warm, opts.root)] == \
        [f.fingerprint for f in cold.findings]
    tus = [tu for p in project.programs for tu in p.tus]
    undecoded = [tu.path for tu in tus if tu.bodies.raw is not None]
    assert undecoded and len(undecoded) < len(tus)
