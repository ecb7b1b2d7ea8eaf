"""The reference sources (issue 5, item 1): data/sources/reference/ against the shared CSV.

Every published figure of ../shared/reference/market_figures.csv is one claim, traceable by its
ref_id, with its numbers as printed; and the DESIGN §5 reference cases hold on them.
"""

import csv
import math
import re
from pathlib import Path

import pytest

from cdmo_pipeline.core.cagr import check
from cdmo_pipeline.core.sources import read_corpus
from cdmo_pipeline.core.validate import validate

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "data" / "sources"
REFERENCE = SOURCES / "reference"
CSV_PATH = ROOT.parent / "shared" / "reference" / "market_figures.csv"
ARTICLE_MARKETS = {"global-cdmo", "biologics-cdmo", "india-pharma"}
REF_RE = re.compile(r"\b(?:GCDMO|BIO|INPH)-\d{2}\b")
N_REFERENCE_FILES = 42  # 44 rows; INPH-01/02 and INPH-07/08 each share one page


@pytest.fixture(scope="module")
def corpus():
    return validate(read_corpus(SOURCES))


@pytest.fixture(scope="module")
def checks(corpus):
    return check(corpus.claims, corpus.figures).checks.set_index("claim_id")


@pytest.fixture(scope="module")
def csv_rows():
    if not CSV_PATH.is_file():
        pytest.skip(f"{CSV_PATH} is not beside the checkout")
    with CSV_PATH.open(encoding="utf-8") as fh:
        return {row["ref_id"]: row for row in csv.DictReader(fh)}


def _reference_claims(corpus):
    files = corpus.claims["file"].astype(str)
    return corpus.claims.loc[files.str.startswith("reference/")]


def _claim_of_ref(corpus):
    out = {}
    for _, claim in _reference_claims(corpus).iterrows():
        for ref in REF_RE.findall(claim["note"] or ""):
            out.setdefault(ref, []).append(claim["claim_id"])
    return out


def test_file_count():
    assert len(sorted(REFERENCE.glob("*.yaml"))) == N_REFERENCE_FILES


def test_every_ref_id_in_exactly_one_claim_note(corpus, csv_rows):
    found = _claim_of_ref(corpus)
    assert set(found) == set(csv_rows)
    assert {ref: ids for ref, ids in found.items() if len(ids) != 1} == {}
    # and each reference claim traces to exactly one row
    for _, claim in _reference_claims(corpus).iterrows():
        assert len(REF_RE.findall(claim["note"] or "")) == 1, claim["claim_id"]
        assert claim["note"].startswith("ref "), claim["claim_id"]


def test_figures_and_confidence_as_printed(corpus, csv_rows):
    figures = corpus.figures
    claims = corpus.claims.set_index("claim_id")
    for ref, (claim_id,) in _claim_of_ref(corpus).items():
        row = csv_rows[ref]
        mine = figures.loc[figures["claim_id"] == claim_id].set_index("role")["literal"].to_dict()
        expected = {
            "start": row["base_literal"],
            "point": row["mid_value"],
            "end": row["end_literal"],
            "cagr": row["cagr_literal"].replace(" per cent", ""),
        }
        assert mine == {k: v for k, v in expected.items() if v}, ref
        assert claims.loc[claim_id, "confidence"] == row["confidence"], ref


def test_reference_markets_relate_to_the_article(corpus):
    markets = corpus.markets.set_index("market_id")
    for market_id in _reference_claims(corpus)["market_id"].unique():
        if market_id in ARTICLE_MARKETS:
            continue
        m = markets.loc[market_id]
        assert (m["comparable_to"] in ARTICLE_MARKETS) or (m["parent_market_id"] in markets.index), market_id
    assert markets.loc["biologics-cdmo", "parent_market_id"] == "global-cdmo"


def test_fbi_2025_edition_consistent(checks):
    row = checks.loc["fbi-cdmo-2025/cdmo-market"]
    assert row["verdict"] == "consistent"
    assert (row["start_year"], row["end_year"]) == (2025, 2032)
    assert math.isclose(row["implied_cagr"], 8.969, abs_tol=5e-4)


def test_towards_healthcare_biologics_consistent(checks):
    row = checks.loc["towards-healthcare-biologics-cdmo-2025/biologics-cdmo-market"]
    assert row["verdict"] == "consistent"
    assert (row["start_year"], row["end_year"]) == (2025, 2034)
    assert math.isclose(row["implied_cagr"], 15.478, abs_tol=5e-4)


def test_virtue_inconsistent_with_five_year_hint(checks):
    row = checks.loc["virtue-cdmo-2025/cdmo-market"]
    assert row["verdict"] == "inconsistent"
    assert (row["start_year"], row["end_year"]) == (2024, 2030)
    assert math.isclose(row["implied_cagr"], 8.02, abs_tol=5e-3)
    assert row["gap_pp"] > 0
    assert "5 years" in row["hint"]
