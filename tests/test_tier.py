"""The 28x28 tier (book/long/): its committed notebooks are checked without executing them, and a
change of the library puts a notice on its pages."""

import json

import pytest

from diffgen_lib import book
from diffgen_lib.book import tier

NOTEBOOKS = tier.tier_notebooks()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_tier_notebook_is_complete(path):
    """No error output; every CLAIM and SCALE line parses (28x28 lines among them); the execution
    record (date, machine, time, library version) is present."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"], f"{path.name} holds an error output"
    lines = [line for o in outputs if o.get("output_type") == "stream"
             for line in "".join(o.get("text", "")).splitlines()]
    claim_lines = [line for line in lines if line.startswith("CLAIM")]
    assert all(book.parse_claim_line(line) for line in claim_lines), "a CLAIM line does not parse"
    assert all(line.startswith("SCALE: ") for line in lines if line.startswith("SCALE"))
    claims = book.claims_of_notebook(nb, path.stem)
    if path.stem != "06_factors":
        assert any(c.scale.startswith("mnist5k,") for c in claims), "no CLAIM line at 28x28"
    record = tier.tier_record(nb)
    assert record and len(record["library"]) == 12 and record["date"] and record["machine"] and record["seconds"] > 0
    assert not any("long-long-" in json.dumps(c) for c in nb["cells"])  # labels prefixed once
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and all("hide-input" in c["metadata"]["tags"] for c in injected)  # the profile's values, folded


def test_a_changed_library_shows_the_notice():
    record = {"date": "2026-12-07", "library": "abc123abc123"}
    assert tier.notice(record, "abc123abc123") is None
    text = tier.notice(record, "fedcba987654")
    assert "abc123abc123" in text and "fedcba987654" in text and "make book-long" in text
    assert tier.notice(None, "fedcba987654") is None
    assert len(tier.library_version()) == 12


def test_relabel_prefixes_every_label_once():
    nb = {"cells": [{"cell_type": "code", "metadata": {"mystnb": {"figure": {"name": "fig-transfer"}}},
                     "source": "x", "outputs": [{"data": {"text/markdown": ":::{table} t\n:name: tbl-runs\n"}}]},
                    {"cell_type": "markdown", "metadata": {},
                     "source": "{numref}`fig-transfer` and {numref}`tbl-runs`, $$ x $$ (eq-index) {eq}`eq-index`"}]}
    out = json.dumps(tier.relabel(nb))
    assert "long-fig-transfer" in out and "long-tbl-runs" in out and "long-eq-index" in out
    assert "long-long" not in out and '"fig-transfer"' not in out
