"""Reconcile sources: compare figures across publishers, and trace where a claim came from.

- ``cross_source``: for each comparable market and year that at least two sources state a
  figure for, every source's figure beside the group's min / median / max, with the spread
  and each source's deviation from the median. The range is that of the sources defining the
  market as the group does (latest editions only); markets a publisher defines differently
  (``comparable_to``) and superseded editions are listed against it but not counted. The
  same comparison on each source's projected path is the view ``cross_source_projected``.
- ``claim_origins``: for each claim of an audited article (:func:`is_subject`), the
  published figures it reproduces within rounding — a value in the
  same year inside the interval the claim's literal stands for, a CAGR inside the stated
  CAGR's interval (over the same period when both state one) — ranked by how much of the
  claim they explain. A claim whose parts are best explained by different sources combines
  them.

All of it is merges and group-bys over whole frames.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cdmo_pipeline.core.frames import (
    STRING,
    arrow,
    decoded,
    joined_runs,
    plain,
    ranges,
    run_starts,
    spread,
    text,
    text_rank,
)
from cdmo_pipeline.core.projections import preferred

PUBLISHER_KINDS = ("report", "press_release")
VALUE_ROLES = ("start", "point", "end")
# Order in which equally good origins are listed: the publisher's report before its press
# release, before a secondary article repeating it.
KIND_PRIORITY = {"report": 0, "press_release": 1, "survey": 2, "article": 3}
MAX_ORIGINS = 10
MAX_ORIGIN_PAIRS = 2_000_000  # value-matched pairs traced at once (memory follows it)
STATED, PROJECTED = "stated", "projected"

CROSS_SOURCE_COLUMNS = [
    "market_id",
    "currency",
    "year",
    "basis",
    "source_id",
    "claim_id",
    "source_market_id",
    "publisher",
    "kind",
    "is_publisher",
    "superseded",
    "same_definition",
    "counted",
    "confidence",
    "value",
    "low",
    "high",
    "n_sources",
    "min",
    "median",
    "max",
    "spread_pct",
    "deviation_pct",
]

ORIGIN_COLUMNS = [
    "claim_id",
    "source_id",
    "market_id",
    "rank",
    "matched_claim_id",
    "matched_source_id",
    "matched_publisher",
    "parts_matched",
    "n_parts_matched",
    "n_parts",
    "score",
    "explanation",
    "combines",
    "summary",
]


# Reference material lives in a folder of this name; what is beside it is being audited.
REFERENCE_FOLDER = "reference"


def is_subject(sources: pd.DataFrame) -> pd.Series:
    """Sources audited in their own right — articles (and surveys), not kept as reference
    material (under a ``reference/`` folder) — as opposed to the publishers' reports and
    press releases they are compared with. Their claims are traced to origins."""
    kind = sources["kind"].astype(str)
    # A folder named so anywhere above the file (not the file's own name).
    in_reference = text(sources["file"]).str.contains(f"(?:^|/){REFERENCE_FOLDER}/", regex=True).fillna(False)
    return (~kind.isin(PUBLISHER_KINDS) & ~in_reference).astype(bool)


def comparison_market(markets: pd.DataFrame) -> pd.Series:
    """market_id -> the market it is compared as (its ``comparable_to``, else itself)."""
    m = markets.set_index("market_id")
    return m["comparable_to"].where(m["comparable_to"].notna(), pd.Series(m.index, index=m.index))


def superseded_sources(sources: pd.DataFrame) -> set[str]:
    """Sources whose report has a later edition (by publication date, then edition)."""
    editions = sources.dropna(subset=["report"]).sort_values(["report", "published", "edition"], kind="stable")
    latest = editions.groupby("report").tail(1)["source_id"]
    return set(editions["source_id"]) - set(latest)


def _source_meta(sources: pd.DataFrame) -> pd.DataFrame:
    meta = sources.set_index("source_id")[["publisher", "kind", "published_year", "confidence"]].copy()
    meta["is_publisher"] = meta["kind"].isin(PUBLISHER_KINDS)
    meta["superseded"] = meta.index.isin(superseded_sources(sources))
    return meta


STATED_COLUMNS = ["source_id", "claim_id", "source_market_id", "currency", "year", "value", "low", "high"]


def stated_values(figures: pd.DataFrame, claims: pd.DataFrame) -> pd.DataFrame:
    """The stated values of some claims with their market and currency: what ``cross_source``
    compares. Compact (categorical ids), so a refresh can keep them chunk after chunk."""
    keep = figures["role"].isin(VALUE_ROLES).to_numpy(bool) & figures["year"].notna().to_numpy(bool)
    values = figures.loc[keep, ["source_id", "claim_id", "year", "value", "low", "high"]]
    # Each value's claim, by Arrow's hash of this chunk's claim ids (null: no such claim).
    at = pc.index_in(arrow(values["claim_id"]), value_set=arrow(claims["claim_id"]))
    market = arrow(claims["market_id"]).take(at)
    keep = pc.is_valid(market).to_numpy(zero_copy_only=False)
    kept = np.flatnonzero(keep)

    def taken(column: pa.Array | pa.ChunkedArray) -> pd.Series:
        return spread(column, kept)  # Arrow strings stay compact when chunks are combined

    return pd.DataFrame(
        {
            "source_id": taken(arrow(values["source_id"])),
            "claim_id": taken(arrow(values["claim_id"])),
            "source_market_id": taken(market),
            "currency": taken(arrow(claims["currency"]).take(at)),
            "year": values["year"].astype("int64").to_numpy()[keep],
            "value": values["value"].to_numpy(float)[keep],
            "low": values["low"].to_numpy(float)[keep],
            "high": values["high"].to_numpy(float)[keep],
        }
    )


def cross_source_batches(
    tables: dict[str, pd.DataFrame], stated: pd.DataFrame, max_rows: int
) -> Iterator[pd.DataFrame]:
    """``cross_source`` a few market groups at a time (groups are independent): memory follows
    the batch, not the corpus."""
    group = comparison_market(tables["markets"])
    meta = _compared_meta(tables["sources"])  # once, not per batch
    markets = _categorical(stated["source_market_id"])
    # Each row's comparison group, as an integer code: batches select by a lookup, not by text.
    groups = pd.Categorical(pd.Series(markets.categories).map(group).to_numpy(dtype=object))
    row_group = groups.codes[markets.codes]
    sizes = np.bincount(row_group[row_group >= 0], minlength=len(groups.categories))
    # Groups in name order, cut into batches of about ``max_rows`` rows.
    batch_of = np.full(len(groups.categories), -1, dtype=np.int64)
    batch, rows = 0, 0
    for code in np.argsort(groups.categories.to_numpy(dtype=object), kind="stable"):
        batch_of[code] = batch
        rows += sizes[code]
        if rows >= max_rows:
            batch, rows = batch + 1, 0
    row_batch = np.where(row_group >= 0, batch_of[row_group], -1)
    # One stable sort, then each batch is a run of it, its rows in their original order.
    order = np.argsort(row_batch, kind="stable")
    # Where each batch starts (rows of no group, batch -1, sort first and are in none).
    bounds = np.searchsorted(row_batch[order], np.arange(batch + 2))
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            yield cross_source(tables, stated.take(order[lo:hi]), meta)


def _compared_meta(sources: pd.DataFrame) -> pd.DataFrame:
    """Per source, what ``cross_source`` lists beside each figure, text in Arrow (spread to
    rows by ``take``)."""
    meta = _source_meta(sources)
    meta.index = pd.Index(text(meta.index.to_series()), name="source_id")
    return meta.astype({c: STRING for c in ("publisher", "kind", "confidence")})


def _categorical(column: pd.Series) -> pd.Categorical:
    """A text column as codes into its distinct values (as kept, if already categorical)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.array
    return pd.Categorical(text(column))


def cross_source(
    tables: dict[str, pd.DataFrame], stated: pd.DataFrame | None = None, meta: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every source's stated figure per comparable market and year, beside the group's range.

    ``stated`` (from :func:`stated_values`) defaults to the stated values of ``tables``'
    figures and claims; ``meta`` (per source) is computed when not given.
    """
    rows = stated if stated is not None else stated_values(tables["figures"], tables["claims"])
    group = comparison_market(tables["markets"])
    meta = meta if meta is not None else _compared_meta(tables["sources"])
    # Text is looked up per distinct value (sources, markets) and spread to rows by integer
    # code: no Python string per row.
    source = _categorical(rows["source_id"])
    at = meta.index.get_indexer(pd.Index(text(source.categories.to_series())))
    source_code = source.codes
    source_market = _categorical(rows["source_market_id"])
    own_market = source_market.categories.astype(str).to_numpy(dtype=object)
    group_of = pd.Series(own_market).map(group).to_numpy(dtype=object)
    groups = pd.Categorical(group_of)
    market_code = groups.codes[source_market.codes]
    currency = pd.Categorical(text(rows["currency"]))
    year = rows["year"].to_numpy()
    value = rows["value"].to_numpy()
    superseded = meta["superseded"].to_numpy(bool)[at][source_code]
    # The range is that of sources defining the market as the group does, latest editions
    # only; comparable definitions and older editions are listed against it, not counted.
    same_definition = (own_market == group_of)[source_market.codes]
    # Rows without a comparable market or a currency are in no group (code -1).
    grouped = (market_code >= 0) & (currency.codes >= 0)
    counted = same_definition & ~superseded & grouped
    keyed = pd.DataFrame(
        {"market_id": market_code, "currency": currency.codes, "year": year, "source": source_code, "value": value}
    )
    stats = (
        keyed.loc[counted]
        .groupby(["market_id", "currency", "year"])
        .agg(n_sources=("source", "nunique"), min=("value", "min"), median=("value", "median"), max=("value", "max"))
    )
    stats = stats.loc[stats["n_sources"] >= 2]
    stat_at = stats.index.get_indexer(pd.MultiIndex.from_arrays([market_code, currency.codes, year]))
    # The published order (market, year, value, source; basis is one value here), sorted by
    # the codes' text ranks: the rows are put in order once, before any column is built.
    inside = np.flatnonzero((stat_at >= 0) & grouped)
    order = inside[
        np.lexsort(
            (
                text_rank(source.categories)[source_code[inside]],
                value[inside],
                year[inside],
                text_rank(groups.categories)[market_code[inside]],
            )
        )
    ]
    s = stats.to_numpy()[stat_at[order]] if len(order) else np.empty((0, 4))
    src = source_code[order]
    meta_at = at[src]

    def per_source(column: str) -> pd.Series:
        """A per-source text column, spread to the rows by code (in Arrow)."""
        return spread(arrow(meta[column]), meta_at)

    claim_ids = rows["claim_id"]
    out = pd.DataFrame(
        {
            "market_id": decoded(market_code[order], groups.categories),
            "currency": decoded(currency.codes[order], currency.categories),
            "year": year[order],
            "basis": pd.Series(pd.array([STATED] * len(order), dtype=STRING)),
            "source_id": decoded(src, source.categories),
            "claim_id": pd.Series(pd.array(arrow(claim_ids).take(pa.array(order)), dtype=STRING)),
            "source_market_id": decoded(source_market.codes[order], source_market.categories),
            "publisher": per_source("publisher"),
            "kind": per_source("kind"),
            "is_publisher": meta["is_publisher"].to_numpy(bool)[meta_at],
            "superseded": superseded[order],
            "same_definition": same_definition[order],
            "counted": counted[order],
            "confidence": per_source("confidence"),
            "value": value[order],
            "low": rows["low"].to_numpy()[order],
            "high": rows["high"].to_numpy()[order],
            "n_sources": s[:, 0].astype("int64"),
            "min": s[:, 1].astype(float),
            "median": s[:, 2].astype(float),
            "max": s[:, 3].astype(float),
        }
    )
    out["spread_pct"] = (out["max"] - out["min"]) / out["median"] * 100.0
    out["deviation_pct"] = (out["value"] - out["median"]) / out["median"] * 100.0
    return out[CROSS_SOURCE_COLUMNS]


def _parts(figures: pd.DataFrame, subject_sources: set[str], meta: pd.DataFrame) -> pd.DataFrame:
    """The figures of subject claims to explain: values (each reading of "current") and CAGRs."""
    f = figures.loc[figures["source_id"].isin(subject_sources)].copy()
    f["part"] = np.where(
        f["role"] == "cagr",
        "CAGR " + f["literal"].astype(str).str.rstrip("%") + "%",
        f["literal"].astype(str) + " (" + f["year_as_written"].fillna("").astype(str) + ")",
    )
    pub = f["source_id"].map(meta["published_year"])
    current = f["year_as_written"].eq("current").to_numpy()
    # A claim's "current" may have been copied from a figure dated either reading.
    alt = f.loc[current].assign(year=pub[current] - 1)
    main = f.assign(year=np.where(current, pub, f["year"]))
    return pd.concat([main, alt], ignore_index=True)


PATH_YEARS = 10_000  # a path's key: claim number * PATH_YEARS + year


def claim_paths(projections: pd.DataFrame, claim_no: np.ndarray | pd.Series | None = None) -> pd.DataFrame:
    """Each claim's preferred projected path as numbers alone: the claim (``claim_no``, its row
    in the claims table; by default the projections' ``cno``), year and central value. This is
    what ``claim_origins`` compares, small enough to keep for every claim of a corpus."""
    keep = preferred(projections)
    numbers = projections["cno"].to_numpy() if claim_no is None else np.asarray(claim_no)
    return pd.DataFrame(
        {
            "claim_no": numbers[keep].astype(np.int64),
            "year": projections["year"].to_numpy(np.int64)[keep],
            "central": projections["central"].to_numpy(float)[keep],
        }
    )


def no_paths() -> pd.DataFrame:
    """The paths of no claim, as :func:`claim_paths` gives them."""
    return pd.DataFrame({"claim_no": np.empty(0, np.int64), "year": np.empty(0, np.int64), "central": np.empty(0)})


def claim_origins(tables: dict[str, pd.DataFrame], projections: pd.DataFrame) -> pd.DataFrame:
    """For each article claim, the published claims that reproduce its figures, ranked.

    ``projections``: the projections table, or the paths of :func:`claim_paths` numbered by
    the rows of ``tables["claims"]``."""
    meta = _source_meta(tables["sources"])
    sources = tables["sources"]
    subject_sources = set(sources.loc[is_subject(sources).to_numpy(bool), "source_id"].astype(str))
    if not subject_sources:
        return _empty_origins()
    group = comparison_market(tables["markets"])
    claims = plain(tables["claims"][["claim_id", "source_id", "market_id", "currency"]]).set_index("claim_id")
    figures = tables["figures"]
    figures = figures.loc[figures["role"].isin([*VALUE_ROLES, "cagr"]).fillna(False).to_numpy(bool)]
    market = figures["claim_id"].astype(object).map(claims["market_id"])
    subject = figures["source_id"].isin(subject_sources).fillna(False).to_numpy(bool)
    # Candidates: figures of the markets (as compared) that the subjects speak of.
    in_play = market.map(group).isin(set(market[subject].map(group).dropna())).to_numpy(bool)
    figures = plain(figures.loc[in_play])
    parts = _parts(figures, subject_sources, meta)
    if parts.empty:
        return _empty_origins()
    parts["group"] = parts["claim_id"].map(claims["market_id"]).map(group)
    parts["currency"] = parts["claim_id"].map(claims["currency"])
    parts["published_year"] = parts["source_id"].map(meta["published_year"])

    cand = figures[["source_id", "claim_id", "literal", "value", "year", "period_from", "period_to", "role"]].copy()
    cand["group"] = cand["claim_id"].map(claims["market_id"]).map(group)
    cand["currency"] = cand["claim_id"].map(claims["currency"])
    cand["cand_published_year"] = cand["source_id"].map(meta["published_year"])
    cand = cand.rename(
        columns={
            c: f"cand_{c}" for c in ("source_id", "claim_id", "literal", "value", "year", "period_from", "period_to")
        }
    )
    cand["is_cagr"] = cand["role"] == "cagr"
    parts["is_cagr"] = parts["role"] == "cagr"
    paths = _path_lookup(projections, claims.index)

    # Candidates by key and value, each subject part's interval found by binary search: only
    # the pairs whose value matches are ever made (every pair of a market would be billions
    # for a corpus of many articles). Subject claims are traced in batches of bounded pairs.
    cand = cand.loc[cand["cand_value"].notna().to_numpy(bool)]
    part_key, cand_key = _match_keys(parts, cand)
    order = np.lexsort((cand["cand_value"].to_numpy(float), cand_key))
    cand = cand.iloc[order].reset_index(drop=True)
    lo, hi = _interval_positions(parts, part_key, cand_key[order], cand["cand_value"].to_numpy(float))
    n_pairs = np.maximum(hi - lo, 0)
    per_claim = pd.Series(n_pairs).groupby(parts["claim_id"].to_numpy(), sort=False).sum()
    batch = (per_claim.cumsum() - per_claim) // MAX_ORIGIN_PAIRS
    claim_batch = parts["claim_id"].map(batch).to_numpy()
    cand_cols = [c for c in cand.columns if c.startswith("cand_")]
    part_cols = ["claim_id", "source_id", "part", "role", "value", "low", "high", "low_open", "high_open"]
    part_cols += ["year", "period_from", "period_to", "published_year", "is_cagr"]
    outs = []
    for b in np.unique(claim_batch):
        rows = np.flatnonzero(claim_batch == b)
        owner, at = ranges(lo[rows], hi[rows])
        pairs = parts[part_cols].iloc[rows[owner]].reset_index(drop=True)
        taken = cand.iloc[at]
        for c in cand_cols:
            pairs[c] = taken[c].to_numpy()
        outs.append(_origins(pairs, parts.iloc[rows], claims, meta, paths))  # rows: the batch's claims
    outs = [o for o in outs if len(o)]
    if len(outs) > 1:  # batches in the order of one: by claim, then rank
        return pd.concat(outs, ignore_index=True).sort_values(["claim_id", "rank"], ignore_index=True)
    return outs[0] if outs else _empty_origins()


@dataclass(frozen=True)
class _Paths:
    """Projected paths sorted by key (claim number * PATH_YEARS + year), for binary search;
    ``claims`` numbers claim ids as the keys do."""

    key: np.ndarray
    central: np.ndarray
    claims: pd.Index

    def central_at(self, claim_ids: pd.Series, years: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Each path value in the year asked for: the rows asked (one per value found, in
        order) and the central values."""
        number = self.claims.get_indexer(claim_ids.astype(object))
        year = pd.to_numeric(years, errors="coerce").to_numpy(float)
        found = (number >= 0) & ~np.isnan(year)
        wanted = np.where(found, number * PATH_YEARS + np.nan_to_num(year).astype(np.int64), -1)
        rows, at = ranges(np.searchsorted(self.key, wanted, "left"), np.searchsorted(self.key, wanted, "right"))
        return rows, self.central[at]


def _path_lookup(projections: pd.DataFrame, claim_ids: pd.Index) -> _Paths:
    claims = pd.Index(claim_ids.astype(object))
    if "claim_no" not in projections:
        projections = claim_paths(projections, claims.get_indexer(projections["claim_id"].astype(object)))
        projections = projections.loc[projections["claim_no"].to_numpy() >= 0]
    key = projections["claim_no"].to_numpy(np.int64) * PATH_YEARS + projections["year"].to_numpy(np.int64)
    order = np.argsort(key, kind="stable")
    return _Paths(key[order], projections["central"].to_numpy(float)[order], claims)


def _match_keys(parts: pd.DataFrame, cand: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One integer per (market group, currency, CAGR or value, and the year for a value): a
    subject part and a candidate can match only with the same key. A value without a year
    matches nothing."""

    def key(frame: pd.DataFrame, year: str) -> pd.Series:
        is_cagr = frame["is_cagr"].to_numpy(bool)
        years = pd.to_numeric(frame[year], errors="coerce").to_numpy(float)
        shown = np.where(
            is_cagr, "cagr", np.where(np.isnan(years), None, np.nan_to_num(years).astype(np.int64).astype(str))
        )
        return (
            frame["group"]
            .astype(str)
            .str.cat([frame["currency"].astype(str), pd.Series(shown, index=frame.index).astype(str)], sep="|")
            .where(pd.notna(shown))
        )

    both = pd.concat([key(parts, "year"), key(cand, "cand_year")], ignore_index=True)
    codes = pd.factorize(both)[0]  # a missing key is -1
    p, c = codes[: len(parts)], codes[len(parts) :]
    return np.where(p < 0, -1, p), np.where(c < 0, -2, c)


def _interval_positions(
    parts: pd.DataFrame, part_key: np.ndarray, cand_key: np.ndarray, cand_value: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each part, the range [lo, hi) of the sorted candidates (by key, then value) whose
    value lies in the part's interval, open ends kept (the rule of ``_within``)."""
    low, high = parts["low"].to_numpy(float), parts["high"].to_numpy(float)
    low_open, high_open = parts["low_open"].to_numpy(bool), parts["high_open"].to_numpy(bool)
    lo = np.zeros(len(parts), np.int64)
    hi = np.zeros(len(parts), np.int64)
    block_start = np.searchsorted(cand_key, part_key, "left")
    block_end = np.searchsorted(cand_key, part_key, "right")
    # One binary search per distinct key (a few thousand), over that key's sorted values.
    for rows in pd.Series(np.arange(len(parts))).groupby(part_key).indices.values():
        start, end = block_start[rows[0]], block_end[rows[0]]
        if end == start:
            continue
        values = cand_value[start:end]
        lo[rows] = start + np.where(
            low_open[rows], np.searchsorted(values, low[rows], "right"), np.searchsorted(values, low[rows], "left")
        )
        hi[rows] = start + np.where(
            high_open[rows], np.searchsorted(values, high[rows], "left"), np.searchsorted(values, high[rows], "right")
        )
    bad = np.isnan(low) | np.isnan(high)  # no interval: no match (as ``_within``)
    hi[bad] = lo[bad]
    return lo, hi


def _origins(
    pairs: pd.DataFrame, parts: pd.DataFrame, claims: pd.DataFrame, meta: pd.DataFrame, paths: _Paths
) -> pd.DataFrame:
    """Origins of a batch of subject claims, from their pairs whose values match.

    Candidates are scored and ranked on numbers alone; text (parts matched, explanations,
    summaries) is written only for the few kept per claim, each run of sorted rows joined at
    once in Arrow: no Python per candidate."""
    pairs = pairs.loc[
        (pairs["cand_source_id"] != pairs["source_id"]) & (pairs["cand_published_year"] <= pairs["published_year"])
    ]
    inside = _within(pairs["cand_value"], pairs)
    same_year = pairs["is_cagr"] | (pairs["cand_year"].astype("Float64") == pairs["year"].astype("Float64")).fillna(
        False
    )
    both_periods = pairs["period_from"].notna() & pairs["cand_period_from"].notna()
    same_period = ~both_periods | (
        (pairs["period_from"].astype("Float64") == pairs["cand_period_from"].astype("Float64"))
        & (pairs["period_to"].astype("Float64") == pairs["cand_period_to"].astype("Float64"))
    ).fillna(False)
    matched = pairs.loc[inside & same_year.to_numpy(bool) & (~pairs["is_cagr"] | same_period).to_numpy(bool)].copy()
    if matched.empty:
        return _empty_origins()
    matched["closeness"] = (matched["cand_value"] - matched["value"]).abs() / matched["value"].abs().clip(lower=1e-9)
    # One explanation per (subject part, candidate claim): the closest figure.
    matched = matched.sort_values("closeness").drop_duplicates(["claim_id", "part", "cand_claim_id"])

    keys = ["claim_id", "cand_claim_id"]
    n_parts = parts.groupby("claim_id")["part"].nunique()
    per = (
        matched.groupby(keys)
        .agg(
            n_parts_matched=("part", "size"),  # parts are distinct per candidate (deduplicated above)
            closeness=("closeness", "mean"),
            matched_source_id=("cand_source_id", "first"),
        )
        .reset_index()
    )
    per["n_parts"] = per["claim_id"].map(n_parts).astype("int64")
    per["score"] = per["n_parts_matched"] / per["n_parts"]
    per["_kind"] = per["matched_source_id"].map(meta["kind"]).map(KIND_PRIORITY).fillna(9)
    per = per.sort_values(
        ["claim_id", "score", "_kind", "closeness", "matched_source_id"], ascending=[True, False, True, True, True]
    )
    per["rank"] = per.groupby("claim_id").cumcount() + 1
    per = per.loc[per["rank"] <= MAX_ORIGINS].reset_index(drop=True)

    # The kept candidates' matched parts, sorted: a run of rows per candidate, as ``per``.
    top = matched.merge(per[[*keys, "rank"]], on=keys).sort_values(["claim_id", "rank", "part"], ignore_index=True)
    runs = run_starts(top["claim_id"].to_numpy(object), top["rank"].to_numpy())
    as_written = top["cand_literal"].astype(str).str.rstrip("%")
    match_text = top["part"] + " as " + as_written + np.where(top["is_cagr"], "%", "")
    per["parts_matched"] = joined_runs(top["part"], runs, ", ")
    per["explanation"] = "reproduces " + joined_runs(match_text, runs, "; ") + _missing_notes(per, parts, top, paths)

    summary, combines = _summaries(top, meta)
    per["summary"] = per["claim_id"].map(summary)
    per["combines"] = per["claim_id"].map(combines).astype(bool)
    per["source_id"] = per["claim_id"].map(claims["source_id"])
    per["market_id"] = per["claim_id"].map(claims["market_id"])
    per["matched_publisher"] = per["matched_source_id"].map(meta["publisher"])
    per = per.rename(columns={"cand_claim_id": "matched_claim_id"})
    per["n_parts_matched"] = per["n_parts_matched"].astype("int64")
    per["rank"] = per["rank"].astype("int64")
    out = per[ORIGIN_COLUMNS].reset_index(drop=True)
    for col in (
        "claim_id",
        "source_id",
        "market_id",
        "matched_claim_id",
        "matched_source_id",
        "matched_publisher",
        "parts_matched",
        "explanation",
        "summary",
    ):
        out[col] = text(out[col])
    return out


def _within(values: pd.Series, p: pd.DataFrame) -> np.ndarray:
    """Whether each candidate value lies in the subject literal's interval (open ends kept)."""
    v = values.to_numpy(float)
    lo, hi = p["low"].to_numpy(float), p["high"].to_numpy(float)
    above = np.where(p["low_open"].to_numpy(bool), v > lo, v >= lo)
    below = np.where(p["high_open"].to_numpy(bool), v < hi, v <= hi)
    return above & below


def _missing_notes(per: pd.DataFrame, parts: pd.DataFrame, top: pd.DataFrame, paths: _Paths) -> pd.Series:
    """For a subject value a kept candidate does not reproduce: where the candidate's own path
    is that year ("" when nowhere), one text per row of ``per``."""
    values = parts.loc[parts["role"].isin(VALUE_ROLES) & ~parts["year_as_written"].eq("current")]
    values = values[["claim_id", "part", "year", "literal"]].drop_duplicates(["claim_id", "part"])
    pairs = (
        per[["claim_id", "cand_claim_id"]]
        .assign(at=np.arange(len(per)))
        .merge(values.assign(value_at=np.arange(len(values))), on="claim_id")
    )
    got = top[["claim_id", "cand_claim_id", "part"]].assign(hit=True)
    pairs = pairs.merge(got, on=["claim_id", "cand_claim_id", "part"], how="left")
    pairs = pairs.loc[pairs["hit"].isna().to_numpy(bool)]
    rows, central = paths.central_at(pairs["cand_claim_id"], pairs["year"])
    out = np.full(len(per), "", dtype=object)
    if not len(rows):
        return pd.Series(out, index=per.index, dtype=STRING)
    notes = pairs.iloc[rows].assign(central=central).sort_values(["at", "value_at"], kind="stable")
    # Each distinct value written once ("12.3", "1.23457e+06" as ``:g`` writes it).
    shown, inverse = np.unique(notes["central"].round(1).to_numpy(), return_inverse=True)
    reaches = np.array([f"{x:g}" for x in shown], dtype=object)[inverse.ravel()]
    note = (
        "its own path reaches "
        + pd.Series(reaches, index=notes.index)
        + " in "
        + pd.to_numeric(notes["year"]).astype(int).astype(str)
        + ", not "
        + notes["literal"].astype(str)
    )
    at = notes["at"].to_numpy()
    runs = run_starts(at)
    out[at[runs]] = ("; " + joined_runs(note, runs, "; ")).to_numpy(dtype=object)
    return pd.Series(out, index=per.index, dtype=STRING)


def _summaries(top: pd.DataFrame, meta: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per subject claim: traced to one source, or a combination of several.

    A greedy cover of the claim's parts by its candidates in rank order, each taking the parts
    no better-ranked one reproduced: so a part goes to the best-ranked candidate reproducing
    it, and the candidates given any part are the ones combined."""
    best = top.sort_values(["claim_id", "part", "rank"]).drop_duplicates(["claim_id", "part"])
    best = best.sort_values(["claim_id", "rank", "part"], ignore_index=True)
    claim_ids = best["claim_id"].to_numpy(object)
    runs = run_starts(claim_ids, best["rank"].to_numpy())
    chosen = best.iloc[runs].reset_index(drop=True)
    source = chosen["cand_source_id"].astype(str)
    publisher = chosen["cand_source_id"].map(meta["publisher"]).astype(object).astype(str)
    given = joined_runs(best["part"], runs, ", ")
    per_claim = run_starts(claim_ids[runs])
    combines = np.diff(np.append(per_claim, len(chosen))) > 1
    several = np.repeat(combines, np.diff(np.append(per_claim, len(chosen))))
    piece = (publisher + " (" + source + ")" + np.where(several, " for ", ": ")).astype(STRING) + given
    summary = np.where(combines, "combines ", "traced to ") + joined_runs(piece, per_claim, " and ")
    index = pd.Index(chosen["claim_id"].to_numpy(object)[per_claim])
    return pd.Series(summary.to_numpy(dtype=object), index=index), pd.Series(combines, index=index)


def _empty_origins() -> pd.DataFrame:
    types = {"rank": "int64", "n_parts_matched": "int64", "n_parts": "int64", "score": float, "combines": bool}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, pd.StringDtype("pyarrow"))) for c in ORIGIN_COLUMNS})
