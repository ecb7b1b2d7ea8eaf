"""Numbers as written are intervals (DESIGN §4): literal cases, worked out by hand."""

import pandas as pd
import pytest

from cdmo_pipeline.core.numbers import (
    QUALIFIER_POLICY,
    format_number,
    overlap_gap,
    parse_number,
    parse_numbers,
)

# literal, qualifier -> (value, low, high, low_open, high_open, decimals)
CASES = [
    ("255", None, (255, 254.5, 255.5, False, False, 0)),
    ("9", None, (9, 8.5, 9.5, False, False, 0)),
    ("9.0", None, (9, 8.95, 9.05, False, False, 1)),
    ("9.0%", None, (9, 8.95, 9.05, False, False, 1)),
    ("15.48", None, (15.48, 15.475, 15.485, False, False, 2)),
    ("-3.6", None, (-3.6, -3.65, -3.55, False, False, 1)),
    ("1,500", None, (1500, 1499.5, 1500.5, False, False, 0)),
    ("265,430.00", None, (265430, 265429.995, 265430.005, False, False, 2)),
    ("465", "over", (465, 465, 466, True, False, 0)),
    ("465", "more than", (465, 465, 466, True, False, 0)),
    ("465", "above", (465, 465, 466, True, False, 0)),
    ("465", "at least", (465, 465, 466, False, False, 0)),
    ("60", "nearly", (60, 59, 60, False, True, 0)),
    ("60", "almost", (60, 59, 60, False, True, 0)),
    ("60", "under", (60, 59, 60, False, True, 0)),
    ("60", "less than", (60, 59, 60, False, True, 0)),
    ("7.5", "about", (7.5, 7.45, 7.55, False, False, 1)),
    ("7.5", "Around", (7.5, 7.45, 7.55, False, False, 1)),
    ("7.5", "approximately", (7.5, 7.45, 7.55, False, False, 1)),
    ("7.5", "roughly", (7.5, 7.45, 7.55, False, False, 1)),
    ("120-130", None, (125, 119.5, 130.5, False, False, 0)),
    ("120–130", "about", (125, 119.5, 130.5, False, False, 0)),
    ("11-12.5", None, (11.75, 10.5, 12.55, False, False, 1)),  # each end its own half-step
    ("22 to 25", None, (23.5, 21.5, 25.5, False, False, 0)),
]


@pytest.mark.parametrize(("literal", "qualifier", "expected"), CASES, ids=[f"{q or ''} {lit}" for lit, q, _ in CASES])
def test_interval_from_digits_and_qualifier(literal, qualifier, expected) -> None:
    n = parse_number(literal, qualifier)
    value, low, high, low_open, high_open, decimals = expected
    assert (n.value, n.low, n.high) == pytest.approx((value, low, high), abs=1e-12)
    assert (n.low_open, n.high_open, n.decimals) == (low_open, high_open, decimals)


def test_nine_and_nine_point_zero_are_different_claims() -> None:
    assert parse_number("9").high - parse_number("9").low == pytest.approx(1.0)
    assert parse_number("9.0").high - parse_number("9.0").low == pytest.approx(0.1)


def test_every_qualifier_of_the_design_is_in_the_policy() -> None:
    design = "over, more than, above, at least, nearly, almost, under, less than, about, around, approximately, roughly"
    assert {q.strip() for q in design.split(",")} | {"none"} == set(QUALIFIER_POLICY)


BAD = [
    ("1,50", "commas only as thousands separators"),
    ("1,5000", "commas only as thousands separators"),
    ("12,34.5", "commas only as thousands separators"),
    ("abc", "not a number"),
    ("nan", "not a number"),
    ("inf", "not a number"),
    ("", "empty"),
    ("130-120", "backwards"),
    ("120-120", "equal"),
    ("12345678901234567", "significant digits"),
    (".5", "not a number"),
    ("1e6", "not a number"),
]


@pytest.mark.parametrize(("literal", "reason"), BAD)
def test_refused_literals(literal, reason) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_number(literal)


def test_a_range_takes_only_hedges() -> None:
    with pytest.raises(ValueError, match="only the hedges"):
        parse_number("120-130", "over")
    with pytest.raises(ValueError, match="unknown qualifier"):
        parse_number("120", "circa")


def test_vectorised_parse_matches_scalar_parse() -> None:
    literals = pd.Series([c[0] for c in CASES])
    qualifiers = pd.Series([c[1] for c in CASES])
    frame = parse_numbers(literals, qualifiers)
    assert frame["error"].isna().all()
    for (literal, qualifier, _), row in zip(CASES, frame.itertuples(), strict=True):
        n = parse_number(literal, qualifier)
        assert (row.low, row.high) == (n.low, n.high)


@pytest.mark.parametrize("literal", ["255", "9.0", "15.48", "0.005", "-3.6", "1,500.25"])
def test_print_back_gives_the_literal(literal) -> None:
    n = parse_number(literal)
    assert format_number(n.value, n.decimals, thousands="," in literal) == literal


def test_overlap_respects_open_ends() -> None:
    import numpy as np

    def ov(a, b):
        arr = [np.array([x]) for x in (*a, *b)]
        return bool(overlap_gap(*arr)[0][0])

    assert ov((9.0, 10.0, True, False), (8.0, 9.0, False, False)) is False  # (9, 10] vs [8, 9]
    assert ov((9.0, 10.0, False, False), (8.0, 9.0, False, False)) is True  # [9, 10] vs [8, 9]
    assert ov((9.0, 10.0, False, False), (8.0, 9.0, False, True)) is False  # [9, 10] vs [8, 9)
    assert ov((8.5, 9.5, False, False), (8.93, 9.03, True, False)) is True
