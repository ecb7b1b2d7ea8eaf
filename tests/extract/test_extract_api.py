"""The public API: number tokens, coverage, YAML output, source metadata, loader acceptance."""

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdmo_pipeline.core.source_format import load_yaml
from cdmo_pipeline.core.sources import read_corpus
from cdmo_pipeline.core.validate import validate
from cdmo_pipeline.extract import coverage, extract, number_tokens, to_yaml
from cdmo_pipeline.extract.evaluate import load

HERE = Path(__file__).resolve().parent
ALL_CASES = [c for name in ("corpus", "holdout", "holdout2", "holdout3") for c in load(HERE / f"{name}.yaml")]


def test_number_tokens() -> None:
    text = "USD 1,500 mn in FY2024-25; 15.48% (120–130); COVID-19, p. 3; Rs. 4,71,295 crore."
    assert [t[2] for t in number_tokens(text)] == ["1,500", "2024", "25", "15.48", "120", "130", "19", "3", "4,71,295"]
    start, end, literal = number_tokens(text)[0]
    assert text[start:end] == literal


def test_coverage_lists_what_no_entry_accounts_for() -> None:
    text = "Title\nThe global CDMO market reached USD 255 billion in 2025, with 40 sites."
    doc = extract(text, source_id="t", published="2025")
    assert coverage(text, doc) == []
    assert [u["literal"] for u in doc["unassigned"]] == ["40"]
    doc["unassigned"] = []
    (tok,) = coverage(text, doc)
    assert tok[2] == "40"
    assert text[tok[0] : tok[1]] == "40"
    doc["claims"] = []
    assert [t[2] for t in coverage(text, doc)] == ["255", "2025", "40"]


def test_coverage_reads_hand_written_locators() -> None:
    """Offsets win; else the quoted words in the paragraph; else the paragraph's numbers."""
    text = "Intro line\nIt hit USD 5 billion in 2024 and USD 9 billion in 2030.\nPage 2"
    by_words = {"claims": [{"kind": "trajectory", "locator": {"paragraph": 2, "text": "USD 5 billion in 2024"}}]}
    assert [t[2] for t in coverage(text, by_words)] == ["9", "2030", "2"]
    by_numbers = {
        "claims": [
            {
                "kind": "trajectory",
                "start": {"year": "2024", "value": "5", "locator": {"paragraph": 2}},
                "end": {"year": "2030", "value": "9", "locator": {"paragraph": 2}},
            }
        ],
        "ignored": [{"literal": "2", "reason": "page number", "locator": {"paragraph": 3}}],
    }
    assert coverage(text, by_numbers) == []
    assert coverage(text, {}) == [t for t in number_tokens(text)]
    assert coverage("no numbers here", {}) == []


def test_yaml_keeps_numbers_as_written() -> None:
    text = "The peptide CDMO market will grow at a CAGR of 9.0% from 2025 to 2030, from USD 1,500 million in 2025."
    doc = extract(text, source_id="t", published="2025")
    out = to_yaml(doc)
    assert 'value: "9.0"' in out
    assert 'value: "1,500"' in out
    assert 'year: "2025"' in out
    back, _ = load_yaml(out)
    assert back["claims"][0]["cagr"]["value"] == "9.0"
    assert back["claims"][0]["cagr"]["period"] == {"from": "2025", "to": "2030"}
    assert back["source"]["published"] == "2025"


def test_source_metadata_defaults_and_checks() -> None:
    doc = extract("Some Title\nNothing else.", source_id="draft-1")
    assert doc["source"] == {
        "id": "draft-1",
        "title": "Some Title",
        "publisher": "DRAFT: publisher",
        "published": str(dt.date.today().year),
        "kind": "article",
    }
    given = extract("x", source_id="d", title="T", publisher="P", published="2024-06-05")["source"]
    assert (given["title"], given["publisher"], given["published"]) == ("T", "P", "2024-06-05")
    assert extract("A long first sentence that ends with a period.", source_id="d")["source"]["title"] == "DRAFT: title"
    assert extract("Mumbai, 2025 /PRNewswire/ -- News.", source_id="d")["source"]["kind"] == "press_release"
    with pytest.raises(ValueError, match="slug"):
        extract("x", source_id="Not A Slug")
    with pytest.raises(ValueError, match="year or an ISO date"):
        extract("x", source_id="d", published="June 2025")


def test_paragraphs_are_non_empty_lines() -> None:
    text = "\n\nTitle\n   \n\tThe biologics CDMO market reached USD 24.6 billion in 2024.\r\n\nEnd"
    doc = extract(text, source_id="t", published="2025")
    assert doc["claims"][0]["start"]["locator"]["paragraph"] == 2


def test_empty_and_number_free_text() -> None:
    for text in ("", "\n\n", "No figures at all in this text."):
        doc = extract(text, source_id="t", published="2025")
        assert doc["claims"] == []
        assert doc["unassigned"] == []
        assert doc["ignored"] == []
        assert coverage(text, doc) == []


def test_every_draft_loads_with_the_project_loader(tmp_path: Path) -> None:
    """Drafts of all the test sentences, in one sources directory: the loader accepts them."""
    written = 0
    for i, case in enumerate(ALL_CASES):
        doc = extract(case["text"], source_id=f"case-{i}", published=str(case.get("published", "2025")))
        if doc["claims"]:  # a source needs at least one claim
            (tmp_path / f"case-{i}.yaml").write_text(to_yaml(doc), encoding="utf-8")
            written += 1
    corpus = validate(read_corpus(tmp_path))
    assert len(corpus.sources) == written > 100


def test_draft_shape_is_the_design_shape() -> None:
    doc = extract(
        "The global CDMO market was USD 238.9 billion in 2024. Over 60% of executives agree.",
        source_id="t",
        published="2025",
    )
    assert list(doc) == ["source", "markets", "claims", "unassigned", "ignored"]
    claim: dict[str, Any] = doc["claims"][0]
    assert list(claim) == ["id", "kind", "market", "currency", "start", "locator"]
    assert list(claim["start"]) == ["year", "value", "scale", "locator"]
    assert list(claim["start"]["locator"]) == ["paragraph", "text", "start", "end"]
    assert doc["claims"][1]["kind"] == "share"
    assert yaml.safe_load(to_yaml(doc).split("\n", 2)[2])["markets"] == {
        "global-cdmo": {"label": "Global CDMO market", "region": "Global"}
    }


def test_fast_on_a_long_report() -> None:
    text = "\n".join(case["text"] for case in ALL_CASES) * 2
    t0 = time.perf_counter()
    doc = extract(text, source_id="long", published="2025")
    t1 = time.perf_counter()
    assert coverage(text, doc) == []
    t2 = time.perf_counter()
    assert len(text) > 30_000
    assert t1 - t0 < 5.0
    assert t2 - t1 < 0.5
