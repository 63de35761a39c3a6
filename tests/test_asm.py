"""The assembly line scanner and its small preprocessor."""
import pytest

from threadlint.frontend.asm import ExprError, eval_expr, scan

TASK_HOOK = """\
#include <cfg.h>
#define STACK_SIZE 1024

  .globl  start
  .functype  malloc (i32) -> (i32)
  .functype  __wasm_set_stack_pointer (i32) -> ()
  .import_module ctx_get, "$root"

start:
  .functype  start () -> ()
#ifdef FEATURE_ON
  i32.const STACK_SIZE
  call malloc          # allocate
#else
  call plain_path
#endif
#if VALUE >= 2 && !defined(NOPE)
  i32.load 4
  global.set __stack_pointer
#elif 1
  global.get __tls_base
#endif
  call __wasm_set_stack_pointer
  end_function
"""


@pytest.fixture
def inc(tmp_path):
    (tmp_path / "cfg.h").write_text("#ifdef ABI\n#define FEATURE_ON 1\n#endif\n#define VALUE 3\n")
    return str(tmp_path)


def test_functions_calls_globals_and_constants_follow_the_macro_state(inc):
    facts = scan("hook.S", TASK_HOOK, {"ABI": "1"}, [inc])
    (start,) = facts["functions"]
    assert start["name"] == "start" and start["l"] == 9
    assert [c["name"] for c in start["calls"]] == ["malloc", "__wasm_set_stack_pointer"]
    assert [g["name"] for g in start["global_set"]] == ["__stack_pointer"]
    assert start["global_get"] == []
    consts = [(c["op"], c["value"], c["l"], c["macro"]) for c in start["consts"]]
    assert consts == [("i32.const", 1024, 12, "STACK_SIZE"), ("i32.load", 4, 18, None)]
    assert start["instructions"] == 5
    assert "malloc" in facts["functypes"] and facts["globl"] == ["start"]
    assert facts["imports"] == [{"name": "ctx_get", "l": 7}]
    assert facts["defines"][0]["name"] == "STACK_SIZE" and facts["problems"] == []


def test_other_configuration_takes_the_else_branch(inc):
    facts = scan("hook.S", TASK_HOOK, {}, [inc])
    (start,) = facts["functions"]
    assert [c["name"] for c in start["calls"]] == ["plain_path", "__wasm_set_stack_pointer"]


def test_missing_include_and_unbalanced_if_are_problems_not_crashes():
    facts = scan("x.S", "#include <nope.h>\n#if 1\nf:\n  call g\n  end_function\n", {}, [])
    messages = [p["message"] for p in facts["problems"]]
    assert "#include not found: nope.h" in messages and "unterminated #if" in messages
    assert facts["functions"][0]["calls"] == [{"name": "g", "l": 4}]


def test_empty_file_is_marked_empty():
    assert scan("e.S", "\n  \n", {}, [])["empty"] is True


@pytest.mark.parametrize("expr,value", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("defined(A) && A > 1", 1), ("defined B", 0),
    ("!A == 0", 1), ("A ? 10 : 20", 10), ("UNDEFINED_NAME", 0), ("0x10 >> 2", 4), ("2L == 2", 1),
])
def test_if_expressions(expr, value):
    assert eval_expr(expr, {"A": "2"}) == value


@pytest.mark.parametrize("expr", ["1 +", "(1", "1 / 0", "@"])
def test_bad_if_expressions_raise(expr):
    with pytest.raises(ExprError):
        eval_expr(expr, {})


def test_included_files_are_reported_as_dependencies(tmp_path):
    (tmp_path / "outer.h").write_text('#include "inner.h"\n#define OUTER 1\n')
    (tmp_path / "inner.h").write_text("#define INNER 1\n")
    facts = scan(str(tmp_path / "x.S"), '#include <outer.h>\nf:\n  end_function\n', {},
                 [str(tmp_path)])
    assert facts["includes"] == sorted([str(tmp_path / "inner.h"), str(tmp_path / "outer.h")])
    assert scan("y.S", "g:\n  end_function\n", {}, [])["includes"] == []
