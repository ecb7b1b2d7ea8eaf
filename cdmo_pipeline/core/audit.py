"""Audit: every table and the invariants between them, checked before anything is published.

Per table, the pandera models (schemas, keys, low <= central <= high, implied CAGR inside its
interval, shares within 0-100 % unless flagged). Across tables, what no single schema can
see: every id resolves, parents exist and form no cycle, and projections cover each claim's
years exactly once per basis.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from cdmo_pipeline.core.errors import AuditError
from cdmo_pipeline.core.frames import isin
from cdmo_pipeline.core.schemas import schema_failures
from cdmo_pipeline.core.validate import find_cycles

MAX_EXAMPLES = 5


def invariant_failures(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``{invariant: offending rows}`` for the cross-table invariants (empty when all hold)."""
    out: dict[str, pd.DataFrame] = {}

    def need(name: str, frame: pd.DataFrame) -> None:
        if not frame.empty:
            out[name] = frame

    claims = tables["claims"]
    markets = tables["markets"]
    for table in ("figures", "cagr_checks", "implied_figures", "projections", "cross_source", "claim_origins"):
        df = tables[table]
        need(f"{table}.claim_id resolves to claims", df.loc[~isin(df["claim_id"], claims["claim_id"])])
    origins = tables["claim_origins"]
    need(
        "claim_origins.matched_claim_id resolves to claims",
        origins.loc[~isin(origins["matched_claim_id"], claims["claim_id"])],
    )
    with_source = (
        "claims",
        "figures",
        "cagr_checks",
        "implied_figures",
        "projections",
        "segment_shares",
        "cross_source",
    )
    for table in with_source:
        df = tables[table]
        need(f"{table}.source_id resolves to sources", df.loc[~isin(df["source_id"], tables["sources"]["source_id"])])
    for table in ("claims", "cagr_checks", "projections", "segment_shares"):
        df = tables[table]
        unresolved = df["market_id"].notna().to_numpy(bool) & ~isin(df["market_id"], markets["market_id"])
        need(f"{table}.market_id resolves to markets", df.loc[unresolved])
    dangling = markets["parent_market_id"].notna().to_numpy(bool) & ~isin(
        markets["parent_market_id"], markets["market_id"]
    )
    need("markets.parent_market_id exists", markets.loc[dangling])
    parent_of = dict(zip(markets["market_id"], markets["parent_market_id"].astype(object), strict=True))
    need("markets.parents form no cycle", markets.loc[isin(markets["market_id"], find_cycles(parent_of))])
    counts = tables["sources"].set_index("source_id")["n_claims"]
    actual = claims.groupby("source_id").size().reindex(counts.index, fill_value=0)
    need("sources.n_claims counts the claims", tables["sources"].loc[(counts != actual).to_numpy()])

    # Projections: each claim's years, exactly once per basis, with no gap.
    p = tables["projections"]
    if not p.empty:
        g = p.groupby(["claim_id", "basis"], observed=True)["year"].agg(["min", "max", "size", "nunique"])
        gaps = g.loc[(g["size"] != g["nunique"]) | (g["size"] != g["max"] - g["min"] + 1)]
        need("projections cover each claim's years exactly once per basis", gaps.reset_index())
        checks = tables["cagr_checks"].set_index("claim_id")
        span = claims.set_index("claim_id")[["start_year", "end_year"]]
        cover = (
            g.reset_index()
            .join(span, on="claim_id")
            .join(checks[["start_year", "end_year"]], on="claim_id", rsuffix="_check")
        )
        first = cover[["start_year", "start_year_check"]].min(axis=1)
        last = cover[["end_year", "end_year_check"]].max(axis=1)
        short = cover.loc[(cover["min"] > first) | (cover["max"] < last)]
        need("projections reach each claim's first and last year", short)
    return out


@dataclass
class AuditReport:
    """Schema failures per table (None when valid) and broken cross-table invariants."""

    schema_failures: dict[str, pd.DataFrame | None]
    invariants: dict[str, pd.DataFrame]

    @property
    def ok(self) -> bool:
        return not self.invariants and all(f is None for f in self.schema_failures.values())

    def problems(self) -> list[str]:
        out = []
        for name, cases in self.schema_failures.items():
            if cases is not None:
                summary = cases.groupby("check", dropna=False).size().sort_values(ascending=False)
                out += [f"{name}: {check} fails on {n} case(s)" for check, n in summary.head(MAX_EXAMPLES).items()]
        for invariant, rows in self.invariants.items():
            examples = rows.head(MAX_EXAMPLES).to_dict(orient="records")
            out.append(f"{invariant}: {len(rows)} row(s) break it, e.g. {examples}")
        return out

    def raise_if_failed(self) -> None:
        if not self.ok:
            raise AuditError("the audit before publishing failed:\n" + "\n".join(f"  - {p}" for p in self.problems()))


def audit(tables: Mapping[str, pd.DataFrame]) -> AuditReport:
    """Validate every table (pandera, lazily) and every cross-table invariant."""
    return AuditReport(
        schema_failures={name: schema_failures(name, df) for name, df in tables.items()},
        invariants=invariant_failures(tables),
    )
