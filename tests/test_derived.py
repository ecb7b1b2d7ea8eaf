"""Derived tables (DESIGN §6): implied figures, projections and segment shares, given/expect."""

import math

import pytest

from cdmo_pipeline.core.errors import SourceValidationError
from tests.conftest import trajectory, value


def test_article_implied_figures(build_claims) -> None:
    claims = [
        trajectory("bio", [value("2032", "72")], "15.48", market="biologics-cdmo"),
        trajectory("india", [value("current", "50"), value("2030", "130")], market="india-pharma"),
    ]
    implied = build_claims(claims).implied_figures.set_index(["claim_id", "quantity", "reading"])
    bio = implied.loc[("t/bio", "value", "as_written")]
    assert bio["year"] == 2025
    assert bio["central"] == pytest.approx(72 / 1.1548**7)  # 26.29
    assert round(bio["central"], 2) == 26.29
    assert bio["low"] == pytest.approx(71.5 / 1.15485**7)  # discounting: the high rate, the low value
    assert bio["high"] == pytest.approx(72.5 / 1.15475**7)
    assert "publication year" in bio["assumption"]
    india_2025 = implied.loc[("t/india", "cagr", "current=2025")]
    india_2024 = implied.loc[("t/india", "cagr", "current=2024")]
    assert round(india_2025["central"], 2) == 21.06
    assert round(india_2024["central"], 2) == 17.26
    assert india_2025["low"] == pytest.approx(((129.5 / 50.5) ** (1 / 5) - 1) * 100)
    assert india_2025["high"] == pytest.approx(((130.5 / 49.5) ** (1 / 5) - 1) * 100)


def test_implied_start_of_a_stated_period_without_a_value(build_claims) -> None:
    """Virtue-like: values 2024 and 2030, CAGR for 2025-2030: the 2025 value is implied."""
    claim = trajectory("v", [value("2024", "211.91"), value("2030", "336.65")], "9.7", period=("2025", "2030"))
    implied = build_claims([claim]).implied_figures
    row = implied.loc[(implied["quantity"] == "value") & (implied["year"] == 2025)].iloc[0]
    assert row["central"] == pytest.approx(336.65 / 1.097**5)


def test_projections_cover_every_year_both_bases(build_claims) -> None:
    claim = trajectory("g", [value("2025", "255"), value("2032", "465", qualifier="over")], "9")
    p = build_claims([claim]).projections
    for basis in ("endpoints", "stated_cagr"):
        years = p.loc[p["basis"] == basis, "year"].tolist()
        assert years == list(range(2025, 2033))
    ends = p.loc[p["basis"] == "endpoints"].set_index("year")
    # Geometric interpolation: V(y) = 255 * (465/255)^((y-2025)/7); band from the intervals.
    for year in range(2025, 2033):
        w = (year - 2025) / 7
        assert ends.loc[year, "central"] == pytest.approx(255 ** (1 - w) * 465**w)
        assert ends.loc[year, "low"] == pytest.approx(254.5 ** (1 - w) * 465**w)
        assert ends.loc[year, "high"] == pytest.approx(255.5 ** (1 - w) * 466**w)
    assert ends.loc[2025, "is_stated_year"] and ends.loc[2032, "is_stated_year"]
    assert not ends.loc[2028, "is_stated_year"]
    cg = p.loc[p["basis"] == "stated_cagr"].set_index("year")
    assert cg.loc[2030, "central"] == pytest.approx(255 * 1.09**5)
    assert cg.loc[2030, "low"] == pytest.approx(254.5 * 1.085**5)
    assert cg.loc[2030, "high"] == pytest.approx(255.5 * 1.095**5)
    assert not p["is_extrapolated"].any()


def test_stated_cagr_compounds_backwards_from_the_only_value(build_claims) -> None:
    p = build_claims([trajectory("b", [value("2032", "72")], "15.48")]).projections
    assert p["basis"].unique().tolist() == ["stated_cagr"]
    rows = p.set_index("year")
    assert rows.index.tolist() == list(range(2025, 2033))
    assert rows.loc[2025, "central"] == pytest.approx(72 / 1.1548**7)
    assert rows.loc[2025, "low"] == pytest.approx(71.5 / 1.15485**7)


def test_points_interpolate_segment_by_segment(build_claims) -> None:
    claim = trajectory("p", [value("2024", "100"), value("2026", "144"), value("2030", "200")])
    p = build_claims([claim]).projections.set_index("year")
    assert p.loc[2025, "central"] == pytest.approx(120.0)  # sqrt(100 * 144)
    assert p.loc[2028, "central"] == pytest.approx(math.sqrt(144 * 200))


def test_declining_market_falls_and_current_uses_the_chosen_reading(build_claims) -> None:
    claims = [
        trajectory("down", [value("2025", "100"), value("2030", "85")], "-3.2"),
        trajectory("cur", [value("current", "50"), value("2030", "130")], "17.3"),
    ]
    p = build_claims(claims).projections
    down = p.loc[(p["claim_id"] == "t/down") & (p["basis"] == "endpoints"), "central"]
    assert down.is_monotonic_decreasing
    cur = p.loc[p["claim_id"] == "t/cur"]
    assert cur["year"].min() == 2024  # 17.3 % holds with current = 2024
    assert set(cur["reading"]) == {"current=2024"}


def test_horizon_extends_and_flags(build_claims) -> None:
    claim = trajectory("g", [value("2025", "255"), value("2032", "465")], "9")
    p = build_claims([claim], horizon=2035).projections
    ext = p.loc[p["is_extrapolated"]]
    assert sorted(ext["year"].unique()) == [2033, 2034, 2035]
    assert len(ext) == 6  # both bases
    cg = p.loc[p["basis"] == "stated_cagr"].set_index("year")
    assert cg.loc[2035, "central"] == pytest.approx(255 * 1.09**10)
    ends = p.loc[p["basis"] == "endpoints"].set_index("year")
    assert ends.loc[2035, "central"] == pytest.approx(255 * (465 / 255) ** (10 / 7))


def test_segment_share_of_the_article(build_claims) -> None:
    claims = [
        trajectory("global", [value("2025", "255"), value("2032", "465", qualifier="over")], "9", market="global-cdmo"),
        trajectory("bio", [value("2032", "72")], "15.48", market="biologics-cdmo"),
    ]
    shares = build_claims(claims).segment_shares.set_index("year")
    assert shares.index.tolist() == list(range(2025, 2033))
    s = shares.loc[2032]
    assert s["share_central"] == pytest.approx(72 / 465 * 100)
    assert round(s["share_central"], 2) == 15.48
    assert s["share_low"] == pytest.approx(71.5 / 466 * 100)
    assert s["share_high"] == pytest.approx(72.5 / 465 * 100)
    assert s["verdict"] == "plausible"
    assert s["parent_basis"] == "endpoints"


def test_segment_larger_than_parent_is_flagged(build_claims) -> None:
    claims = [
        trajectory("global", [value("2025", "100"), value("2030", "150")], market="global-cdmo"),
        trajectory("bio", [value("2025", "120"), value("2030", "160")], market="biologics-cdmo"),
    ]
    shares = build_claims(claims).segment_shares
    assert set(shares["verdict"]) == {"segment_exceeds_parent"}


def test_a_segment_is_a_share_of_its_parent_in_the_same_currency_only(build_claims) -> None:
    """Must not pair: a EUR 60 bn segment over a USD 255 bn parent is no 23.5 % share of it.
    Must pair: the same segment over the source's EUR figure of the parent."""
    parent_usd = trajectory("global", [value("2025", "255"), value("2032", "465")], market="global-cdmo")
    segment_eur = {
        **trajectory("bio", [value("2025", "60"), value("2032", "110")], market="biologics-cdmo"),
        "currency": "EUR",
    }
    assert build_claims([parent_usd, segment_eur]).segment_shares.empty
    parent_eur = {
        **trajectory("global-eur", [value("2025", "235"), value("2032", "430")], market="global-cdmo"),
        "currency": "EUR",
    }
    shares = build_claims([parent_usd, segment_eur, parent_eur]).segment_shares.set_index("year")
    assert set(shares["parent_claim_id"]) == {"t/global-eur"}
    assert set(shares["currency"]) == {"EUR"}
    assert shares.loc[2025, "share_central"] == pytest.approx(60 / 235 * 100)
    assert shares.loc[2032, "share_central"] == pytest.approx(110 / 430 * 100)


def test_a_source_quoting_segment_and_parent_in_two_currencies_has_a_share_in_each(build_claims) -> None:
    """Must not refuse: both markets in USD and in EUR give two shares per year, one per
    currency (one row per segment, source, currency and year)."""
    usd = [
        trajectory("global", [value("2025", "255"), value("2032", "465")], market="global-cdmo"),
        trajectory("bio", [value("2025", "50"), value("2032", "100")], market="biologics-cdmo"),
    ]
    eur = [
        {
            **trajectory("global-eur", [value("2025", "235"), value("2032", "430")], market="global-cdmo"),
            "currency": "EUR",
        },
        {
            **trajectory("bio-eur", [value("2025", "46"), value("2032", "92")], market="biologics-cdmo"),
            "currency": "EUR",
        },
    ]
    shares = build_claims(usd + eur).segment_shares
    assert len(shares) == 2 * 8
    by = shares.set_index(["currency", "year"])
    assert by.loc[("USD", 2025), "share_central"] == pytest.approx(50 / 255 * 100)
    assert by.loc[("EUR", 2025), "share_central"] == pytest.approx(46 / 235 * 100)
    assert by.loc[("EUR", 2032), "parent_claim_id"] == "t/global-eur"
    assert shares["currency"].tolist() == ["EUR"] * 8 + ["USD"] * 8  # published order: currency, then year


def test_the_stated_cagr_path_covers_its_period_past_the_values(build_claims) -> None:
    """Values for 2025 and 2032, "9 %" for 2024-2033 (DESIGN §6: the CAGR's period included):
    the stated CAGR's path runs 2024-2033, backwards and forwards from 2025; the values' own
    path interpolates between them. The check spans the values (no value at 2024 or 2033)."""
    claim = trajectory("g", [value("2025", "255"), value("2032", "465")], "9", period=("2024", "2033"))
    tables = build_claims([claim])
    p = tables.projections
    cagr = p.loc[p["basis"] == "stated_cagr"].set_index("year")
    assert cagr.index.tolist() == list(range(2024, 2034))
    assert cagr.loc[2024, "central"] == pytest.approx(255 / 1.09)
    assert cagr.loc[2024, "low"] == pytest.approx(254.5 / 1.095)  # backwards: the high rate
    assert cagr.loc[2033, "central"] == pytest.approx(255 * 1.09**8)
    assert not cagr["is_extrapolated"].any()
    ends = p.loc[p["basis"] == "endpoints"]
    assert (ends["year"].min(), ends["year"].max()) == (2025, 2032)
    row = tables.cagr_checks.iloc[0]
    assert (row["start_year"], row["end_year"]) == (2025, 2032)


def test_points_may_lie_outside_start_and_end(build_claims) -> None:
    """A report's 2024, 2025 and 2032, written as start 2025, end 2032 and a 2024 point (DESIGN §3)."""
    claim = trajectory("p", [value("2025", "255.01"), value("2032", "465.24")], "9.0%", period=("2025", "2032"))
    claim["points"] = [value("2024", "238.92")]
    tables = build_claims([claim])
    row = tables.cagr_checks.iloc[0]
    assert (row["start_year"], row["end_year"]) == (2025, 2032)  # the CAGR's own period
    assert row["verdict"] == "consistent"
    claims = tables.claims.iloc[0]
    assert (claims["start_year"], claims["end_year"]) == (2024, 2032)  # first and last stated years
    ends = tables.projections.loc[tables.projections["basis"] == "endpoints"]
    assert ends["year"].min() == 2024


def _base_year_claim(period_from: str) -> dict:
    """A report's base year, then its forecast: "211.91 billion in 2024, a 9.7% CAGR over
    <period_from>-2030", and no value stated for 2030."""
    return {
        "id": "f", "kind": "trajectory", "market": "m", "currency": "USD",
        "start": value("2024", "211.91"),
        "cagr": {"value": "9.7", "period": {"from": period_from, "to": "2030"}},
    }  # fmt: skip


def test_a_forecast_period_from_the_year_after_the_only_value(build_claims) -> None:
    """Must not flag: the period begins the year after the base year's value."""
    tables = build_claims([_base_year_claim("2025")])
    check = tables.cagr_checks.iloc[0]
    assert check["verdict"] == "unverifiable"  # one value: nothing to check the CAGR against
    p = tables.projections.set_index("year")
    assert p.index.tolist() == list(range(2024, 2031))  # the CAGR's period included
    assert p.loc[2030, "central"] == pytest.approx(211.91 * 1.097**6)  # compounded from the only value
    assert p.loc[2030, "low"] == pytest.approx(211.905 * 1.0965**6)
    implied = tables.implied_figures.set_index("year")
    assert implied.loc[2030, "central"] == pytest.approx(211.91 * 1.097**6)
    assert implied.loc[2025, "method"].endswith("over 1 year")
    assert implied.loc[2030, "method"].endswith("over 6 years")


def test_a_forecast_period_leaving_a_gap_after_the_values_is_refused(build_claims) -> None:
    """Must flag: a period from 2026 leaves 2025 between the value and the period."""
    with pytest.raises(SourceValidationError, match=r"the CAGR period 2026–2030 lies outside the claim's values"):
        build_claims([_base_year_claim("2026")])
