"""Property-based tests (hypothesis) over generated valid claims and literals (issue 4 item 4).

Every expectation is computed here from the numbers as written (``decimal.Decimal`` for the
literals, plain float arithmetic for the CAGR), never by the code under test:

- a stated CAGR that is the implied CAGR rounded to its own digits (0-3 decimals) is
  ``consistent``, whatever the values' scales, decimals and qualifiers;
- the implied CAGR lies within [implied_low, implied_high] and is (E/S)^(1/n) - 1;
- every projection row has low <= central <= high, and covers each claim's years once per basis;
- a growing market's projections rise year on year (``endpoints``, and ``stated_cagr`` with a
  positive CAGR); a declining one's fall;
- a literal parsed and printed back (``format_number``) is the literal; an unqualified
  literal's interval is 10^-d wide, and each qualifier puts it where DESIGN §4 says.

Deterministic (``derandomize=True``, no example database) and bounded: the whole file runs in
well under a minute. Many claims are built at once, in one source file per example.

    .venv/bin/python -m pytest tests/test_properties.py -q
"""

import math
import tempfile
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from cdmo_pipeline.core.numbers import format_number, parse_number
from cdmo_pipeline.core.tables import build
from tests.conftest import source_doc, trajectory, value

# Written here from DESIGN §3-§4, not imported, so the tests do not share the code's tables.
SCALES = {
    "thousand": Decimal("0.000001"),
    "million": Decimal("0.001"),
    "billion": Decimal(1),
    "trillion": Decimal(1000),
}
MAX_UNITS = {"thousand": 10**8, "million": 10**6, "billion": 10**4, "trillion": 100}  # keeps values < 100,000 bn
VALUE_QUALIFIERS = (
    None,
    "over",
    "more than",
    "above",
    "at least",
    "nearly",
    "almost",
    "under",
    "less than",
    "about",
    "around",
    "approximately",
    "roughly",
)
HEDGES = ("about", "around", "approximately", "roughly")
QUALIFIER = st.one_of(st.none(), st.sampled_from(VALUE_QUALIFIERS))  # unqualified about half the time
# Where each qualifier puts the interval, in half-steps h from x: (low, high, low_open, high_open).
POSITION = {
    None: (-1, 1, False, False),
    **{q: (-1, 1, False, False) for q in HEDGES},
    **{q: (0, 2, True, False) for q in ("over", "more than", "above")},
    "at least": (0, 2, False, False),
    **{q: (-2, 0, False, True) for q in ("nearly", "almost", "under", "less than")},
}

# Each example builds every table (about half a second), so no shrinking: a failure prints
# the generated example as is, and derandomize makes it reproducible.
TABLES = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PURE = settings(max_examples=200, derandomize=True, database=None, deadline=None)


def written(x: Decimal, decimals: int, *, thousands: bool = False) -> str:
    """``x`` as a source writes it with ``decimals`` decimals (exact decimal rounding)."""
    q = x.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
    if q == 0:
        q = abs(q)  # no "-0.0"
    return f"{q:,.{decimals}f}" if thousands else f"{q:.{decimals}f}"


def units(literal: str) -> Decimal:
    return Decimal(literal.replace(",", ""))


@dataclass
class Generated:
    """A generated claim and what the test expects of it."""

    claim: dict
    years: list[int]
    values_bn: list[Decimal]  # the written values, in billions
    start_year: int
    end_year: int
    cagr_literal: str | None
    cagr_decimals: int
    cagr_qualifier: str | None
    implied: float  # percent, from the written start and end values


@st.composite
def claims(draw: st.DrawFn, index: int) -> Generated:
    start_year = draw(st.integers(1990, 2085))
    n = draw(st.integers(1, min(15, 2100 - start_year)))
    end_year = start_year + n
    scale_s = draw(st.sampled_from(list(SCALES)))
    d_s = draw(st.integers(0, 3))
    mantissa_s = draw(st.integers(10, MAX_UNITS[scale_s] * 10**d_s))
    start_lit = written(Decimal(mantissa_s).scaleb(-d_s), d_s, thousands=draw(st.booleans()))
    start_bn = units(start_lit) * SCALES[scale_s]

    growth = draw(st.floats(-0.45, 1.0, allow_nan=False).filter(lambda g: abs(g) > 1e-4))
    d_e = draw(st.integers(0, 3))
    scale_e = draw(st.sampled_from([scale_s, *SCALES]))  # often the start's scale, sometimes mixed
    end_units = Decimal(float(start_bn) * (1 + growth) ** n) / SCALES[scale_e]
    end_lit = written(end_units, d_e, thousands=draw(st.booleans()))
    assume(units(end_lit).scaleb(d_e) >= 10)  # at least ten units of its last digit: every qualifier keeps it > 0
    assume(units(end_lit) * SCALES[scale_e] < 100_000)
    end_bn = units(end_lit) * SCALES[scale_e]
    assume(end_bn != start_bn)

    # Points between, on the same path, written in billions with 3 decimals.
    between = sorted(draw(st.sets(st.integers(start_year + 1, end_year - 1), max_size=2))) if n > 1 else []
    points = []
    for year in between:
        lit = written(Decimal(float(start_bn) * (1 + growth) ** (year - start_year)), 3)
        assume(units(lit) >= Decimal("0.01"))
        points.append((year, lit))

    values = [value(str(start_year), start_lit, scale_s, draw(QUALIFIER))]
    values += [value(str(year), lit) for year, lit in points]
    values += [value(str(end_year), end_lit, scale_e, draw(QUALIFIER))]
    implied = ((float(end_bn) / float(start_bn)) ** (1 / n) - 1) * 100

    cagr_literal, d_c, cagr_qualifier, period = None, 0, None, None
    if draw(st.booleans()) or draw(st.booleans()):  # three claims in four state a CAGR
        d_c = draw(st.integers(0, 3))
        cagr_literal = written(Decimal(repr(implied)), d_c) + draw(st.sampled_from(["", "%"]))
        cagr_qualifier = draw(st.sampled_from([None, *HEDGES]))
        period = (str(start_year), str(end_year)) if draw(st.booleans()) else None
    claim = trajectory(f"c{index}", values, cagr_literal, period=period, cagr_qualifier=cagr_qualifier)
    return Generated(
        claim,
        [start_year, *(y for y, _ in points), end_year],
        [start_bn, *(units(lit) for _, lit in points), end_bn],
        start_year,
        end_year,
        cagr_literal,
        d_c,
        cagr_qualifier,
        implied,
    )


@st.composite
def claim_sets(draw: st.DrawFn) -> list[Generated]:
    n = draw(st.integers(4, 16))
    return [draw(claims(i)) for i in range(n)]


def build_all(generated: list[Generated]):
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        doc = source_doc([g.claim for g in generated])
        (directory / "t.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        return build(directory)


def strictly(values: np.ndarray, rising: bool) -> bool:
    steps = np.diff(values)
    return bool(np.all(steps > 0) if rising else np.all(steps < 0))


@TABLES
@given(claim_sets())
def test_generated_claims_check_and_project_as_the_arithmetic_says(generated: list[Generated]) -> None:
    tables = build_all(generated)
    checks = tables.cagr_checks.set_index("claim_id")
    projections = tables.projections
    figures = tables.figures

    # Every projection row: the central value inside its band.
    assert (projections["low"] <= projections["central"]).all()
    assert (projections["central"] <= projections["high"]).all()

    for i, g in enumerate(generated):
        claim_id = f"t/c{i}"
        check = checks.loc[claim_id]
        context = f"{claim_id}: {g.claim}"

        # The implied CAGR: the arithmetic's, and inside its own interval.
        assert math.isclose(check["implied_cagr"], g.implied, rel_tol=1e-9, abs_tol=1e-9), context
        assert check["implied_low"] <= check["implied_cagr"] <= check["implied_high"], context
        assert (int(check["start_year"]), int(check["end_year"])) == (g.start_year, g.end_year), context

        if g.cagr_literal is not None:
            # The stated CAGR is the implied one rounded to its digits: consistent.
            assert check["verdict"] == "consistent", f"{context}\n{check.to_dict()}"
            width = check["stated_high"] - check["stated_low"]
            assert math.isclose(width, 10.0**-g.cagr_decimals, rel_tol=1e-9, abs_tol=1e-12), context
            assert check["stated_low"] <= float(units(g.cagr_literal.rstrip("%"))) <= check["stated_high"]
        else:
            assert check["verdict"] == "unverifiable", context

        # Projections: each year of the claim once per basis, moving the way the market moves.
        own = projections[(projections["claim_id"] == claim_id) & ~projections["is_extrapolated"]]
        years = list(range(g.start_year, g.end_year + 1))
        for basis, rows in own.groupby(own["basis"].astype(str)):
            rows = rows.sort_values("year")
            assert rows["year"].tolist() == years, f"{context}: {basis} years {rows['year'].tolist()}"
        endpoints = own[own["basis"] == "endpoints"].sort_values("year")
        assert len(endpoints) == len(years)
        values = np.array([float(v) for v in g.values_bn])
        if strictly(values, rising=True):
            assert strictly(endpoints["central"].to_numpy(), rising=True), context
        elif strictly(values, rising=False):
            assert strictly(endpoints["central"].to_numpy(), rising=False), context
        stated = own[own["basis"] == "stated_cagr"].sort_values("year")
        if g.cagr_literal is None:
            assert stated.empty, context
        else:
            c = float(units(g.cagr_literal.rstrip("%")))
            assert len(stated) == len(years), context
            if c != 0:
                assert strictly(stated["central"].to_numpy(), rising=c > 0), context

        # Unqualified (or hedged) values: an interval 10^-d wide (in billions: times the scale).
        mine = figures[(figures["claim_id"] == claim_id) & (figures["role"] != "cagr")]
        for row in mine.itertuples():
            qualifier = None if pd.isna(row.qualifier) else row.qualifier
            if qualifier in (None, *HEDGES) and not row.is_range:
                factor = float(SCALES[row.scale])
                expected = 10.0 ** -int(row.decimals) * factor
                tol = 4 * math.ulp(row.high)  # the interval's ends are floats in billions
                assert math.isclose(row.high - row.low, expected, rel_tol=1e-9, abs_tol=tol), (context, row)


# Literals ------------------------------------------------------------------------------------


@st.composite
def literals(draw: st.DrawFn) -> tuple[str, int, bool]:
    """A number as a source writes it: sign, digits (thousands grouped or not), 0-3 decimals."""
    decimals = draw(st.integers(0, 3))
    integer = draw(st.one_of(st.integers(0, 999), st.integers(0, 10 ** (15 - decimals) - 1)))
    fraction = draw(st.integers(0, 10**decimals - 1)) if decimals else 0
    thousands = draw(st.booleans())
    negative = draw(st.booleans()) and (integer or fraction)
    text = f"{integer:,}" if thousands else str(integer)
    if decimals:
        text += "." + str(fraction).zfill(decimals)
    return ("-" if negative else "") + text, decimals, thousands


@PURE
@given(literals())
def test_a_literal_parsed_and_printed_back_is_the_literal(case: tuple[str, int, bool]) -> None:
    literal, decimals, thousands = case
    number = parse_number(literal)
    assert number.decimals == decimals
    assert number.value == float(units(literal))
    assert format_number(number.value, number.decimals, thousands=thousands) == literal


@PURE
@given(literals(), st.sampled_from(VALUE_QUALIFIERS))
def test_qualifiers_put_the_interval_where_the_design_says(case: tuple[str, int, bool], qualifier: str | None) -> None:
    literal, decimals, _ = case
    number = parse_number(literal, qualifier)
    x = float(units(literal))
    h = 0.5 * 10.0**-decimals
    tol = 4 * math.ulp(abs(x) + 1)  # floats hold a 15-digit literal's interval to a few ulps
    low, high, low_open, high_open = POSITION[qualifier]
    assert number.value == x
    assert math.isclose(number.low, x + low * h, abs_tol=tol), (literal, qualifier, number)
    assert math.isclose(number.high, x + high * h, abs_tol=tol), (literal, qualifier, number)
    assert (number.low_open, number.high_open) == (low_open, high_open)
    assert number.low <= number.value <= number.high
    if qualifier is None:
        assert math.isclose(number.high - number.low, 10.0**-decimals, abs_tol=2 * tol)


@st.composite
def ranges(draw: st.DrawFn) -> tuple[str, int, str, int]:
    """A range "a-b" as written, a < b, each end with its own decimals."""
    d_a, d_b = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    low = Decimal(draw(st.integers(0, 10**9))).scaleb(-d_a)
    step = Decimal(1).scaleb(-d_b)
    high = low.quantize(step, rounding=ROUND_CEILING) + draw(st.integers(1, 10**6)) * step
    return written(low, d_a), d_a, written(high, d_b), d_b


@PURE
@given(ranges(), st.sampled_from([None, *HEDGES]))
def test_a_range_takes_each_ends_own_half_step(case: tuple[str, int, str, int], hedge: str | None) -> None:
    a, d_a, b, d_b = case
    x_a, x_b = float(units(a)), float(units(b))
    number = parse_number(f"{a}-{b}", hedge)
    tol = 4 * math.ulp(x_b + 1)
    assert number.is_range
    assert math.isclose(number.low, x_a - 0.5 * 10.0**-d_a, abs_tol=tol), (a, b, number)
    assert math.isclose(number.high, x_b + 0.5 * 10.0**-d_b, abs_tol=tol), (a, b, number)
    assert math.isclose(number.value, (x_a + x_b) / 2, abs_tol=tol), (a, b, number)
    assert number.decimals == max(d_a, d_b)
