"""The grammar's pieces, one at a time."""

import pytest

from cdmo_pipeline.core.numbers import QUALIFIERS
from cdmo_pipeline.core.source_format import SCALES
from cdmo_pipeline.extract import grammar as g
from cdmo_pipeline.extract.extract import Paragraph, interval, period_years, point_year, sentences, slugify


@pytest.mark.parametrize(
    ("written", "year"),
    [
        ("2025", "2025"),
        ("FY2030", "2030"),
        ("FY 2030", "2030"),
        ("FY25", "2025"),
        ("FY2024-25", "2025"),
        ("FY2024/25", "2025"),
        ("2024-25", "2025"),
        ("fiscal 2027", "2027"),
        ("2025-32", None),  # a period, not a fiscal year
    ],
)
def test_point_year(written: str, year: str | None) -> None:
    assert point_year(written) == year


@pytest.mark.parametrize(
    ("written", "years"),
    [
        ("2025-2032", ("2025", "2032")),
        ("2025–2032", ("2025", "2032")),
        ("between 2025 and 2032", ("2025", "2032")),
        ("from 2025 to 2032", ("2025", "2032")),
        ("over the forecast period 2025–2032", ("2025", "2032")),
        ("2025-32", ("2025", "2032")),
        ("FY2024-25 to FY2029-30", ("2025", "2030")),
        ("2032-2025", None),
    ],
)
def test_period_years(written: str, years: tuple[str, str] | None) -> None:
    assert period_years(written) == years


def test_period_pattern_finds_the_written_forms() -> None:
    for text in ("during 2025-2032", "between 2025 and 2032", "from 2025 to 2032", "(2025-2030)", "over 2025–2034"):
        m = g.PERIOD_AFTER_RE.match(" " + text)
        assert m is not None
        assert m.group("period").strip(" ()") in text


def test_lookups_speak_the_design_words() -> None:
    assert set(g.QUALIFIER_WORDS.values()) <= set(QUALIFIERS)
    assert set(g.QUALIFIER_VERB_WORDS.values()) <= set(QUALIFIERS)
    assert {s for s in g.SCALE_WORDS.values() if s} <= set(SCALES)
    assert g.QUALIFIER_WORDS["~"] == "about"
    assert set(g.CURRENCY_BEFORE_WORDS.values()) >= {"USD", "EUR", "INR"}


@pytest.mark.parametrize(
    ("text", "currency", "number", "scale"),
    [
        ("USD 255 billion", "USD", "255", "billion"),
        ("US$ 3.4 Bn", "US$", "3.4", "Bn"),
        ("$1.2B", "$", "1.2", "B"),
        ("€3bn", "€", "3", "bn"),
        ("Rs. 1,500 crore", "Rs.", "1,500", "crore"),
        ("USD 22-25 billion", "USD", "22-25", "billion"),
        ("$750M", "$", "750", "M"),
        ("$500", "$", "500", None),
    ],
)
def test_money_before(text: str, currency: str, number: str, scale: str | None) -> None:
    m = g.MONEY_BEFORE_RE.fullmatch(text)
    assert m is not None
    assert (m.group("cur"), m.group("num"), m.group("scale")) == (currency, number, scale)


def test_one_letter_scales_need_capitals_or_a_glued_number() -> None:
    assert g.MONEY_BEFORE_RE.match("$5 b in").group("scale") is None  # type: ignore[union-attr]
    assert g.MONEY_BEFORE_RE.match("$5b in").group("scale") == "b"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "literal"),
    [("9%", "9"), ("15.48 %", "15.48"), ("-2.1%", "-2.1"), ("11-12%", "11-12"), ("9 per cent", "9")],
)
def test_percent(text: str, literal: str) -> None:
    m = g.PERCENT_RE.fullmatch(text)
    assert m is not None
    sign = "-" if m.group("sign") else ""
    assert sign + m.group("a") + (m.group("sep") + m.group("b") if m.group("b") else "") == literal


def test_intervals_follow_design_section_4() -> None:
    assert interval("255", None) == (254.5, 255.5)
    assert interval("465", "over") == (465, 466)
    assert interval("1", "less than") == (0, 1)
    assert interval("120-130", "about") == (119.5, 130.5)


def test_sentences_respect_abbreviations() -> None:
    text = "Rs. 500 crore in FY24. The U.S. market grew. Approx. 9% in 2025! Next one"
    para = Paragraph(1, 0, len(text))
    assert [text[s:e] for s, e in sentences(text, para)] == [
        "Rs. 500 crore in FY24.",
        "The U.S. market grew.",
        "Approx. 9% in 2025!",
        "Next one",
    ]


def test_slugs_fold_synonyms() -> None:
    assert slugify("India's pharmaceutical") == "india-pharma"
    assert slugify("Indian Pharmaceuticals") == "india-pharma"
    assert slugify("U.S. CDMOs") == "us-cdmo"


def test_literal_check_agrees_with_the_loader() -> None:
    """The extractor's literal check mirrors ``core.numbers``: they must not drift apart."""
    import pandas as pd

    from cdmo_pipeline.core.numbers import parse_numbers

    samples = ["255", "15.48", "1,500", "0.8", "-2.1", "120-130", "120–130", "80 to 90", "0173", "0,255", "1,50"]
    samples += ["12,345.6", "4,71,295", "9.0", "0", "265,430.00", "108948.4", "22 - 25"]
    loader_ok = parse_numbers(pd.Series(samples))["error"].isna().tolist()
    assert [bool(g.DESIGN_NUMBER_RE.match(s)) for s in samples] == loader_ok
