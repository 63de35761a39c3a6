"""The locking rules on the real wasi-libc tree, wasip3-coop configuration.

The reviewer of the cooperative-threads port caught a lock declared STRONG
being taken with WEAK macros.  This test recreates that state in a copy of the
corpus (``at_quick_exit.c``'s STRONG lock taken and released with WEAK
macros) and expects TL102 there, and no TL102 on the pristine tree.
"""
import json
import os
import re

import pytest

from corpus import CORPUS_SRC, corpus_available, setup_corpus
from threadlint.cli import main

TARGET = "libc-top-half/musl/src/exit/at_quick_exit.c"


def _check(dest: str, tmp_path, select: str, name: str) -> list[dict]:
    out = tmp_path / f"{name}.json"
    code = main(["check", os.path.join(dest, "wasi-libc"), "-p", os.path.join(dest, "build-wasip3-coop"),
                 "--profile", "wasi-libc", "--select", select, "--format", "json", "-o", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "-q", "--exit-zero"])
    assert code == 0
    return json.loads(out.read_text())["findings"]


@pytest.fixture(scope="module")
def corpus_copy(tmp_path_factory):
    if not corpus_available():
        pytest.skip(f"corpus not found at {CORPUS_SRC} (../shared/corpus beside the repository)")
    return setup_corpus(str(tmp_path_factory.mktemp("locking-corpus")))


def test_strong_lock_taken_with_weak_macros_is_tl102(corpus_copy, tmp_path):
    pristine = _check(corpus_copy, tmp_path, "TL102", "pristine")
    assert [f for f in pristine if f["rule"] == "TL102"] == []

    path = os.path.join(corpus_copy, "wasi-libc", TARGET)
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    assert "DECLARE_STRONG_LOCK(lock, static);" in source
    changed = re.sub(r"\bSTRONG_(UN)?LOCK\(lock\)", lambda m: f"WEAK_{m.group(1) or ''}LOCK(lock)", source)
    assert changed.count("WEAK_") == 5
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(changed)

    findings = [f for f in _check(corpus_copy, tmp_path, "TL102", "weak") if f["rule"] == "TL102"]
    # one finding per function, at its first WEAK use; nothing anywhere else
    assert {(f["location"]["path"], f["function"]) for f in findings} == {
        (TARGET, "__funcs_on_quick_exit"), (TARGET, "at_quick_exit")}
    lines = changed.splitlines()
    for f in findings:
        assert lines[f["location"]["line"] - 1].strip() == "WEAK_LOCK(lock);"
        assert "declared STRONG" in f["message"] and f["configs"] == ["build-wasip3-coop"]
        (decl,) = f["related"]
        assert (decl["location"]["path"], lines[decl["location"]["line"] - 1]) == (
            TARGET, "DECLARE_STRONG_LOCK(lock, static);")
