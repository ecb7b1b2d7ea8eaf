"""The CAGR check (DESIGN §5): does a stated growth rate follow from the endpoints?

For a stated CAGR c over t0 -> t1 (n = t1 - t0 years) with values S and E:

    implied central  = (E / S) ** (1 / n) - 1
    implied interval = [(E_lo / S_hi) ** (1 / n) - 1, (E_hi / S_lo) ** (1 / n) - 1]
    verdict          = consistent when the implied and stated intervals overlap

Where a year is "current", each reading of it (the publication year, then the year before) is
tried and the first that holds is kept. All of it is whole-column numpy: claims are rows, and
there is no per-claim Python.
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


@dataclass
class CheckResult:
    """The check's table, and what it decided about readings (used by every later step)."""

    checks: pd.DataFrame  # one row per checked claim: the published ``cagr_checks``
    readings: pd.DataFrame  # every tried reading of every trajectory, with its own result
    chosen: pd.DataFrame  # claim_id -> offset, reading: the reading each claim is read with
    values: pd.DataFrame  # value figures with their resolved year under the chosen reading


def reading_frame(claims: pd.DataFrame, figures: pd.DataFrame) -> pd.DataFrame:
    """Every reading of every trajectory: offset 0 (publication year) and, with "current", 1."""
    traj = claims.loc[claims["kind"] == "trajectory", ["claim_id", "published_year"]]
    current = figures.loc[
        figures["is_current"] | figures["period_from_current"] | figures["period_to_current"], "claim_id"
    ].unique()
    uses_current = traj["claim_id"].isin(current).to_numpy()
    base = traj.assign(offset=0, uses_current=uses_current)
    alt = traj.loc[uses_current].assign(offset=1, uses_current=True)
    out = pd.concat([base, alt], ignore_index=True)
    out["reading"] = np.where(
        out["uses_current"], "current=" + (out["published_year"] - out["offset"]).astype(str), AS_WRITTEN
    )
    return out


def resolve_years(frame: pd.DataFrame, year: str, is_current: str) -> pd.Series:
    """Years of ``frame`` (joined with a reading) with "current" resolved."""
    pub_minus = frame["published_year"] - frame["offset"]
    return frame[year].astype("Float64").astype(float).where(~frame[is_current].astype(bool), pub_minus)


def check(claims: pd.DataFrame, figures: pd.DataFrame) -> CheckResult:
    """Run the CAGR check for every trajectory claim, under every reading of "current"."""
    readings = reading_frame(claims, figures)
    vals = figures.loc[figures["role"].isin(VALUE_ROLES)].merge(
        readings[["claim_id", "offset", "published_year", "reading"]], on="claim_id"
    )
    vals["year"] = resolve_years(vals, "year_written", "is_current")
    # A reading that puts two values in one year, or an end before its start, is not a reading.
    bad = vals.duplicated(subset=["claim_id", "offset", "year"], keep=False)
    ends = vals.pivot_table(index=["claim_id", "offset"], columns="role", values="year", aggfunc="first")
    backwards = (
        ends.index[(ends.get("end", np.nan) <= ends.get("start", np.nan)).to_numpy()]
        if {"start", "end"} <= set(ends.columns)
        else []
    )
    invalid = set(map(tuple, vals.loc[bad, ["claim_id", "offset"]].to_numpy())) | set(backwards)
    if invalid:
        keys = pd.MultiIndex.from_frame(readings[["claim_id", "offset"]])
        readings = readings.loc[~keys.isin(list(invalid))].reset_index(drop=True)
        vkeys = pd.MultiIndex.from_frame(vals[["claim_id", "offset"]])
        vals = vals.loc[~vkeys.isin(list(invalid))]

    cagr = figures.loc[figures["role"] == "cagr"].merge(
        readings[["claim_id", "offset", "published_year"]], on="claim_id"
    )
    cagr["from_year"] = resolve_years(cagr, "period_from", "period_from_current")
    cagr["to_year"] = resolve_years(cagr, "period_to", "period_to_current")

    r = readings.merge(
        claims[["claim_id", "source_id", "market_id"]], on="claim_id", how="left", validate="many_to_one"
    )
    r = r.merge(
        cagr[
            [
                "claim_id",
                "offset",
                "literal",
                "qualifier",
                "value",
                "low",
                "high",
                "low_open",
                "high_open",
                "from_year",
                "to_year",
                "decimals",
            ]
        ].rename(
            columns={
                "literal": "stated_cagr_literal",
                "qualifier": "stated_qualifier",
                "value": "stated_cagr",
                "low": "stated_low",
                "high": "stated_high",
                "low_open": "stated_low_open",
                "high_open": "stated_high_open",
                "from_year": "period_from",
                "to_year": "period_to",
                "decimals": "stated_decimals",
            }
        ),
        on=["claim_id", "offset"],
        how="left",
    )

    # Years checked: the CAGR's own period when both its years have values; else first/last.
    span = vals.groupby(["claim_id", "offset"]).agg(
        first_year=("year", "min"), last_year=("year", "max"), n_values=("year", "size")
    )
    r = r.merge(span, left_on=["claim_id", "offset"], right_index=True, how="left")
    r["n_values"] = r["n_values"].fillna(0).astype("int64")
    at = vals.set_index(["claim_id", "offset", "year"])[["value", "low", "high", "low_open", "high_open"]]
    has_from = _has_value(at, r, "period_from")
    has_to = _has_value(at, r, "period_to")
    use_period = has_from & has_to
    two_values = (r["n_values"] >= 2).to_numpy()
    r["start_year"] = np.where(use_period, r["period_from"], np.where(two_values, r["first_year"], np.nan))
    r["end_year"] = np.where(use_period, r["period_to"], np.where(two_values, r["last_year"], np.nan))
    r["period_basis"] = np.where(use_period, PERIOD_STATED, np.where(two_values, PERIOD_VALUES, None))

    start = _value_at(at, r, "start_year")
    end = _value_at(at, r, "end_year")
    r["n_years"] = r["end_year"] - r["start_year"]
    n = r["n_years"].to_numpy(dtype=float)
    for side, frame in (("start", start), ("end", end)):
        for col in ("value", "low", "high"):
            r[f"{side}_{col}"] = frame[col].to_numpy(dtype=float)
    implied = implied_cagr(start, end, n)
    for col, arr in implied.items():
        r[col] = arr

    # At most one value with a stated CAGR: the period is the stated one, else it is assumed to
    # run from the publication year to the value's year (the check cannot verify it).
    single = (r["n_values"] < 2).to_numpy() & r["stated_cagr"].notna().to_numpy()
    has_period = r["period_from"].notna().to_numpy()
    value_after_pub = (r["last_year"] > r["published_year"]).to_numpy()
    assumed = single & ~has_period & value_after_pub & (r["n_values"] == 1).to_numpy()
    r.loc[single & has_period, "start_year"] = r.loc[single & has_period, "period_from"]
    r.loc[single & has_period, "end_year"] = r.loc[single & has_period, "period_to"]
    r.loc[single & has_period, "period_basis"] = PERIOD_STATED
    r.loc[assumed, "start_year"] = r.loc[assumed, "published_year"]
    r.loc[assumed, "end_year"] = r.loc[assumed, "last_year"]
    r.loc[assumed, "period_basis"] = PERIOD_ASSUMED
    r["n_years"] = r["end_year"] - r["start_year"]
    r["assumption"] = np.where(
        assumed,
        "period not stated: assumed to run from the publication year ("
        + r["published_year"].astype(str)
        + ") to the value's year",
        None,
    )

    overlaps, gap = overlap_gap(
        r["stated_low"].to_numpy(dtype=float),
        r["stated_high"].to_numpy(dtype=float),
        as_bool(r["stated_low_open"]),
        as_bool(r["stated_high_open"]),
        r["implied_low"].to_numpy(dtype=float),
        r["implied_high"].to_numpy(dtype=float),
        r["implied_low_open"].to_numpy(dtype=bool),
        r["implied_high_open"].to_numpy(dtype=bool),
    )
    verifiable = r["stated_cagr"].notna().to_numpy() & r["implied_cagr"].notna().to_numpy()
    r["verdict"] = np.where(~verifiable, UNVERIFIABLE, np.where(overlaps, CONSISTENT, INCONSISTENT))
    r["gap_pp"] = np.where(r["verdict"] == INCONSISTENT, gap, np.nan)

    # The reading that holds: the first consistent one; else the publication-year reading.
    r["_rank"] = np.where(r["verdict"] == CONSISTENT, 0, 1) * 10 + r["offset"]
    chosen = r.sort_values(["claim_id", "_rank"], kind="stable").drop_duplicates("claim_id")
    chosen = chosen.drop(columns="_rank")
    r = r.drop(columns="_rank")

    checked = chosen["stated_cagr"].notna() | (chosen["n_values"] >= 2)
    checks = chosen.loc[checked].copy()
    checks["hint"] = hints(checks)
    checks = checks.sort_values("claim_id").reset_index(drop=True)

    chosen_keys = chosen[["claim_id", "offset", "reading"]].reset_index(drop=True)
    values = vals.merge(chosen_keys[["claim_id", "offset"]], on=["claim_id", "offset"])
    return CheckResult(checks=checks, readings=r, chosen=chosen_keys, values=values)


def implied_cagr(start: pd.DataFrame, end: pd.DataFrame, n: np.ndarray) -> dict[str, np.ndarray]:
    """Implied CAGR (percent) and its interval from start/end value intervals over n years."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = n > 0
        inv = np.where(ok, 1.0 / np.where(ok, n, 1.0), np.nan)
        central = (np.power(end["value"].to_numpy(float) / start["value"].to_numpy(float), inv) - 1.0) * 100.0
        low = (np.power(end["low"].to_numpy(float) / start["high"].to_numpy(float), inv) - 1.0) * 100.0
        high = (np.power(end["high"].to_numpy(float) / start["low"].to_numpy(float), inv) - 1.0) * 100.0
    return {
        "implied_cagr": central,
        "implied_low": low,
        "implied_high": high,
        "implied_low_open": as_bool(end["low_open"]) | as_bool(start["high_open"]),
        "implied_high_open": as_bool(end["high_open"]) | as_bool(start["low_open"]),
    }


def _has_value(at: pd.DataFrame, r: pd.DataFrame, year_col: str) -> np.ndarray:
    keys = pd.MultiIndex.from_arrays([r["claim_id"], r["offset"], r[year_col].astype(float)])
    return keys.isin(at.index) & r[year_col].notna().to_numpy()


def _value_at(at: pd.DataFrame, r: pd.DataFrame, year_col: str) -> pd.DataFrame:
    keys = pd.MultiIndex.from_arrays([r["claim_id"], r["offset"], r[year_col].astype(float)])
    return at.reindex(keys)


def hints(rows: pd.DataFrame) -> pd.Series:
    """Why an inconsistent claim may be inconsistent: common slips that would explain it.

    The verdict stays ``inconsistent``; a hint explains, it does not excuse.
    """
    bad = (rows["verdict"] == INCONSISTENT).to_numpy()
    if not bad.any():
        return pd.Series(None, index=rows.index, dtype=object)
    s_lo, s_hi = rows["stated_low"].to_numpy(float), rows["stated_high"].to_numpy(float)
    s_lo_open = as_bool(rows["stated_low_open"])
    s_hi_open = as_bool(rows["stated_high_open"])
    n = rows["n_years"].to_numpy(float)
    start = pd.DataFrame({c: rows[f"start_{c}"].to_numpy(float) for c in ("value", "low", "high")})
    end = pd.DataFrame({c: rows[f"end_{c}"].to_numpy(float) for c in ("value", "low", "high")})
    for frame in (start, end):
        frame["low_open"] = False
        frame["high_open"] = False

    def fits(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        closed = np.zeros(len(lo), dtype=bool)
        return overlap_gap(s_lo, s_hi, s_lo_open, s_hi_open, lo, hi, closed, closed)[0] & bad

    messages: list[tuple[np.ndarray, pd.Series]] = []
    t0 = rows["start_year"].astype("Int64").astype(str)
    t1 = rows["end_year"].astype("Int64").astype(str)
    p_from = rows["period_from"].astype("Int64").astype(str)
    p_to = rows["period_to"].astype("Int64").astype(str)
    stated_period = rows["period_from"].notna().to_numpy()
    for k, word in ((-1, "short"), (1, "long")):
        alt = implied_cagr(start, end, n + k)
        ok = fits(alt["implied_low"], alt["implied_high"]) & (n + k > 0)
        detail = pd.Series("", index=rows.index)
        period_len = (rows["period_to"] - rows["period_from"]).to_numpy(float)
        mismatch = stated_period & (period_len == n + k)
        detail[mismatch] = (
            " (the stated period "
            + p_from[mismatch]
            + "–"
            + p_to[mismatch]
            + " has "
            + (n[mismatch] + k).astype(int).astype(str)
            + " years; the values run "
            + t0[mismatch]
            + "–"
            + t1[mismatch]
            + ")"
        )
        text = (
            "consistent if counted over "
            + pd.Series(n + k, index=rows.index).fillna(0).astype(int).astype(str)
            + " years instead of "
            + pd.Series(n, index=rows.index).fillna(0).astype(int).astype(str)
            + f": the period counted one year {word}"
            + detail
        )
        messages.append((ok, text))
    for side, frame, other in (("start", start, end), ("end", end, start)):
        for factor, word in ((SCALE_SLIP, "1,000 times larger"), (1.0 / SCALE_SLIP, "1,000 times smaller")):
            scaled = frame.copy()
            scaled[["value", "low", "high"]] *= factor
            s, e = (scaled, other) if side == "start" else (other, scaled)
            alt = implied_cagr(s, e, n)
            ok = fits(alt["implied_low"], alt["implied_high"])
            messages.append(
                (
                    ok,
                    pd.Series(
                        f"consistent if the {side} value were {word}: a scale mix-up (million/billion/trillion)",
                        index=rows.index,
                    ),
                )
            )
    # Truncated instead of rounded: "9.7" then stands for [9.7, 9.8), not [9.65, 9.75].
    plain = (
        rows["stated_qualifier"].isna().to_numpy()
        | rows["stated_qualifier"].isin(["about", "around", "approximately", "roughly"]).to_numpy()
    )
    step = np.power(10.0, -rows["stated_decimals"].fillna(0).to_numpy(float))
    c = rows["stated_cagr"].to_numpy(float)
    t_lo = np.where(c >= 0, c, c - step)
    t_hi = np.where(c >= 0, c + step, c)
    ok = _fits_interval(rows, t_lo, t_hi, bad) & plain
    messages.append((ok, pd.Series("consistent if the stated CAGR was truncated, not rounded", index=rows.index)))
    # Simple (non-compounded) average growth: (E/S - 1) / n.
    with np.errstate(invalid="ignore", divide="ignore"):
        simple_lo = (end["low"].to_numpy() / start["high"].to_numpy() - 1.0) / n * 100.0
        simple_hi = (end["high"].to_numpy() / start["low"].to_numpy() - 1.0) / n * 100.0
    ok = fits(simple_lo, simple_hi)
    messages.append(
        (ok, pd.Series("consistent with simple (not compounded) average growth per year", index=rows.index))
    )

    texts = pd.Series("", index=rows.index, dtype=object)
    for ok, text in messages:
        add = pd.Series(ok, index=rows.index)
        texts = texts.where(~add, texts.where(texts == "", texts + "; ") + text)
    return texts.where(texts != "", None)


def _fits_interval(rows: pd.DataFrame, lo: np.ndarray, hi: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Whether the implied interval meets [lo, hi) (a truncated stated CAGR)."""
    closed = np.zeros(len(lo), dtype=bool)
    return (
        overlap_gap(
            lo,
            hi,
            closed,
            np.ones(len(lo), dtype=bool),
            rows["implied_low"].to_numpy(float),
            rows["implied_high"].to_numpy(float),
            rows["implied_low_open"].to_numpy(bool),
            rows["implied_high_open"].to_numpy(bool),
        )[0]
        & bad
    )
