"""Session fixture: the real wasi-libc corpus laid out by its own setup.sh.

The corpus lives beside the repository (``../shared/corpus/wasi-libc``); tests
that need it are skipped, with that reason, only when it is absent.
"""
from __future__ import annotations

import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS_SRC = os.path.normpath(os.path.join(REPO, "..", "shared", "corpus", "wasi-libc"))
CONFIGS = ("wasip3-coop", "wasip3", "wasip1-threads")


def corpus_available() -> bool:
    return os.path.isfile(os.path.join(CORPUS_SRC, "setup.sh"))


def setup_corpus(dest: str) -> str:
    """Lay the corpus out under ``dest`` (setup.sh DEST); returns dest."""
    subprocess.run(["bash", os.path.join(CORPUS_SRC, "setup.sh"), dest], check=True,
                   stdout=subprocess.DEVNULL)
    return dest


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    if not corpus_available():
        pytest.skip(f"corpus not found at {CORPUS_SRC} (../shared/corpus beside the repository)")
    return setup_corpus(str(tmp_path_factory.mktemp("corpus")))
