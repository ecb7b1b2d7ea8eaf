"""The CAGR check as literal cases, statcheck-style: "must flag" and "must not flag".

Every expected number is computed here from the written figures with plain arithmetic
(half-steps worked out by hand), never by the code under test.
"""

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest

from tests.conftest import trajectory, value


def cagr(end: float, start: float, years: float) -> float:
    """Percent, as the DESIGN defines it: (E/S)^(1/n) - 1."""
    return ((end / start) ** (1 / years) - 1) * 100


@dataclass
class Case:
    name: str
    values: list[dict[str, str]]
    stated: str | None
    verdict: str
    implied: float | None = None
    implied_low: float | None = None
    implied_high: float | None = None
    period: tuple[str, str] | None = None
    cagr_qualifier: str | None = None
    published: str = "2025"
    reading: str = "as_written"
    years: tuple[int, int] | None = None
    gap: float | None = None
    hint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


MUST_NOT_FLAG = [
    Case(
        "a small-unit currency: 2,150 to 3,050 trillion (KRW) over 2024-2030, 6.0%",
        [value("2024", "2,150", scale="trillion"), value("2030", "3,050", scale="trillion")],
        "6.0",
        "consistent",
        implied=cagr(3050, 2150, 6),  # 6.001 %; 3,050 trillion is 3,050,000 billion: not a typo
        implied_low=cagr(3049.5, 2150.5, 6),
        implied_high=cagr(3050.5, 2149.5, 6),
        years=(2024, 2030),
    ),
    Case(
        "article: USD 255 bn (2025) to over USD 465 bn (2032), 9% CAGR",
        [value("2025", "255"), value("2032", "465", qualifier="over")],
        "9",
        "consistent",
        implied=cagr(465, 255, 7),  # 8.962 %
        implied_low=cagr(465, 255.5, 7),  # "over 465" is (465, 466]; "255" is [254.5, 255.5]
        implied_high=cagr(466, 254.5, 7),
        period=("2025", "2032"),
        years=(2025, 2032),
    ),
    Case(
        "Fortune Business Insights 2025: 255.01 to 465.24, 9.0% for 2025-2032",
        [value("2024", "238.92"), value("2025", "255.01"), value("2032", "465.24")],
        "9.0%",
        "consistent",
        implied=cagr(465.24, 255.01, 7),  # 8.969 %
        implied_low=cagr(465.235, 255.015, 7),
        implied_high=cagr(465.245, 255.005, 7),
        period=("2025", "2032"),
        years=(2025, 2032),  # the CAGR's own period, not the first value (2024)
    ),
    Case(
        "Towards Healthcare: 25.41 (2025) to 92.79 (2034), 15.48%",
        [value("2024", "22"), value("2025", "25.41"), value("2034", "92.79")],
        "15.48%",
        "consistent",
        implied=cagr(92.79, 25.41, 9),  # 15.478 %
        period=("2025", "2034"),
        years=(2025, 2034),
    ),
    Case(
        "TechSci: period 2026-2031 without a 2026 value: checked over the values 2025-2031",
        [value("2025", "245.47"), value("2031", "363.86")],
        "6.78%",
        "consistent",
        implied=cagr(363.86, 245.47, 6),
        period=("2026", "2031"),
        years=(2025, 2031),
    ),
    Case(
        '"9" stands for [8.5, 9.5]: an implied 8.59 % is consistent with it',
        [value("2020", "1000"), value("2025", "1510")],
        "9",
        "consistent",
        implied=cagr(1510, 1000, 5),  # 8.590 %
        implied_low=cagr(1509.5, 1000.5, 5),
        implied_high=cagr(1510.5, 999.5, 5),
    ),
    Case(
        "mixed scales: 800 million (2024) to 1.2 billion (2030), 7%",
        [value("2024", "800", "million"), value("2030", "1.2", "billion")],
        "7",
        "consistent",
        implied=cagr(1.2, 0.8, 6),  # 6.99 %
        implied_low=cagr(1.15, 0.8005, 6),
        implied_high=cagr(1.25, 0.7995, 6),
    ),
    Case(
        "thousands separators and scales: 1,500 million (2025) to 2.1 billion (2030), 7%",
        [value("2025", "1,500", "million"), value("2030", "2.1", "billion")],
        "7",
        "consistent",
        implied=cagr(2.1, 1.5, 5),  # 6.96 %
    ),
    Case(
        "a range CAGR '11-12' over 65 (2024) to 120-130 (2030)",
        [value("2024", "65"), value("2030", "120-130", qualifier="about")],
        "11-12",
        "consistent",
        implied=cagr(125, 65, 6),  # range midpoint 125: 11.51 %
        implied_low=cagr(119.5, 65.5, 6),
        implied_high=cagr(130.5, 64.5, 6),
    ),
    Case(
        "a declining market: 100 (2025) to 85 (2030), -3.2%",
        [value("2025", "100"), value("2030", "85")],
        "-3.2",
        "consistent",
        implied=cagr(85, 100, 5),  # -3.20 %
    ),
    Case(
        "a hedge keeps the rounding interval: about 9%",
        [value("2025", "255"), value("2032", "465", qualifier="over")],
        "9",
        "consistent",
        implied=cagr(465, 255, 7),
        cagr_qualifier="about",
    ),
    Case(
        "'at least' includes its bound: [10, 11] meets an implied interval ending at 10.02",
        [value("2020", "1000"), value("2025", "1610")],
        "10",
        "consistent",
        implied=cagr(1610, 1000, 5),  # 9.99 %, high end 10.02 %
        implied_high=cagr(1610.5, 999.5, 5),
        cagr_qualifier="at least",
    ),
    Case(
        "'current' read as the year before holds: 50 (current) to 130 (2030), 17.3%",
        [value("current", "50"), value("2030", "130")],
        "17.3",
        "consistent",
        implied=cagr(130, 50, 6),  # 17.26 % with current = 2024
        reading="current=2024",
        years=(2024, 2030),
    ),
    Case(
        "'current' read as the publication year holds first: 50 (current) to 130 (2030), 21%",
        [value("current", "50"), value("2030", "130")],
        "21",
        "consistent",
        implied=cagr(130, 50, 5),  # 21.06 %
        reading="current=2025",
        years=(2025, 2030),
    ),
]

UNVERIFIABLE = [
    Case(
        "India, no CAGR stated: the implied CAGR is still published (publication-year reading)",
        [value("current", "50"), value("2030", "130")],
        None,
        "unverifiable",
        implied=cagr(130, 50, 5),  # 21.06 %
        reading="current=2025",
        years=(2025, 2030),
    ),
    Case(
        "EY-OPPI: 49 (2022) to 130 (2030), no CAGR",
        [value("2022", "49"), value("2030", "130")],
        None,
        "unverifiable",
        implied=cagr(130, 49, 8),  # 12.97 %
        years=(2022, 2030),
    ),
    Case(
        "biologics: one value and a CAGR with no period (assumed from the publication year)",
        [value("2032", "72")],
        "15.48",
        "unverifiable",
        years=(2025, 2032),
    ),
    Case(
        "a range end and no CAGR",
        [value("2025", "55"), value("2030", "120-130")],
        None,
        "unverifiable",
        implied=cagr(125, 55, 5),
        implied_low=cagr(119.5, 55.5, 5),
        implied_high=cagr(130.5, 54.5, 5),
    ),
]

MUST_FLAG = [
    Case(
        "Virtue: 211.91 (2024) to 336.65 (2030), 9.7% for 2025-2030",
        [value("2024", "211.91"), value("2030", "336.65")],
        "9.7%",
        "inconsistent",
        implied=cagr(336.65, 211.91, 6),  # 8.02 %
        period=("2025", "2030"),
        years=(2024, 2030),
        gap=9.65 - cagr(336.655, 211.905, 6),
        hint="5 years instead of 6",
    ),
    Case(
        '"9.0" stands for [8.95, 9.05]: an implied 8.59 % is not consistent with it',
        [value("2020", "1000"), value("2025", "1510")],
        "9.0",
        "inconsistent",
        implied=cagr(1510, 1000, 5),
        gap=8.95 - cagr(1510.5, 999.5, 5),
    ),
    Case(
        "a qualifier flips the verdict: 'under 10' is [9, 10) but the values imply 10.12-10.15 %",
        [value("2020", "1000"), value("2025", "1620")],
        "10",
        "inconsistent",
        implied=cagr(1620, 1000, 5),  # 10.13 %; plain "10" would be consistent
        cagr_qualifier="under",
        gap=cagr(1619.5, 1000.5, 5) - 10,
    ),
    Case(
        "'over 10' excludes 10 itself: (10, 11] against an implied interval ending at 9.87",
        [value("2020", "1000"), value("2025", "1600")],
        "10",
        "inconsistent",
        implied=cagr(1600, 1000, 5),  # 9.86 %
        cagr_qualifier="over",
        gap=10 - cagr(1600.5, 999.5, 5),
    ),
    Case(
        "a scale mix-up: the end written in millions",
        [value("2025", "255"), value("2032", "465", "million")],
        "9",
        "inconsistent",
        implied=cagr(0.465, 255, 7),
        hint="1,000 times larger",
    ),
    Case(
        "a CAGR truncated, not rounded: the values imply 9.77-9.80 %, the source says 9.7",
        [value("2020", "1000"), value("2025", "1595")],
        "9.7",
        "inconsistent",
        implied=cagr(1595, 1000, 5),
        gap=cagr(1594.5, 1000.5, 5) - 9.75,
        hint="truncated",
    ),
    Case(
        "the period counted one year long: 100 (2025) to 150 (2030) at 7.0% (that is 6 years)",
        [value("2025", "100"), value("2030", "150")],
        "7.0",
        "inconsistent",
        implied=cagr(150, 100, 5),  # 8.45 %
        hint="6 years instead of 5",
    ),
    Case(
        "neither reading of 'current' holds: verdict and gap of the publication-year reading",
        [value("current", "50"), value("2030", "130")],
        "30",
        "inconsistent",
        implied=cagr(130, 50, 5),
        reading="current=2025",
        years=(2025, 2030),
        gap=29.5 - cagr(130.5, 49.5, 5),
    ),
    Case(
        "a declining market stated as growing",
        [value("2025", "100"), value("2030", "85")],
        "3.2",
        "inconsistent",
        implied=cagr(85, 100, 5),
        gap=3.15 - cagr(85.5, 99.5, 5),
    ),
    Case(
        "a range end (120-130) far above a stated 10%",
        [value("2025", "55"), value("2030", "120-130")],
        "10%",
        "inconsistent",
        implied=cagr(125, 55, 5),
        gap=cagr(119.5, 55.5, 5) - 10.5,
    ),
]


def _run(build_claims, case: Case):
    claim = trajectory("c", case.values, case.stated, period=case.period, cagr_qualifier=case.cagr_qualifier)
    tables = build_claims([claim], published=case.published)
    rows = tables.cagr_checks.set_index("claim_id")
    return rows.loc["t/c"], tables


def _assert_case(row, case: Case) -> None:
    assert row["verdict"] == case.verdict
    assert row["reading"] == case.reading
    if case.implied is not None:
        assert row["implied_cagr"] == pytest.approx(case.implied, rel=1e-9)
    if case.implied_low is not None:
        assert row["implied_low"] == pytest.approx(case.implied_low, rel=1e-9)
    if case.implied_high is not None:
        assert row["implied_high"] == pytest.approx(case.implied_high, rel=1e-9)
    if case.years is not None:
        assert (row["start_year"], row["end_year"]) == case.years
    if case.gap is not None:
        assert row["gap_pp"] == pytest.approx(case.gap, rel=1e-9)
    if case.verdict == "inconsistent":
        assert row["gap_pp"] > 0
    else:
        assert row["gap_pp"] != row["gap_pp"]  # NaN: empty unless inconsistent
    if case.hint is not None:
        assert not pd.isna(row["hint"]) and case.hint in row["hint"]


@pytest.mark.parametrize("case", MUST_NOT_FLAG, ids=lambda c: c.name)
def test_must_not_flag(build_claims, case: Case) -> None:
    row, _ = _run(build_claims, case)
    _assert_case(row, case)
    assert pd.isna(row["hint"])


@pytest.mark.parametrize("case", UNVERIFIABLE, ids=lambda c: c.name)
def test_unverifiable(build_claims, case: Case) -> None:
    row, _ = _run(build_claims, case)
    _assert_case(row, case)


@pytest.mark.parametrize("case", MUST_FLAG, ids=lambda c: c.name)
def test_must_flag(build_claims, case: Case) -> None:
    row, tables = _run(build_claims, case)
    _assert_case(row, case)
    # The soft pandera check flags exactly this claim.
    from cdmo_pipeline.core.schemas import soft_failures

    failing = soft_failures("cagr_checks", tables.cagr_checks)["stated_cagr_matches_endpoints"]
    assert failing["claim_id"].tolist() == ["t/c"]


def test_plain_ten_is_consistent_where_under_ten_is_not(build_claims) -> None:
    """The control of the qualifier-flip case: without "under", the same figures pass."""
    claim = trajectory("c", [value("2020", "1000"), value("2025", "1620")], "10")
    row = build_claims([claim]).cagr_checks.iloc[0]
    assert row["verdict"] == "consistent"


def test_soft_check_fails_exactly_the_inconsistent_claims(build_claims) -> None:
    claims = [
        trajectory("ok", [value("2025", "255"), value("2032", "465", qualifier="over")], "9"),
        trajectory("bad", [value("2024", "211.91"), value("2030", "336.65")], "9.7%", period=("2025", "2030")),
        trajectory("nocagr", [value("2022", "49"), value("2030", "130")]),
    ]
    from cdmo_pipeline.core.schemas import soft_failures

    checks = build_claims(claims).cagr_checks
    failing = soft_failures("cagr_checks", checks)["stated_cagr_matches_endpoints"]
    assert set(failing["claim_id"]) == set(checks.loc[checks["verdict"] == "inconsistent", "claim_id"]) == {"t/bad"}
