"""A TU reparsed through the one-line wrapper shows exactly what a fresh parse of it shows."""
import pytest

from threadlint.frontend import parse, reparse
from threadlint.frontend.parse import parse_c

ARGS = ["--target=wasm32-wasip1"]

HEADER = """\
#ifndef LOCAL_H
#define LOCAL_H
#include <stddef.h>
#define LOCK(x) lock_it(&(x))
struct box { int n; size_t len; };
void lock_it(int *);
size_t strlen(const char *);
#endif
"""

SOURCE = """\
#include "local.h"
static int counter;
#if NOT_DEFINED
int skipped(void) { return 1; }
#endif
const char *where(void) { return __FILE__; }
int use(struct box *b, const char *s)
{
    LOCK(counter);
    b->len = strlen(s);
    return (int)b->len + NAMED;
}
"""


@pytest.fixture
def tree(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    # "local.h" is found next to the source only: a quoted include looks in
    # the including file's directory, also when that file is the wrapper's inclusion
    (src / "local.h").write_text(HEADER)
    for name, value in (("a.c", 1), ("b.c", 2), ("c.c", 3)):
        (src / name).write_text(f"#define NAMED {value}\n" + SOURCE)
    return src


@pytest.fixture
def plain(monkeypatch):
    """parse_c as it was without the pool: a fresh libclang parse of the file itself."""
    def run(path, args):
        with monkeypatch.context() as m:
            m.setattr(reparse.ReparsePool, "parse", lambda self, index, p, a, options:
                      reparse.Parsed(index.parse(p, args=a, options=options), 1))
            return parse_c(path, list(args))
    return run


def test_reparsed_tus_give_what_fresh_parses_give(tree, plain):
    kept = set()
    for name in ("a.c", "b.c", "c.c"):
        path = str(tree / name)
        result = parse_c(path, ARGS)
        kept.add(id(parse._pool._kept[tuple(ARGS + parse.QUIET)]))
        assert result["diagnostics"] == [] and result == plain(path, ARGS)
    assert len(kept) == 1           # one TU, reparsed for b.c and c.c
    facts = parse_c(str(tree / "c.c"), ARGS)
    assert str(tree / "local.h") in facts["includes"] and str(tree / "c.c") not in facts["includes"]
    use = next(f for f in facts["facts"]["functions"] if f["name"] == "use")
    assert [n["n"] for n in use["body"] if n["k"] == "macro"] == ["LOCK"]
    assert facts["facts"]["skipped"]                # the #if NOT_DEFINED block


def test_one_tu_is_reparsed_for_every_file_with_the_same_arguments(tree):
    pool = reparse.ReparsePool(str(tree))
    index = parse.index()
    first = pool.parse(index, str(tree / "a.c"), ARGS, parse.PARSE_OPTIONS)
    second = pool.parse(index, str(tree / "b.c"), ARGS, parse.PARSE_OPTIONS)
    assert second.tu is first.tu and second.depth == 2
    other = pool.parse(index, str(tree / "c.c"), ARGS + ["-DX"], parse.PARSE_OPTIONS)
    assert other.tu is not first.tu


def test_a_header_edited_between_two_reparses_is_read_again(tmp_path):
    # a reparse starts from a fresh file manager: no stale header
    (tmp_path / "limit.h").write_text("#define LIMIT 1\n")
    for name in ("a.c", "b.c"):
        (tmp_path / name).write_text('#include "limit.h"\nint limit = LIMIT;\n')
    args = ARGS + ["-DEDITED_HEADER_TEST"]
    first = parse_c(str(tmp_path / "a.c"), args)
    kept = parse._pool._kept[tuple(args + parse.QUIET)]
    (tmp_path / "limit.h").write_text("#define LIMIT 2\n")
    second = parse_c(str(tmp_path / "b.c"), args)
    assert parse._pool._kept[tuple(args + parse.QUIET)] is kept        # reparsed
    assert [g["value"] for r in (first, second) for g in r["facts"]["globals"]] == [1, 2]


def test_a_tu_with_errors_is_not_reparsed(tmp_path):
    # after "too many errors emitted" libclang stopped every later reparse of
    # the same TU at once with that error: a clean file must still parse clean
    many = "".join(f"int f{i}(void) {{ return undeclared{i}; }}\n" for i in range(30))
    (tmp_path / "bad.c").write_text(many)
    (tmp_path / "good.c").write_text("int good(void) { return 0; }\n")
    (tmp_path / "typo.c").write_text("int typo(void) { return nope; }\n")
    results = [parse_c(str(tmp_path / n), ARGS) for n in ("good.c", "bad.c", "good.c", "typo.c", "good.c")]
    counts = [len(r["diagnostics"]) for r in results]
    assert counts == [0, 20, 0, 1, 0]
    assert results[3]["diagnostics"][0]["message"] == "use of undeclared identifier 'nope'"


@pytest.mark.parametrize("name", ['quote"d.c', "relative"])
def test_a_path_no_wrapper_can_include_is_parsed_plainly(tmp_path, monkeypatch, name):
    if name == "relative":
        monkeypatch.chdir(tmp_path)
        (tmp_path / "rel.c").write_text("int rel(void) { return 0; }\n")
        path = "rel.c"
    else:
        (tmp_path / name).write_text("int q(void) { return 0; }\n")
        path = str(tmp_path / name)
    parsed = reparse.ReparsePool(str(tmp_path)).parse(parse.index(), path, ARGS, parse.PARSE_OPTIONS)
    assert parsed.depth == 1
    assert parse_c(path, ARGS)["diagnostics"] == []


def test_a_header_beside_the_wrapper_is_not_found_from_the_real_file(tmp_path):
    # quoted includes are looked up from the including file's directory, never
    # from the (virtual) main file's: the wrapper must not add a search directory
    (tmp_path / "only_here.h").write_text("#define FOUND 1\n")
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "inc.c"
    path.write_text('#include "only_here.h"\nint x = FOUND;\n')
    pool = reparse.ReparsePool(str(tmp_path))
    parsed = pool.parse(parse.index(), str(path), ARGS, parse.PARSE_OPTIONS)
    assert pool.wrapper.startswith(str(tmp_path)) and parsed.depth == 2
    messages = [d.spelling for d in parsed.tu.diagnostics]
    assert "'only_here.h' file not found" in messages
