"""Shared precompiled prefix headers: when they apply, and that they change nothing."""
import json
import os
import time

import pytest

from threadlint import engine
from threadlint.frontend import pch
from threadlint.frontend.parse import parse_c

ARGS = ["--target=wasm32-wasip3", "-D__wasm_libcall_thread_context__"]

GUARDED = """\
#ifndef COMMON_H
#define COMMON_H
#define LOCK(x) lock_it(&(x))
struct shared { int n; };
extern struct shared table;
void lock_it(int *p);
int helper(int);
#endif
"""

TU = """\
/* a licence header
   over several lines */
// and a line comment
#include "common.h"
#include "other.h"
static int local;
int api_{n}(int v) {{
    LOCK(local);
    table.n += v;
    return helper(v) + OTHER;
}}
"""


# enough TUs opening with the same #include for a PCH between them
NAMES = "abcdefghijklmnop"[:pch.MIN_GROUP]


def tree(tmp_path, header=GUARDED):
    (tmp_path / "common.h").write_text(header)
    (tmp_path / "other.h").write_text("#pragma once\n#define OTHER 2\n")
    for n in NAMES:
        (tmp_path / f"{n}.c").write_text(TU.format(n=n))
    return tmp_path


# -- which files get a prefix -----------------------------------------------------

def test_directive_after_comments_and_blank_lines(tmp_path):
    tree(tmp_path)
    local = os.path.join(str(tmp_path), "common.h")
    # the header sits next to the TU: the prefix names that very file
    assert pch.prefix_directive(str(tmp_path / "a.c"), ARGS) == f'#include "{local}"\n'


@pytest.mark.parametrize("head, expected", [
    ("#include <stdio.h>\nint x;\n", "#include <stdio.h>\n"),
    ('  #  include "missing_here.h"\n', '#include "missing_here.h"\n'),
    ("#define _GNU_SOURCE\n#include <stdio.h>\n", None),      # the define changes the header
    ("#if 1\n#include <stdio.h>\n#endif\n", None),
    ("int x;\n#include <stdio.h>\n", None),
    ("/* unterminated comment\n#include <stdio.h>\n", None),
    ("/*" + "x" * 20000 + "*/\n#include <stdio.h>\n", None),     # beyond the bytes read
    ("", None),
])
def test_only_a_leading_include_is_a_prefix(tmp_path, head, expected):
    path = tmp_path / "t.c"
    path.write_text(head)
    assert pch.prefix_directive(str(path), ARGS) == expected


@pytest.mark.parametrize("flag", [["-include", "x.h"], ["-imacros", "x.h"], ["-include-pch", "x.pch"],
                                  ["-includex.h"]])
def test_forced_includes_disable_the_prefix(tmp_path, flag):
    tree(tmp_path)
    assert pch.prefix_directive(str(tmp_path / "a.c"), ARGS + flag) is None


def test_engine_shares_a_prefix_only_between_enough_jobs_with_the_same_arguments(tmp_path):
    tree(tmp_path)
    (tmp_path / "lone.c").write_text("#include <stddef.h>\nint c;\n")
    group = [engine._CJob(str(tmp_path / f"{n}.c"), tuple(ARGS)) for n in NAMES]
    others = [engine._CJob(str(tmp_path / "a.c"), tuple(ARGS + ["-DX"])),
              engine._CJob(str(tmp_path / "lone.c"), tuple(ARGS))]
    *shared, a_x, lone = engine._shared_prefixes(group + others)
    assert len(set(shared)) == 1 and shared[0].startswith("#include")
    assert a_x is None and lone is None         # nobody to share with
    # one TU fewer than MIN_GROUP: the PCH would not pay for itself
    assert engine._shared_prefixes(group[1:]) == [None] * (len(group) - 1)


# -- parsing through the PCH -------------------------------------------------------

def parse_both(tmp_path, name="a.c"):
    path = str(tmp_path / name)
    plain = parse_c(path, list(ARGS))
    pch_dir = tmp_path / "pch"
    pch_dir.mkdir(exist_ok=True)
    shared = parse_c(path, list(ARGS), pch.prefix_directive(path, ARGS), str(pch_dir))
    return plain, shared


def test_pch_parse_gives_the_same_facts_and_dependencies(tmp_path):
    tree(tmp_path)
    plain, shared = parse_both(tmp_path)
    assert shared["pch"] and not plain["pch"]
    for key in ("facts", "diagnostics", "includes", "live_codegen_macros", "dropped_args"):
        assert shared[key] == plain[key], key
    assert {os.path.basename(p) for p in shared["includes"]} == {"common.h", "other.h"}
    macros = [m["name"] for m in shared["facts"]["macros"]]
    assert "LOCK" in macros and "OTHER" in macros      # expansions of macros read from the PCH


def test_unguarded_header_is_parsed_plainly(tmp_path):
    tree(tmp_path, header=GUARDED.replace("#ifndef COMMON_H\n#define COMMON_H\n", "")
         .replace("#endif\n", ""))
    plain, shared = parse_both(tmp_path)
    assert not shared["pch"]
    assert shared["facts"] == plain["facts"] and shared["diagnostics"] == []


def test_header_changed_after_the_pch_was_built_falls_back_to_a_plain_parse(tmp_path):
    tree(tmp_path)
    pch_dir = tmp_path / "pch"
    pch_dir.mkdir()
    first = parse_c(str(tmp_path / "a.c"), list(ARGS), pch.prefix_directive(str(tmp_path / "a.c"), ARGS),
                    str(pch_dir))
    assert first["pch"]
    header = tmp_path / "common.h"
    header.write_text(GUARDED.replace("int helper(int);", "int helper(int);\nint added(void);"))
    later = time.time() + 5
    os.utime(header, (later, later))
    path = str(tmp_path / "b.c")
    second = parse_c(path, list(ARGS), pch.prefix_directive(path, ARGS), str(pch_dir))
    # libclang rejects the stale PCH; the plain parse reads the new header
    assert not second["pch"] and second["diagnostics"] == []
    assert second["facts"] == parse_c(path, list(ARGS))["facts"]
    # and the rest of the group no longer tries it
    assert pch_module_prefixes().get(pch.prefix_directive(path, ARGS), ARGS, str(pch_dir)) is None


def pch_module_prefixes():
    from threadlint.frontend import parse
    return parse._prefixes


def test_engine_results_do_not_depend_on_the_pch(tmp_path):
    from threadlint import compdb, inputs, profile as profile_mod, registry

    (tmp_path / "src").mkdir()
    src = tree(tmp_path / "src")
    db = tmp_path / "compile_commands.json"
    db.write_text(json.dumps([{"directory": str(src), "file": f"{n}.c",
                               "arguments": ["clang", *ARGS, "-c", f"{n}.c"]} for n in NAMES]))
    prof = profile_mod.load("wasi-libc", registry.profile_schema())
    rules = registry.decide(None, None)
    config = inputs.BuildConfig("b", str(db), compdb.load(str(db), str(src)))
    assert all(engine._shared_prefixes([engine._CJob(e.file, e.args) for e in config.entries]))
    results = []
    for use_pch in (True, False):
        opts = engine.Options(root=str(src), configs=[config], profile=prof, rules=rules, pch=use_pch)
        project, _ = engine.analyse(opts)
        results.append([(tu.path, tu.facts, tu.includes) for p in project.programs for tu in p.tus])
    assert results[0] == results[1] and len(results[0]) == len(NAMES)
