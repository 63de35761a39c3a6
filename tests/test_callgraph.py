"""Call graph over C TUs and assembly: static keys, edge kinds, witness paths."""
import os

from harness import write_databases
from threadlint import engine, profile as profile_mod, registry
from threadlint.inputs import load_configs

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "callgraph")


def program(tmp_path):
    specs = write_databases(FIXTURE, str(tmp_path))
    prof = profile_mod.load("wasi-libc", registry.profile_schema())
    opts = engine.Options(root=FIXTURE, configs=load_configs(specs, FIXTURE, None), profile=prof,
                          rules=[], jobs=1)
    project, _ = engine.analyse(opts)
    (prog,) = project.programs
    return prog


def test_static_functions_are_keyed_by_file(tmp_path):
    g = program(tmp_path).callgraph
    assert g.key("a.c", "helper") == "a.c::helper"
    assert g.key("b.c", "helper") == "b.c::helper"
    assert g.g.has_edge("api", "a.c::helper")
    assert g.g.has_edge("other", "b.c::helper")
    assert not g.g.has_edge("api", "b.c::helper")


def test_edge_kinds_alias_function_pointer_and_assembly(tmp_path):
    g = program(tmp_path).callgraph.g
    assert g.edges["api_alias", "__api_impl"]["kind"] == "alias"
    assert g.edges["installs", "cb"]["kind"] == "fptr"
    assert g.edges["installs", "register_cb"]["kind"] == "call"
    assert g.edges["entry", "api"]["kind"] == "asm"
    assert g.nodes["entry"]["kind"] == "asm"
    assert g.nodes["yield_now"]["kind"] == "undefined"


def test_shortest_witness_chain_with_call_sites(tmp_path):
    cg = program(tmp_path).callgraph
    chain = cg.witness("entry", {"yield_now"})
    assert [(s.caller, s.callee, s.kind) for s in chain] == [
        ("entry", "api", "asm"), ("api", "a.c::helper", "call"), ("a.c::helper", "yield_now", "call")]
    assert chain[1].site == ("a.c", 3, 18)
    assert cg.witness("other", {"yield_now"}) is None
    reaching = cg.reaching({"yield_now"})
    assert reaching["entry"] == ["entry", "api", "a.c::helper", "yield_now"]
    assert "other" not in reaching
