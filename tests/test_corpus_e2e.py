"""End to end on the real wasi-libc tree with the three CMake databases."""
import json
import os

import jsonschema

from corpus import CONFIGS
from threadlint.cli import main

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = json.load(open(os.path.join(HERE, "schemas", "sarif-schema-2.1.0.json")))


def test_three_configurations_parse_cleanly_and_give_valid_sarif(corpus_dir, tmp_path):
    out = tmp_path / "corpus.sarif"
    builds = []
    for cfg in CONFIGS:
        builds += ["-p", os.path.join(corpus_dir, f"build-{cfg}")]
    code = main(["check", os.path.join(corpus_dir, "wasi-libc"), *builds, "--profile", "wasi-libc",
                 "--format", "sarif", "-o", str(out), "--cache-dir", str(tmp_path / "cache"), "-q"])
    assert code in (0, 1)
    doc = json.loads(out.read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    runs = {r["automationDetails"]["id"]: r for r in doc["runs"]}
    assert sorted(runs) == sorted(f"threadlint/build-{c}/" for c in CONFIGS)
    for run in runs.values():
        parse_errors = [r for r in run["results"] if r["ruleId"] == "TL002"]
        assert parse_errors == [], parse_errors[:3]
        # every C file CMake lists is analysed once (static/shared duplicates merged)
        assert run["properties"]["translationUnits"] > 850
