"""Functional tests of the core rules on fixtures with inline expectations."""
import os

from harness import check_fixture

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "rules")


def test_tl002_parse_error(tmp_path):
    findings = check_fixture(os.path.join(FIXTURES, "TL002"), str(tmp_path), ["TL002"])
    (f,) = findings
    assert "undeclared_thing" in f.message
    assert f.configs == ("coop",)
