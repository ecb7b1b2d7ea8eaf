"""Numbers as written, and the intervals they stand for (DESIGN §4).

A number keeps its literal until its precision is recorded: "9" and "9.0" are different
claims. A literal written with d decimals stands for every value that rounds to it,
[x - h, x + h] with h = 0.5 * 10**-d; qualifiers move that interval. The whole policy is the
table ``QUALIFIER_POLICY`` below: change it there and every check, derivation and projection
follows.

Parsing is vectorised (pyarrow's RE2 over whole columns), so a million literals cost one pass,
not a million Python calls.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Significant digits a float64 keeps exactly; a literal with more would silently lose digits.
MAX_SIGNIFICANT_DIGITS = 15


@dataclass(frozen=True)
class QualifierRule:
    """Where a qualifier puts the interval, in half-steps h from the written value x."""

    low: int
    high: int
    low_open: bool
    high_open: bool
    hedge: bool  # hedges keep the rounding interval and are the only qualifiers a range takes


_ROUNDED = QualifierRule(-1, +1, False, False, hedge=True)
_ABOVE = QualifierRule(0, +2, True, False, hedge=False)
_AT_LEAST = QualifierRule(0, +2, False, False, hedge=False)
_BELOW = QualifierRule(-2, 0, False, True, hedge=False)

# The one place the qualifier policy lives (DESIGN §4). Keys are lowercase, single-spaced.
QUALIFIER_POLICY: dict[str, QualifierRule] = {
    "none": _ROUNDED,
    "about": _ROUNDED,
    "around": _ROUNDED,
    "approximately": _ROUNDED,
    "roughly": _ROUNDED,
    "over": _ABOVE,
    "more than": _ABOVE,
    "above": _ABOVE,
    "at least": _AT_LEAST,
    "nearly": _BELOW,
    "almost": _BELOW,
    "under": _BELOW,
    "less than": _BELOW,
}
QUALIFIERS: tuple[str, ...] = tuple(q for q in QUALIFIER_POLICY if q != "none")
HEDGES: tuple[str, ...] = tuple(q for q in QUALIFIERS if QUALIFIER_POLICY[q].hedge)

# An integer part as written: thousands groups led by a non-zero digit ("1,500", not "0,255",
# which is a decimal comma), or plain digits without a leading zero ("0", "15", not "0173").
_INT = r"[1-9][0-9]{0,2}(?:,[0-9]{3})+|0|[1-9][0-9]*"
NUMBER_RE = (
    rf"^(?P<a_sign>[-+]?)(?P<a_int>{_INT})(?:\.(?P<a_frac>[0-9]+))?(?P<a_pct>%?)"
    rf"(?:\s*(?:-|–|—|to)\s*(?P<b_int>{_INT})(?:\.(?P<b_frac>[0-9]+))?(?P<b_pct>%?))?$"
)


_STRING = pd.StringDtype("pyarrow")


def normalise_qualifier(qualifiers: pd.Series) -> pd.Series:
    """Lowercase, single-spaced qualifier keys; absent means "none"."""
    q = qualifiers.astype(_STRING).fillna("").str.strip().str.lower()
    q = q.str.replace(r"\s+", " ", regex=True)
    return q.mask(q == "", "none")


_POLICY_KEYS = pa.array(list(QUALIFIER_POLICY), type=pa.string())


def _policy_index(quals: pd.Series) -> np.ndarray:
    """Each row's position in the policy table (-1 when the qualifier is unknown)."""
    found = pc.index_in(pc.cast(pa.array(quals.astype(_STRING)), pa.string()), value_set=_POLICY_KEYS)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False)


def _policy_column(index: np.ndarray, attr: str, default: object) -> np.ndarray:
    """One attribute of the policy for every row (a table lookup, not a Python loop)."""
    table = np.array([getattr(QUALIFIER_POLICY[k], attr) for k in QUALIFIER_POLICY] + [default], dtype=object)
    return table[np.where(index < 0, len(table) - 1, index)]


def _to_arrow(values: pd.Series) -> pa.Array:
    arr = pa.array(values.astype(_STRING).fillna("")).cast(pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    return pc.replace_substring(arr, "−", "-")  # typographic minus


def _mantissa(int_part: pa.Array, frac_part: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer mantissa, decimals and significant-digit count of ``int.frac``."""
    digits = pc.binary_join_element_wise(pc.replace_substring(int_part, ",", ""), frac_part, "")
    digits = pc.if_else(pc.equal(pc.utf8_length(digits), 0), "0", digits)
    significant = pc.utf8_length(pc.utf8_ltrim(digits, "0")).to_numpy(zero_copy_only=False)
    too_long = significant > MAX_SIGNIFICANT_DIGITS
    # Overlong mantissas are reported as errors; give them a harmless value meanwhile.
    safe = pc.if_else(pa.array(too_long), "0", digits)
    mantissa = pc.cast(safe, pa.int64()).to_numpy(zero_copy_only=False)
    decimals = pc.utf8_length(frac_part).to_numpy(zero_copy_only=False).astype(np.int64)
    return mantissa, decimals, significant


def parse_numbers(literals: pd.Series, qualifiers: pd.Series | None = None) -> pd.DataFrame:
    """Parse literals as written into values and intervals, one row per input row.

    Returns, aligned to ``literals.index``: ``error`` (None when the literal is good),
    ``qualifier`` (normalised), ``value`` (central: the number as written, a range's
    midpoint), ``low``/``high`` with ``low_open``/``high_open``, ``decimals`` (the most
    precise end's), ``is_range``, ``is_percent`` (a trailing "%") and ``hedge``.
    """
    n = len(literals)
    quals = (
        normalise_qualifier(qualifiers)
        if qualifiers is not None
        else pd.Series("none", index=literals.index, dtype=object)
    )
    arr = _to_arrow(literals)
    parts = pc.extract_regex(arr, NUMBER_RE)
    matched = parts.is_valid().to_numpy(zero_copy_only=False)
    filled = pc.if_else(parts.is_valid(), parts, pa.scalar({k: "" for k in _GROUPS}, parts.type))

    def group(name: str) -> pa.Array:
        return pc.struct_field(filled, name)

    m_a, d_a, sig_a = _mantissa(group("a_int"), group("a_frac"))
    m_b, d_b, sig_b = _mantissa(group("b_int"), group("b_frac"))
    negative = pc.equal(group("a_sign"), "-").to_numpy(zero_copy_only=False)
    m_a = np.where(negative, -m_a, m_a)
    is_range = pc.not_equal(group("b_int"), "").to_numpy(zero_copy_only=False) & matched
    is_percent = (
        pc.or_(pc.equal(group("a_pct"), "%"), pc.equal(group("b_pct"), "%")).to_numpy(zero_copy_only=False) & matched
    )

    scale_a = np.power(10.0, d_a)
    scale_b = np.power(10.0, d_b)
    x_a = m_a / scale_a
    x_b = m_b / scale_b

    policy = _policy_index(quals)
    known = policy >= 0
    rule_low = _policy_column(policy, "low", -1).astype(np.float64)
    rule_high = _policy_column(policy, "high", 1).astype(np.float64)
    rule_low_open = _policy_column(policy, "low_open", False).astype(bool)
    rule_high_open = _policy_column(policy, "high_open", False).astype(bool)
    hedge = _policy_column(policy, "hedge", False).astype(bool)

    # (2M + k) / (2 * 10**d) is x + k*h computed with one rounding, so "15.475" is the float
    # nearest to 15.475, not 15.48 - 0.005 with two roundings.
    single_low = (2.0 * m_a + rule_low) / (2.0 * scale_a)
    single_high = (2.0 * m_a + rule_high) / (2.0 * scale_a)
    range_low = (2.0 * m_a - 1.0) / (2.0 * scale_a)
    range_high = (2.0 * m_b + 1.0) / (2.0 * scale_b)

    out = pd.DataFrame(
        {
            "qualifier": quals.array,
            "value": np.where(is_range, (x_a + x_b) / 2.0, x_a),
            "low": np.where(is_range, range_low, single_low),
            "high": np.where(is_range, range_high, single_high),
            "low_open": np.where(is_range, False, rule_low_open),
            "high_open": np.where(is_range, False, rule_high_open),
            "decimals": np.where(is_range, np.maximum(d_a, d_b), d_a).astype(np.int64),
            "is_range": is_range,
            "is_percent": is_percent,
            "hedge": hedge & (policy != 0),  # the policy's first key is "none"
        },
        index=literals.index,
    )
    error = np.full(n, None, dtype=object)
    empty = pc.equal(arr, "").to_numpy(zero_copy_only=False)
    has_comma = pc.match_substring(arr, ",").to_numpy(zero_copy_only=False)
    error[(~matched) & (~empty)] = "is not a number as written"
    error[(~matched) & (~empty) & has_comma] = (
        "is not a number as written (commas only as thousands separators, in groups of three)"
    )
    error[empty] = "is empty"
    too_long = matched & ((sig_a > MAX_SIGNIFICANT_DIGITS) | (is_range & (sig_b > MAX_SIGNIFICANT_DIGITS)))
    error[too_long] = f"has more than {MAX_SIGNIFICANT_DIGITS} significant digits"
    backwards = matched & is_range & ~too_long & (x_b <= x_a)
    error[backwards & (x_b < x_a)] = "is a range written backwards (low end first)"
    error[backwards & (x_b == x_a)] = "is a range whose ends are equal"
    bad_range_qualifier = matched & is_range & known & ~hedge
    error[bad_range_qualifier & pd.isna(error)] = "is a range; a range takes only the hedges " + ", ".join(HEDGES)
    # An unknown qualifier is the qualifier's fault, not the literal's: reported on its own.
    qualifier_error = np.where(~known, "has an unknown qualifier (known: " + ", ".join(QUALIFIERS) + ")", None)
    out.insert(0, "error", error)
    out.insert(1, "qualifier_error", qualifier_error)
    return out


_GROUPS = ("a_sign", "a_int", "a_frac", "a_pct", "b_int", "b_frac", "b_pct")


@dataclass(frozen=True)
class Number:
    """One parsed literal; the scalar face of :func:`parse_numbers`."""

    literal: str
    qualifier: str
    value: float
    low: float
    high: float
    low_open: bool
    high_open: bool
    decimals: int
    is_range: bool
    is_percent: bool


def parse_number(literal: str, qualifier: str | None = None) -> Number:
    """Parse one literal; raises ``ValueError`` with the reason when it is not a number."""
    row = parse_numbers(pd.Series([literal]), pd.Series([qualifier])).iloc[0]
    for problem in (row["error"], row["qualifier_error"]):
        if problem is not None:
            raise ValueError(f"{literal!r} {problem}")
    return Number(
        literal=literal,
        qualifier=row["qualifier"],
        value=float(row["value"]),
        low=float(row["low"]),
        high=float(row["high"]),
        low_open=bool(row["low_open"]),
        high_open=bool(row["high_open"]),
        decimals=int(row["decimals"]),
        is_range=bool(row["is_range"]),
        is_percent=bool(row["is_percent"]),
    )


def format_number(value: float, decimals: int, *, thousands: bool = False) -> str:
    """Write a value with exactly ``decimals`` decimals (the inverse of parsing)."""
    return f"{value:,.{decimals}f}" if thousands else f"{value:.{decimals}f}"


def as_bool(values: pd.Series) -> np.ndarray:
    """A boolean array from a column that may hold missing values (missing is False)."""
    return values.astype("boolean").fillna(False).to_numpy(dtype=bool)


# Interval arithmetic on arrays -------------------------------------------------------------

# Bounds closer than this (in the quantity's own unit) are treated as touching: float noise
# must never decide whether "over 9" meets an implied 9.0.
TOUCH_TOLERANCE = 1e-9


def overlap_gap(
    a_lo: np.ndarray,
    a_hi: np.ndarray,
    a_lo_open: np.ndarray,
    a_hi_open: np.ndarray,
    b_lo: np.ndarray,
    b_hi: np.ndarray,
    b_lo_open: np.ndarray,
    b_hi_open: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether two families of intervals overlap, and the gap between them when not.

    Open ends matter only when the intervals touch: (9, 10] and [8, 9] do not overlap,
    [9, 10] and [8, 9] do. NaN bounds give "no overlap" and a NaN gap.
    """
    lo = np.fmax(a_lo, b_lo)
    hi = np.fmin(a_hi, b_hi)
    lo_open = np.where(a_lo > b_lo, a_lo_open, np.where(b_lo > a_lo, b_lo_open, a_lo_open | b_lo_open))
    hi_open = np.where(a_hi < b_hi, a_hi_open, np.where(b_hi < a_hi, b_hi_open, a_hi_open | b_hi_open))
    with np.errstate(invalid="ignore"):
        touching = np.abs(hi - lo) <= TOUCH_TOLERANCE
        overlaps = np.where(touching, ~(lo_open | hi_open), lo < hi)
        valid = ~(np.isnan(a_lo) | np.isnan(a_hi) | np.isnan(b_lo) | np.isnan(b_hi))
        overlaps = overlaps & valid
        gap = np.where(valid & ~overlaps, np.maximum(lo - hi, 0.0), np.nan)
    return overlaps, gap
