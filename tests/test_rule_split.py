"""The rule phase split across two processes gives what one process gives."""
import os

import pytest

from harness import run_rules_opts
from threadlint import engine

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "rules", "TL101")


@pytest.fixture
def project(tmp_path):
    opts = run_rules_opts(FIXTURES, str(tmp_path))
    project, _ = engine.analyse(opts)
    return opts, project


def test_split_rule_phase_matches_one_process(project, monkeypatch):
    opts, proj = project
    alone = engine.run_rules(opts.rules, proj, jobs=1)
    assert any(r.cost == "high" for r in opts.rules)
    monkeypatch.setattr(engine, "SPLIT_RULES_MIN_TUS", 1)
    calls = []
    real = engine.parallel.ChildCall

    def spy(fn):
        calls.append(fn)
        return real(fn)

    monkeypatch.setattr(engine.parallel, "ChildCall", spy)
    split = engine.run_rules(opts.rules, proj, jobs=2)
    assert len(calls) == 1                      # it did fork
    assert split == alone and alone


def test_small_programs_and_one_job_stay_in_one_process(project, monkeypatch):
    opts, proj = project

    def no_fork(fn):
        raise AssertionError("forked")

    monkeypatch.setattr(engine.parallel, "ChildCall", no_fork)
    engine.run_rules(opts.rules, proj, jobs=1)
    monkeypatch.setattr(engine, "SPLIT_RULES_MIN_TUS", 10 ** 6)
    engine.run_rules(opts.rules, proj, jobs=2)
