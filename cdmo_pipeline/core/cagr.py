"""The CAGR check (DESIGN §5): does a stated growth rate follow from the endpoints?

For a stated CAGR c over t0 -> t1 (n = t1 - t0 years) with values S and E:

    implied central  = (E / S) ** (1 / n) - 1
    implied interval = [(E_lo / S_hi) ** (1 / n) - 1, (E_hi / S_lo) ** (1 / n) - 1]
    verdict          = consistent when the implied and stated intervals overlap

Where a year is "current", each reading of it (the publication year, then the year before) is
tried and the first that holds is kept. All of it is whole-column numpy over integer keys:
claims are rows (``cno``), readings are ``rk = 2 * cno + offset``, and a value is found by
``rk * 10_000 + year``; there is no per-claim Python.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdmo_pipeline.core.numbers import as_bool, overlap_gap

VALUE_ROLES = ("start", "point", "end")
CONSISTENT, INCONSISTENT, UNVERIFIABLE = "consistent", "inconsistent", "unverifiable"
VERDICTS = (CONSISTENT, INCONSISTENT, UNVERIFIABLE)
AS_WRITTEN = "as_written"
# How the years checked were chosen.
PERIOD_STATED = "stated_period"
PERIOD_VALUES = "first_and_last_values"
PERIOD_ASSUMED = "assumed_from_publication"
SCALE_SLIP = 1000.0
HEDGES = ("about", "around", "approximately", "roughly")
_YEAR_KEY = 10_000


@dataclass
class CheckResult:
    """The check's table, and what it decided about readings (used by every later step)."""

    checks: pd.DataFrame  # one row per checked claim: the published ``cagr_checks`` (+ cno)
    readings: pd.DataFrame  # every valid reading of every trajectory, with its own result
    chosen: pd.DataFrame  # cno, claim_id -> offset, reading: the reading each claim is read with
    values: pd.DataFrame  # value figures with their resolved year under the chosen reading


def _floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").astype(float).to_numpy()


def check(claims: pd.DataFrame, figures: pd.DataFrame) -> CheckResult:
    """Run the CAGR check for every trajectory claim, under every reading of "current"."""
    n_claims = len(claims)
    pub = claims["published_year"].to_numpy(np.int64)
    trajectory = (claims["kind"] == "trajectory").to_numpy(bool)
    f_cno = figures["cno"].to_numpy(np.int64)
    current_fig = (
        as_bool(figures["is_current"]) | as_bool(figures["period_from_current"]) | as_bool(figures["period_to_current"])
    )
    uses_current = np.zeros(n_claims, bool)
    uses_current[f_cno[current_fig]] = True

    # Readings: offset 0 for every trajectory, offset 1 too where "current" is written.
    base = np.flatnonzero(trajectory)
    alt = np.flatnonzero(trajectory & uses_current)
    r_cno = np.concatenate([base, alt])
    r_off = np.concatenate([np.zeros(len(base), np.int64), np.ones(len(alt), np.int64)])

    # Values under each reading of their claim.
    is_value = figures["role"].isin(VALUE_ROLES).to_numpy(bool)
    v = figures.loc[is_value]
    v_cno = v["cno"].to_numpy(np.int64)
    v_rows = np.arange(len(v))
    twice = uses_current[v_cno]
    rows = np.concatenate([v_rows, v_rows[twice]])
    off = np.concatenate([np.zeros(len(v_rows), np.int64), np.ones(int(twice.sum()), np.int64)])
    vals = v.iloc[rows].reset_index(drop=True)
    vals["offset"] = off
    written = _floats(vals["year_written"])
    vals["year"] = np.where(as_bool(vals["is_current"]), pub[vals["cno"].to_numpy()] - off, written)
    vals["rk"] = vals["cno"].to_numpy(np.int64) * 2 + off

    # A reading that puts two values in one year, or an end at or before its start, is not one.
    key = vals["rk"].to_numpy() * _YEAR_KEY + vals["year"].to_numpy(np.int64)
    invalid = np.zeros(2 * n_claims, bool)
    invalid[vals["rk"].to_numpy()[pd.Series(key).duplicated(keep=False).to_numpy()]] = True
    start_y = np.full(2 * n_claims, np.nan)
    end_y = np.full(2 * n_claims, np.nan)
    role = vals["role"].to_numpy(dtype=object)
    start_y[vals["rk"].to_numpy()[role == "start"]] = vals["year"].to_numpy()[role == "start"]
    end_y[vals["rk"].to_numpy()[role == "end"]] = vals["year"].to_numpy()[role == "end"]
    with np.errstate(invalid="ignore"):
        invalid |= end_y <= start_y
    r_rk = r_cno * 2 + r_off
    keep = ~invalid[r_rk]
    r_cno, r_off, r_rk = r_cno[keep], r_off[keep], r_rk[keep]
    vals = vals.loc[~invalid[vals["rk"].to_numpy()]].reset_index(drop=True)

    r = pd.DataFrame({"cno": r_cno, "offset": r_off, "rk": r_rk, "published_year": pub[r_cno]})
    r["claim_id"] = claims["claim_id"].to_numpy(dtype=object)[r_cno]
    r["source_id"] = claims["source_id"].to_numpy(dtype=object)[r_cno]
    r["market_id"] = claims["market_id"].to_numpy(dtype=object)[r_cno]
    r["uses_current"] = uses_current[r_cno]
    label = np.full(len(r), AS_WRITTEN, dtype=object)
    cur = r["uses_current"].to_numpy()
    label[cur] = np.char.add("current=", (r["published_year"].to_numpy()[cur] - r_off[cur]).astype(str))
    r["reading"] = label

    # The stated CAGR of each reading (at most one CAGR per claim).
    cg = figures.loc[figures["role"].to_numpy(dtype=object) == "cagr"]
    pos = np.full(n_claims, -1, np.int64)
    pos[cg["cno"].to_numpy(np.int64)] = np.arange(len(cg))
    at = pos[r_cno]
    has = at >= 0
    take = np.where(has, at, 0)

    def stated(col: str, fill: object = np.nan) -> np.ndarray:
        values = cg[col].to_numpy(dtype=object) if len(cg) else np.array([], dtype=object)
        out = np.full(len(r), fill, dtype=object)
        if len(cg):
            out[has] = values[take[has]]
        return out

    r["stated_cagr_literal"] = stated("literal", None)
    r["stated_qualifier"] = stated("qualifier", None)
    for src, dst in (
        ("value", "stated_cagr"),
        ("low", "stated_low"),
        ("high", "stated_high"),
        ("decimals", "stated_decimals"),
    ):
        r[dst] = pd.to_numeric(pd.Series(stated(src)), errors="coerce").to_numpy(float)
    r["stated_low_open"] = stated("low_open", False).astype(bool)
    r["stated_high_open"] = stated("high_open", False).astype(bool)
    p_pub = (pub[r_cno] - r_off).astype(float)
    r["period_from"] = np.where(
        stated("period_from_current", False).astype(bool),
        p_pub,
        pd.to_numeric(pd.Series(stated("period_from")), errors="coerce").to_numpy(float),
    )
    r["period_to"] = np.where(
        stated("period_to_current", False).astype(bool),
        p_pub,
        pd.to_numeric(pd.Series(stated("period_to")), errors="coerce").to_numpy(float),
    )

    # Years checked: the CAGR's own period when both its years have values; else first/last.
    span = vals.groupby("rk")["year"].agg(["min", "max", "size"])
    r["first_year"] = span["min"].reindex(r_rk).to_numpy(float)
    r["last_year"] = span["max"].reindex(r_rk).to_numpy(float)
    r["n_values"] = span["size"].reindex(r_rk).fillna(0).to_numpy(np.int64)
    index = pd.Index(vals["rk"].to_numpy() * _YEAR_KEY + vals["year"].to_numpy(np.int64))

    def row_at(years: np.ndarray) -> np.ndarray:
        keys = r_rk * _YEAR_KEY + np.nan_to_num(years, nan=-1).astype(np.int64)
        found = index.get_indexer(keys)
        return np.where(np.isnan(years), -1, found)

    use_period = (row_at(r["period_from"].to_numpy()) >= 0) & (row_at(r["period_to"].to_numpy()) >= 0)
    two_values = r["n_values"].to_numpy() >= 2
    r["start_year"] = np.where(use_period, r["period_from"], np.where(two_values, r["first_year"], np.nan))
    r["end_year"] = np.where(use_period, r["period_to"], np.where(two_values, r["last_year"], np.nan))
    r["period_basis"] = np.where(use_period, PERIOD_STATED, np.where(two_values, PERIOD_VALUES, None))

    n = (r["end_year"] - r["start_year"]).to_numpy(float)
    ends = {}
    for side in ("start", "end"):
        found = row_at(r[f"{side}_year"].to_numpy())
        ok = found >= 0
        frame = {}
        for col in ("value", "low", "high"):
            arr = np.full(len(r), np.nan)
            arr[ok] = vals[col].to_numpy(float)[found[ok]]
            frame[col] = arr
            r[f"{side}_{col}"] = arr
        for col in ("low_open", "high_open"):
            arr = np.zeros(len(r), bool)
            arr[ok] = vals[col].to_numpy(bool)[found[ok]]
            frame[col] = arr
        ends[side] = frame
    for col, arr in implied_cagr(ends["start"], ends["end"], n).items():
        r[col] = arr

    # At most one value with a stated CAGR: the period is the stated one, else it is assumed
    # to run from the publication year to the value's year (the check cannot verify it).
    has_cagr = ~np.isnan(r["stated_cagr"].to_numpy())
    few = (r["n_values"].to_numpy() < 2) & has_cagr
    has_period = ~np.isnan(r["period_from"].to_numpy())
    assumed = (
        few
        & ~has_period
        & (r["n_values"].to_numpy() == 1)
        & (r["last_year"].to_numpy() > r["published_year"].to_numpy())
    )
    r["start_year"] = np.where(
        few & has_period, r["period_from"], np.where(assumed, r["published_year"], r["start_year"])
    )
    r["end_year"] = np.where(few & has_period, r["period_to"], np.where(assumed, r["last_year"], r["end_year"]))
    r["period_basis"] = np.where(few & has_period, PERIOD_STATED, np.where(assumed, PERIOD_ASSUMED, r["period_basis"]))
    r["n_years"] = r["end_year"] - r["start_year"]
    assumption = np.full(len(r), None, dtype=object)
    assumption[assumed] = np.char.add(
        np.char.add(
            "period not stated: assumed to run from the publication year (",
            r["published_year"].to_numpy()[assumed].astype(str),
        ),
        ") to the value's year",
    )
    r["assumption"] = assumption

    overlaps, gap = overlap_gap(
        r["stated_low"].to_numpy(float),
        r["stated_high"].to_numpy(float),
        r["stated_low_open"].to_numpy(bool),
        r["stated_high_open"].to_numpy(bool),
        r["implied_low"].to_numpy(float),
        r["implied_high"].to_numpy(float),
        r["implied_low_open"].to_numpy(bool),
        r["implied_high_open"].to_numpy(bool),
    )
    verifiable = has_cagr & ~np.isnan(r["implied_cagr"].to_numpy())
    verdict = np.where(~verifiable, UNVERIFIABLE, np.where(overlaps, CONSISTENT, INCONSISTENT))
    r["verdict"] = verdict
    r["gap_pp"] = np.where(verdict == INCONSISTENT, gap, np.nan)

    # The reading that holds: the first consistent one; else the publication-year reading.
    rank = np.where(verdict == CONSISTENT, 0, 1) * 10 + r_off
    order = np.lexsort((rank, r_cno))
    first = np.ones(len(order), bool)
    first[1:] = r_cno[order][1:] != r_cno[order][:-1]
    chosen = r.iloc[order[first]].reset_index(drop=True)

    checked = ~np.isnan(chosen["stated_cagr"].to_numpy()) | (chosen["n_values"].to_numpy() >= 2)
    checks = chosen.loc[checked].copy()
    checks["hint"] = hints(checks)
    checks = checks.sort_values("claim_id", kind="stable").reset_index(drop=True)

    chosen_rk = np.zeros(2 * n_claims, bool)
    chosen_rk[chosen["rk"].to_numpy()] = True
    values = vals.loc[chosen_rk[vals["rk"].to_numpy()]].reset_index(drop=True)
    return CheckResult(
        checks=checks,
        readings=r,
        chosen=chosen[["cno", "claim_id", "offset", "reading"]],
        values=values,
    )


def implied_cagr(start: dict | pd.DataFrame, end: dict | pd.DataFrame, n: np.ndarray) -> dict[str, np.ndarray]:
    """Implied CAGR (percent) and its interval from start/end value intervals over n years."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = n > 0
        inv = np.where(ok, 1.0 / np.where(ok, n, 1.0), np.nan)
        central = (np.power(np.asarray(end["value"], float) / np.asarray(start["value"], float), inv) - 1.0) * 100.0
        low = (np.power(np.asarray(end["low"], float) / np.asarray(start["high"], float), inv) - 1.0) * 100.0
        high = (np.power(np.asarray(end["high"], float) / np.asarray(start["low"], float), inv) - 1.0) * 100.0
    return {
        "implied_cagr": central,
        "implied_low": low,
        "implied_high": high,
        "implied_low_open": np.asarray(end["low_open"], bool) | np.asarray(start["high_open"], bool),
        "implied_high_open": np.asarray(end["high_open"], bool) | np.asarray(start["low_open"], bool),
    }


def hints(rows: pd.DataFrame) -> pd.Series:
    """Why an inconsistent claim may be inconsistent: common slips that would explain it.

    The verdict stays ``inconsistent``; a hint explains, it does not excuse. Computed for the
    inconsistent rows only.
    """
    out = pd.Series(None, index=rows.index, dtype=object)
    bad_rows = rows.loc[rows["verdict"] == INCONSISTENT]
    if bad_rows.empty:
        return out
    b = bad_rows
    s_lo, s_hi = b["stated_low"].to_numpy(float), b["stated_high"].to_numpy(float)
    s_lo_open, s_hi_open = b["stated_low_open"].to_numpy(bool), b["stated_high_open"].to_numpy(bool)
    n = b["n_years"].to_numpy(float)
    closed = np.zeros(len(b), dtype=bool)
    start = {c: b[f"start_{c}"].to_numpy(float) for c in ("value", "low", "high")} | {
        "low_open": closed,
        "high_open": closed,
    }
    end = {c: b[f"end_{c}"].to_numpy(float) for c in ("value", "low", "high")} | {
        "low_open": closed,
        "high_open": closed,
    }

    def fits(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return overlap_gap(s_lo, s_hi, s_lo_open, s_hi_open, lo, hi, closed, closed)[0]

    texts = [[] for _ in range(len(b))]

    def add(ok: np.ndarray, message: str) -> None:
        for i in np.flatnonzero(ok):  # inconsistent claims only, and few hints each
            texts[i].append(message)

    p_from, p_to = b["period_from"].to_numpy(float), b["period_to"].to_numpy(float)
    t0, t1 = b["start_year"].to_numpy(float), b["end_year"].to_numpy(float)
    for k, word in ((-1, "short"), (1, "long")):
        alt = implied_cagr(start, end, n + k)
        ok = fits(alt["implied_low"], alt["implied_high"]) & (n + k > 0)
        for i in np.flatnonzero(ok):
            text = f"consistent if counted over {int(n[i] + k)} years instead of {int(n[i])}"
            text += f": the period counted one year {word}"
            if not np.isnan(p_from[i]) and (p_to[i] - p_from[i]) == n[i] + k:
                text += (
                    f" (the stated period {int(p_from[i])}–{int(p_to[i])} has {int(n[i] + k)} years;"
                    f" the values run {int(t0[i])}–{int(t1[i])})"
                )
            texts[i].append(text)
    for side in ("start", "end"):
        for factor, word in ((SCALE_SLIP, "1,000 times larger"), (1.0 / SCALE_SLIP, "1,000 times smaller")):
            scaled = {**(start if side == "start" else end)}
            for col in ("value", "low", "high"):
                scaled[col] = scaled[col] * factor
            alt = implied_cagr(scaled, end, n) if side == "start" else implied_cagr(start, scaled, n)
            add(
                fits(alt["implied_low"], alt["implied_high"]),
                f"consistent if the {side} value were {word}: a scale mix-up (million/billion/trillion)",
            )
    # Truncated instead of rounded: "9.7" then stands for [9.7, 9.8), not [9.65, 9.75].
    qualifier = b["stated_qualifier"].astype(object)
    plain = (qualifier.isna() | qualifier.isin(HEDGES)).to_numpy(bool)
    step = np.power(10.0, -np.nan_to_num(b["stated_decimals"].to_numpy(float)))
    c = b["stated_cagr"].to_numpy(float)
    t_lo, t_hi = np.where(c >= 0, c, c - step), np.where(c >= 0, c + step, c)
    truncated = overlap_gap(
        t_lo, t_hi, closed, ~closed,
        b["implied_low"].to_numpy(float), b["implied_high"].to_numpy(float),
        b["implied_low_open"].to_numpy(bool), b["implied_high_open"].to_numpy(bool),
    )[0]  # fmt: skip
    add(truncated & plain, "consistent if the stated CAGR was truncated, not rounded")
    # Simple (non-compounded) average growth: (E/S - 1) / n.
    with np.errstate(invalid="ignore", divide="ignore"):
        simple_lo = (end["low"] / start["high"] - 1.0) / n * 100.0
        simple_hi = (end["high"] / start["low"] - 1.0) / n * 100.0
    add(fits(simple_lo, simple_hi), "consistent with simple (not compounded) average growth per year")
    out.loc[b.index] = ["; ".join(t) if t else None for t in texts]
    return out
