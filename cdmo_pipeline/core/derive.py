"""Implied figures (DESIGN §6): what a claim leaves out and the rest determines, as intervals.

- the CAGR from two values when none is stated (one row per reading of "current");
- a value at an end of the CAGR's period that the claim does not state, compounded (or
  discounted) from the value at the other end, or from the claim's only value.
"""

import numpy as np
import pandas as pd

from cdmo_pipeline.core.cagr import PERIOD_ASSUMED, CheckResult

IMPLIED_COLUMNS = [
    "claim_id",
    "source_id",
    "market_id",
    "quantity",
    "year",
    "from_year",
    "to_year",
    "central",
    "low",
    "high",
    "unit",
    "method",
    "reading",
    "assumption",
]


def implied_figures(result: CheckResult, claims: pd.DataFrame) -> pd.DataFrame:
    """Every implied figure of every claim, low / central / high."""
    currency = claims["currency"].astype(object).to_numpy()
    parts = [_implied_cagrs(result), _implied_values(result, currency)]
    out = pd.concat([p for p in parts if not p.empty] or [pd.DataFrame(columns=IMPLIED_COLUMNS)], ignore_index=True)
    out = out[IMPLIED_COLUMNS].sort_values(["claim_id", "quantity", "year", "reading"], kind="stable")
    for col in ("year", "from_year", "to_year"):
        out[col] = out[col].astype("int64")
    return out.reset_index(drop=True)


def _implied_cagrs(result: CheckResult) -> pd.DataFrame:
    r = result.readings
    rows = r.loc[r["stated_cagr"].isna() & r["implied_cagr"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=IMPLIED_COLUMNS)
    t0 = rows["start_year"].astype(int).astype(str)
    t1 = rows["end_year"].astype(int).astype(str)
    return pd.DataFrame(
        {
            "claim_id": rows["claim_id"],
            "source_id": rows["source_id"],
            "market_id": rows["market_id"],
            "quantity": "cagr",
            "year": rows["end_year"],
            "from_year": rows["start_year"],
            "to_year": rows["end_year"],
            "central": rows["implied_cagr"],
            "low": rows["implied_low"],
            "high": rows["implied_high"],
            "unit": "%",
            "method": "CAGR implied by the values of " + t0 + " and " + t1 + ": (end / start)^(1/n) - 1",
            "reading": rows["reading"],
            "assumption": None,
        }
    )


def _implied_values(result: CheckResult, currency: np.ndarray) -> pd.DataFrame:
    checks = result.checks
    # The CAGR's own period when stated, else the one the check assumed (a lone value).
    stated_period = checks["period_from"].notna() & checks["period_to"].notna()
    checks = checks.assign(
        start_year=checks["period_from"].where(stated_period, checks["start_year"]),
        end_year=checks["period_to"].where(stated_period, checks["end_year"]),
    )
    rows = checks.loc[checks["stated_cagr"].notna() & checks["start_year"].notna() & checks["end_year"].notna()]
    if rows.empty:
        return pd.DataFrame(columns=IMPLIED_COLUMNS)
    vals = result.values
    at = pd.Index(vals["cno"].to_numpy(np.int64) * _KEY + vals["year"].to_numpy(np.int64))
    only_year = vals.groupby("cno")["year"].min()
    cno = rows["cno"].to_numpy(np.int64)

    def row_at(years: np.ndarray) -> np.ndarray:
        found = at.get_indexer(cno * _KEY + np.nan_to_num(years, nan=-1).astype(np.int64))
        return np.where(np.isnan(years), -1, found)

    out = []
    for side, other in (("start_year", "end_year"), ("end_year", "start_year")):
        have = row_at(rows[side].to_numpy(float)) >= 0
        have_other = row_at(rows[other].to_numpy(float)) >= 0
        single = (rows["n_values"] == 1).to_numpy()
        anchor_year = np.where(
            have_other, rows[other].to_numpy(float), np.where(single, only_year.reindex(cno).to_numpy(float), np.nan)
        )
        need = ~have & ~np.isnan(anchor_year)
        if not need.any():
            continue
        sub = rows.loc[need]
        a_year = anchor_year[need]
        anchor = vals.iloc[at.get_indexer(cno[need] * _KEY + a_year.astype(np.int64))]
        k = sub[side].to_numpy(float) - a_year
        growth = 1.0 + sub["stated_cagr"].to_numpy(float) / 100.0
        g_lo = 1.0 + sub["stated_low"].to_numpy(float) / 100.0
        g_hi = 1.0 + sub["stated_high"].to_numpy(float) / 100.0
        forward = k >= 0
        # Monotone in each input: compounding forward, the low rate gives the low value;
        # discounting backwards, the high rate does.
        low = anchor["low"].to_numpy(float) * np.power(np.where(forward, g_lo, g_hi), k)
        high = anchor["high"].to_numpy(float) * np.power(np.where(forward, g_hi, g_lo), k)
        central = anchor["value"].to_numpy(float) * np.power(growth, k)
        verb = np.where(forward, "compounded", "discounted")
        method = (
            "value "
            + anchor["literal"].astype(str).to_numpy()
            + " ("
            + a_year.astype(int).astype(str)
            + ") "
            + verb
            + " at the stated CAGR of "
            + sub["stated_cagr_literal"].astype(str).str.rstrip("%").to_numpy()
            + "% over "
            + np.abs(k).astype(int).astype(str)
            + np.where(np.abs(k) == 1, " year", " years")
        )
        assumption = np.where(
            (sub["period_basis"] == PERIOD_ASSUMED).to_numpy(), sub["assumption"].astype(object).to_numpy(), None
        )
        out.append(
            pd.DataFrame(
                {
                    "claim_id": sub["claim_id"].to_numpy(),
                    "source_id": sub["source_id"].to_numpy(),
                    "market_id": sub["market_id"].to_numpy(),
                    "quantity": "value",
                    "year": sub[side].to_numpy(),
                    "from_year": sub["start_year"].to_numpy(),
                    "to_year": sub["end_year"].to_numpy(),
                    "central": central,
                    "low": low,
                    "high": high,
                    "unit": pd.Series(currency[cno[need]]).fillna("").astype(str).to_numpy() + " bn",
                    "method": method,
                    "reading": sub["reading"].to_numpy(),
                    "assumption": assumption,
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=IMPLIED_COLUMNS)


_KEY = 10_000
