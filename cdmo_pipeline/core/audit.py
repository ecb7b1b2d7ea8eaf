"""Audit: every table and the invariants between them, checked before anything is published.

Per table, the pandera models (schemas, keys, low <= central <= high, implied CAGR inside its
interval, shares within 0-100 % unless flagged). Across tables, what no single schema can
see: every id resolves, parents exist and form no cycle, and projections cover each claim's
years exactly once per basis. A refresh audits each chunk as it is built and the tables
across sources at the end; the reports merge.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from cdmo_pipeline.core.errors import AuditError
from cdmo_pipeline.core.frames import isin, text
from cdmo_pipeline.core.schemas import schema_failures
from cdmo_pipeline.core.validate import find_cycles

MAX_EXAMPLES = 5
WITH_CLAIM = ("figures", "cagr_checks", "implied_figures", "projections", "cross_source", "claim_origins")
WITH_SOURCE = ("claims", "figures", "cagr_checks", "implied_figures", "projections", "segment_shares", "cross_source")
WITH_MARKET = ("claims", "cagr_checks", "projections", "segment_shares")


@dataclass
class AuditReport:
    """Schema failures per table (None when valid) and broken cross-table invariants."""

    schema_failures: dict[str, pd.DataFrame | None]
    invariants: dict[str, pd.DataFrame]

    @property
    def ok(self) -> bool:
        return not self.invariants and all(f is None for f in self.schema_failures.values())

    def merge(self, other: "AuditReport") -> None:
        """Add another part's findings (a chunk, the tables across sources)."""
        for name, cases in other.schema_failures.items():
            mine = self.schema_failures.get(name)
            parts = [c for c in (mine, cases) if c is not None]
            self.schema_failures[name] = pd.concat(parts, ignore_index=True) if parts else None
        for name, rows in other.invariants.items():
            mine = self.invariants.get(name)
            self.invariants[name] = rows if mine is None else pd.concat([mine, rows], ignore_index=True)

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


def audit(tables: Mapping[str, pd.DataFrame], complete: bool = True) -> AuditReport:
    """Validate every table given (pandera, lazily) and the invariants among them.

    ``complete`` adds the invariants that need every table (ids resolving to sources and
    markets); a chunk of per-source tables is audited without them.
    """
    invariants = invariant_failures(tables)
    if complete:
        invariants |= global_invariants(tables["sources"], tables["markets"], tables["claims"], tables)
    return AuditReport(
        schema_failures={name: schema_failures(name, df) for name, df in tables.items()},
        invariants=invariants,
    )


def invariant_failures(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Invariants among the per-source tables given (those of a chunk, or all of them)."""
    out: dict[str, pd.DataFrame] = {}

    def need(name: str, frame: pd.DataFrame) -> None:
        if not frame.empty:
            out[name] = frame

    if "claims" in tables:
        claim_ids = tables["claims"]["claim_id"]
        for table in WITH_CLAIM:
            if table in tables and table not in ("cross_source", "claim_origins"):
                df = tables[table]
                need(f"{table}.claim_id resolves to claims", df.loc[~isin(df["claim_id"], claim_ids)])
    p = tables.get("projections")
    if p is not None and not p.empty:
        # Each claim's years, exactly once per basis, with no gap.
        g = p.groupby(["claim_id", "basis"], observed=True)["year"].agg(["min", "max", "size", "nunique"])
        gaps = g.loc[(g["size"] != g["nunique"]) | (g["size"] != g["max"] - g["min"] + 1)]
        need("projections cover each claim's years exactly once per basis", gaps.reset_index())
        if "claims" in tables and "cagr_checks" in tables:
            checks = tables["cagr_checks"].set_index("claim_id")
            span = tables["claims"].set_index("claim_id")[["start_year", "end_year"]]
            cover = g.reset_index()
            cover["claim_id"] = cover["claim_id"].astype(str)
            cover = cover.join(span, on="claim_id").join(
                checks[["start_year", "end_year"]], on="claim_id", rsuffix="_check"
            )
            first = cover[["start_year", "start_year_check"]].min(axis=1)
            last = cover[["end_year", "end_year_check"]].max(axis=1)
            need(
                "projections reach each claim's first and last year",
                cover.loc[(cover["min"] > first) | (cover["max"] < last)],
            )
    return out


@dataclass(frozen=True)
class Keys:
    """The ids other tables must resolve to, hashed once: a refresh checks every chunk and
    batch against them. ``claims`` is empty until every chunk is built."""

    sources: pd.Index
    markets: pd.Index
    # Claim ids by their 64-bit hashes: a million ids as text would be a million Python
    # strings in the index's hash table (~160 MB for the rest of the refresh), as hashes
    # 8 bytes each. An id of no claim passes only if its hash is a claim's: about one
    # chance in 10^13 per id at a million claims.
    claims: pd.Index = field(default_factory=lambda: pd.Index([], dtype=np.uint64))

    @classmethod
    def of(cls, sources: pd.DataFrame, markets: pd.DataFrame, claims: pd.DataFrame | None = None) -> "Keys":
        keys = cls(_key(sources["source_id"]), _key(markets["market_id"]))
        return keys if claims is None else keys.with_claims(claims)

    def with_claims(self, claims: pd.DataFrame) -> "Keys":
        """The same keys, with every claim's id (once all chunks are built)."""
        return replace(self, claims=pd.Index(_hashes(claims["claim_id"].dropna())).unique())

    def has_claim(self, ids: pd.Series) -> np.ndarray:
        """Whether each id is a claim's (missing: no)."""
        return (self.claims.get_indexer(_hashes(ids)) >= 0) & ids.notna().to_numpy(bool)


def _key(column: pd.Series) -> pd.Index:
    return pd.Index(text(column.dropna()).unique())


HASH_ROWS = 100_000  # ids hashed at a time: their Python strings live for one slice only


def _hashes(ids: pd.Series) -> np.ndarray:
    """Each id's 64-bit hash (of its text)."""
    values = text(ids)
    parts = [
        pd.util.hash_array(values.iloc[lo : lo + HASH_ROWS].to_numpy(dtype=object, na_value=""), categorize=False)
        for lo in range(0, len(values), HASH_ROWS)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


def global_invariants(
    sources: pd.DataFrame, markets: pd.DataFrame, claims: pd.DataFrame, tables: Mapping[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """Invariants needing every source: ids resolve to sources, markets and claims; markets
    form a tree; each source counts its claims."""
    keys = Keys.of(sources, markets, claims)
    return corpus_invariants(sources, markets, claims, keys) | resolution_invariants(keys, tables)


def corpus_invariants(
    sources: pd.DataFrame, markets: pd.DataFrame, claims: pd.DataFrame, keys: Keys
) -> dict[str, pd.DataFrame]:
    """Invariants of the corpus as a whole, checked once: claims resolve to sources and
    markets, markets form a tree, each source counts its claims."""
    out = resolution_invariants(keys, {"claims": claims})

    def need(name: str, frame: pd.DataFrame) -> None:
        if not frame.empty:
            out[name] = frame

    dangling = markets["parent_market_id"].notna().to_numpy(bool) & ~isin(markets["parent_market_id"], keys.markets)
    need("markets.parent_market_id exists", markets.loc[dangling])
    parent_of = dict(zip(markets["market_id"], markets["parent_market_id"].astype(object), strict=True))
    need("markets.parents form no cycle", markets.loc[isin(markets["market_id"], find_cycles(parent_of))])
    counts = sources.set_index("source_id")["n_claims"]
    actual = claims.groupby("source_id", observed=True).size().reindex(counts.index, fill_value=0)
    need("sources.n_claims counts the claims", sources.loc[(counts != actual).to_numpy()])
    return out


def resolution_invariants(keys: Keys, tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every id in the tables given resolves: to a source, a market and (for the tables built
    across sources) a claim. Cheap per chunk or batch: the keys are hashed once."""
    out: dict[str, pd.DataFrame] = {}

    def need(name: str, frame: pd.DataFrame) -> None:
        if not frame.empty:
            out[name] = frame

    for table in ("cross_source", "claim_origins"):
        if table in tables:
            df = tables[table]
            need(f"{table}.claim_id resolves to claims", df.loc[~keys.has_claim(df["claim_id"])])
    if "claim_origins" in tables:
        origins = tables["claim_origins"]
        need(
            "claim_origins.matched_claim_id resolves to claims",
            origins.loc[~keys.has_claim(origins["matched_claim_id"])],
        )
    for table in WITH_SOURCE:
        if table in tables:
            df = tables[table]
            need(f"{table}.source_id resolves to sources", df.loc[~isin(df["source_id"], keys.sources)])
    for table in WITH_MARKET:
        if table in tables:
            df = tables[table]
            unresolved = df["market_id"].notna().to_numpy(bool) & ~isin(df["market_id"], keys.markets)
            need(f"{table}.market_id resolves to markets", df.loc[unresolved])
    return out
