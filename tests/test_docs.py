"""The rule pages in docs/rules/ are rendered from the docstrings and must be current."""
import os

from threadlint import docs_gen
from threadlint.registry import DOC_SECTIONS, all_rules, doc_sections

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "rules")


def test_rule_pages_are_current():
    problems = docs_gen.stale(DOCS)
    assert not problems, ("docs/rules is stale; run `python -m threadlint.docs_gen docs/rules`: "
                          + ", ".join(problems))


def test_every_rule_doc_has_the_fixed_sections():
    for rule in all_rules().values():
        sections = doc_sections(rule.doc())
        assert list(sections) == list(DOC_SECTIONS), f"{rule.id}: sections {list(sections)}"
        assert all(s.strip() for s in sections.values()), f"{rule.id}: empty section"
        assert rule.summary and rule.help_line(), rule.id


def test_stale_detection_notices_an_edit(tmp_path):
    docs_gen.write(str(tmp_path))
    assert docs_gen.stale(str(tmp_path)) == []
    page = tmp_path / "TL002.md"
    page.write_text(page.read_text() + "edited\n")
    assert docs_gen.stale(str(tmp_path)) == ["TL002.md: stale"]
