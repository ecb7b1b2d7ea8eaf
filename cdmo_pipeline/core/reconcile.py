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

All of it is vectorised over whole frames. ``claim_origins`` numbers the corpus once (claims,
sources and parts as integers, by Arrow's hashes), pairs only the figures whose values match
(binary search), ranks candidates on numbers, and writes text only for the ten kept per
claim; it runs in batches of subject claims, so a corpus of many articles is traced in
bounded memory.
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
    isin,
    joined_runs,
    ranges,
    run_lengths,
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
MAX_ORIGIN_PAIRS = 500_000  # value-matched pairs traced at once (memory follows it: about 200 bytes a pair)
STATED, PROJECTED = "stated", "projected"
TRACED_ROLES = pd.CategoricalDtype([*VALUE_ROLES, "cagr"])  # the figures claim_origins reads

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


def stated_values(figures: pd.DataFrame, claims: pd.DataFrame, offset: int = 0) -> pd.DataFrame:
    """The stated values of some claims with their market and currency: what ``cross_source``
    compares. Compact, so a refresh can keep them chunk after chunk: each value's claim is its
    row in the claims table (``claims`` in their order, the first numbered ``offset``), and
    ``cross_source`` reads its id there."""
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
            "claim_no": (at.to_numpy(zero_copy_only=False)[keep] + offset).astype(np.int32),
            "source_market_id": taken(market),
            "currency": taken(arrow(claims["currency"]).take(at)),
            "year": values["year"].astype("int64").to_numpy()[keep].astype(np.int16),
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
    year = rows["year"].to_numpy(np.int64)
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

    claim_ids = arrow(text(tables["claims"]["claim_id"]))
    out = pd.DataFrame(
        {
            "market_id": decoded(market_code[order], groups.categories),
            "currency": decoded(currency.codes[order], currency.categories),
            "year": year[order],
            "basis": pd.Series(pd.array([STATED] * len(order), dtype=STRING)),
            "source_id": decoded(src, source.categories),
            "claim_id": spread(claim_ids, rows["claim_no"].to_numpy()[order]),
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


PATH_YEARS = 10_000  # a path's key: claim number * PATH_YEARS + year


def claim_paths(projections: pd.DataFrame, claim_ids: pd.Series, offset: int = 0) -> pd.DataFrame:
    """Each claim's preferred projected path as numbers alone: its claim's row in the claims
    table (``claim_ids`` in their order, the first numbered ``offset``), year and central
    value. This is what ``claim_origins`` compares, small enough to keep for a whole corpus."""
    number = _numbered(projections["claim_id"], arrow(text(claim_ids)))
    year = projections["year"].to_numpy(np.int64)
    rows = np.flatnonzero(preferred(projections) & (number >= 0))
    rows = rows[np.lexsort((year[rows], number[rows]))]  # by claim and year, stably
    return pd.DataFrame(
        {
            "claim_no": (number[rows] + offset).astype(np.int32),
            "year": year[rows].astype(np.int16),
            "central": projections["central"].to_numpy(float)[rows],
        }
    )


def trace_figures(figures: pd.DataFrame, claim_ids: pd.Series, offset: int = 0) -> pd.DataFrame:
    """The figures ``claim_origins`` reads (values and CAGRs), compactly enough to keep for a
    whole corpus: each by its claim's row in the claims table (``claim_ids`` in their order,
    the first numbered ``offset``), years as numbers, text only where it is read."""
    f = figures.loc[isin(figures["role"], TRACED_ROLES.categories)]
    number = _numbered(f["claim_id"], arrow(text(claim_ids)))
    return pd.DataFrame(
        {
            "claim_no": np.where(number >= 0, number + offset, -1).astype(np.int32),
            "role": text(f["role"]).astype(TRACED_ROLES),
            "literal": text(f["literal"]),
            "year_as_written": text(f["year_as_written"]),
            "year": _floats(f["year"]).astype(np.float32),  # years are exact in float32
            "value": f["value"].to_numpy(float),
            "low": f["low"].to_numpy(float),
            "high": f["high"].to_numpy(float),
            "low_open": f["low_open"].to_numpy(bool),
            "high_open": f["high_open"].to_numpy(bool),
            "period_from": _floats(f["period_from"]).astype(np.float32),
            "period_to": _floats(f["period_to"]).astype(np.float32),
        }
    )


def no_paths() -> pd.DataFrame:
    """The paths of no claim, as :func:`claim_paths` gives them."""
    return pd.DataFrame({"claim_no": np.empty(0, np.int32), "year": np.empty(0, np.int16), "central": np.empty(0)})


def claim_origins(tables: dict[str, pd.DataFrame], projections: pd.DataFrame) -> pd.DataFrame:
    """For each article claim, the published claims that reproduce its figures, ranked.

    ``projections``: the projections table, or the paths of :func:`claim_paths` numbered by
    the rows of ``tables["claims"]``."""
    outs = [o for o in claim_origins_batches(tables, projections) if len(o)]
    return pd.concat(outs, ignore_index=True) if outs else _empty_origins()


def claim_origins_batches(tables: dict[str, pd.DataFrame], projections: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """``claim_origins`` a batch of subject claims at a time, in claim id order (so the
    batches, one after the other, are the whole table): memory follows the batch. At least
    one batch, empty when there is nothing to trace."""
    trace = _Trace.of(tables, projections)
    del tables, projections  # numbered: the caller's figures and paths may go
    yield from trace.batches() if trace is not None else [_empty_origins()]


def _numbered(values: pd.Series, known: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each value's position among ``known`` (-1: not there), by Arrow's hash: no Python
    string per row."""
    at = pc.index_in(arrow(text(values)), value_set=known)
    return pc.fill_null(at, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _codes(values: pd.Series) -> np.ndarray:
    """A text column as integer codes, a missing value its own code (0)."""
    return _categorical(values).codes.astype(np.int64) + 1


def _floats(values: pd.Series) -> np.ndarray:
    """Numbers (years, values) as floats, anything missing as NaN."""
    return pd.to_numeric(values, errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)


@dataclass(frozen=True)
class _Figures:
    """One side of the match (subject parts, or candidate figures) as arrays of numbers:
    claims and sources by their row, market groups and currencies by code."""

    claim: np.ndarray
    source: np.ndarray
    group: np.ndarray
    currency: np.ndarray
    value: np.ndarray
    year: np.ndarray
    period_from: np.ndarray
    period_to: np.ndarray
    published_year: np.ndarray
    is_cagr: np.ndarray

    def take(self, rows: np.ndarray) -> "_Figures":
        return _Figures(**{f: getattr(self, f)[rows] for f in self.__dataclass_fields__})

    def key(self, n_currencies: int, missing: int) -> np.ndarray:
        """One integer per (market group, currency, CAGR or value, and the year for a value):
        a subject part and a candidate can match only with the same key. A value without a
        year has the key ``missing`` and matches nothing."""
        year = np.where(self.is_cagr, 0, np.nan_to_num(self.year)).astype(np.int64)
        kind = (self.group.astype(np.int64) * n_currencies + self.currency) * 2 + self.is_cagr
        key = kind * PATH_YEARS + year
        return np.where(self.is_cagr | ~np.isnan(self.year), key, missing)


@dataclass(frozen=True)
class _Trace:
    """Everything a batch of subject claims is traced with, numbered once: claims, sources and
    parts are integers (their text ranks give the published order); text is looked up only
    for the origins kept."""

    part: _Figures
    cand: _Figures
    lo: np.ndarray  # each part's matching candidates: the range [lo, hi) of ``cand``
    hi: np.ndarray
    part_code: np.ndarray  # each subject part's text, as a code into ``part_text``
    part_text: np.ndarray
    part_rank: np.ndarray  # per code, its text's place in sorted order
    low: np.ndarray
    high: np.ndarray
    low_open: np.ndarray
    high_open: np.ndarray
    cand_literal: pa.Array
    n_parts: np.ndarray  # per claim, its distinct parts
    claim_ids: pa.Array
    claim_rank: np.ndarray
    claim_source: pa.Array
    claim_market: pa.Array
    source_ids: np.ndarray
    source_rank: np.ndarray
    publisher: np.ndarray
    publisher_shown: np.ndarray  # as a summary writes it (a missing one as "<NA>")
    kind_priority: np.ndarray
    values: pd.DataFrame  # the subject values a candidate's path can be read against
    paths: "_Paths"

    @classmethod
    def of(cls, tables: dict[str, pd.DataFrame], projections: pd.DataFrame) -> "_Trace | None":
        """Number the corpus once; ``None`` when there is no subject claim to trace."""
        sources = tables["sources"]
        subject_source = is_subject(sources).to_numpy(bool)
        if not subject_source.any():
            return None
        meta = _source_meta(sources)
        source_ids = arrow(text(sources["source_id"]))
        claims = tables["claims"]
        claim_ids = arrow(text(claims["claim_id"]))
        # Per claim: its market's comparison group and its currency, as codes.
        market = _categorical(claims["market_id"])
        groups = pd.Series(market.categories.astype(str)).map(comparison_market(tables["markets"]))
        group_of_market = np.append(pd.factorize(groups, use_na_sentinel=False)[0], -1) + 1
        claim_group = group_of_market[market.codes]
        claim_currency = _codes(claims["currency"])

        # Figures by their claim's row (as :func:`trace_figures` keeps them, or by claim id),
        # and their source's row.
        figures = tables["figures"]
        if "claim_no" in figures:
            f_claim = figures["claim_no"].to_numpy(np.int64)
        else:
            f_claim = _numbered(figures["claim_id"], claim_ids)
        f_source = np.where(f_claim >= 0, _numbered(claims["source_id"], source_ids)[f_claim], -1)
        is_cagr = isin(figures["role"], ["cagr"])
        keep = (isin(figures["role"], VALUE_ROLES) | is_cagr) & (f_claim >= 0) & (f_source >= 0)
        f_group = claim_group[f_claim]
        subject = keep & subject_source[f_source]
        # Candidates: figures of the markets (as compared) that the subjects speak of.
        in_play = keep & np.isin(f_group, np.unique(f_group[subject]))
        published = meta["published_year"].to_numpy(float)

        # Narrow types: a million claims' figures are a few million rows on each side.
        period_from = _floats(figures["period_from"]).astype(np.float32)  # years are exact in float32
        period_to = _floats(figures["period_to"]).astype(np.float32)

        def side(rows: np.ndarray, year: np.ndarray) -> _Figures:
            return _Figures(
                claim=f_claim[rows].astype(np.int32),
                source=f_source[rows].astype(np.int32),
                group=f_group[rows].astype(np.int32),
                currency=claim_currency[f_claim[rows]].astype(np.int32),
                value=figures["value"].to_numpy(float)[rows],
                year=year.astype(np.float32),
                period_from=period_from[rows],
                period_to=period_to[rows],
                published_year=published[f_source[rows]].astype(np.float32),
                is_cagr=is_cagr[rows],
            )

        # The subject's parts: values (each reading of "current") and CAGRs.
        sub = np.flatnonzero(in_play & subject)
        if not len(sub):
            return None
        f = figures.iloc[sub]
        literal = text(f["literal"]).reset_index(drop=True)
        written = text(f["year_as_written"]).reset_index(drop=True)
        part = (literal + " (" + written.fillna("") + ")").where(~is_cagr[sub], "CAGR " + literal.str.rstrip("%") + "%")
        current = written.eq("current").fillna(False).to_numpy(bool)
        pub = published[f_source[sub]]
        # A claim's "current" may have been copied from a figure dated either reading.
        rows = np.concatenate([sub, sub[current]])
        year = np.concatenate([np.where(current, pub, _floats(f["year"])), pub[current] - 1])
        part = pd.concat([part, part[current]], ignore_index=True)
        parts = side(rows, year)
        code, text_of = pd.factorize(part)
        distinct = np.unique(parts.claim.astype(np.int64) * len(text_of) + code)
        n_parts = np.bincount(distinct // len(text_of), minlength=len(claims))
        shown = np.append(isin(f["role"], VALUE_ROLES) & ~current, np.zeros(current.sum(), bool))
        literals = pd.concat([literal, literal[current]], ignore_index=True)
        values = pd.DataFrame(
            {
                "claim": parts.claim[shown],
                "part": code[shown],
                "year": year[shown],
                "literal": literals[shown].reset_index(drop=True),
            }
        ).drop_duplicates(["claim", "part"])

        # Candidates sorted by key and value: each part's matches are a range, found by search.
        cand_rows = np.flatnonzero(in_play & figures["value"].notna().to_numpy(bool))
        cand = side(cand_rows, _floats(figures["year"])[cand_rows])
        n_currencies = int(claim_currency.max(initial=0)) + 1
        part_key, cand_key = parts.key(n_currencies, -1), cand.key(n_currencies, -2)
        order = np.lexsort((cand.value, cand_key))
        cand, cand_rows, cand_key = cand.take(order), cand_rows[order], cand_key[order]
        low = figures["low"].to_numpy(float)[rows]
        high = figures["high"].to_numpy(float)[rows]
        low_open = figures["low_open"].to_numpy(bool)[rows]
        high_open = figures["high_open"].to_numpy(bool)[rows]
        lo, hi = _interval_positions(part_key, low, high, low_open, high_open, cand_key, cand.value)
        publisher = meta["publisher"].astype(object)
        return cls(
            part=parts,
            cand=cand,
            lo=lo,
            hi=hi,
            part_code=code,
            part_text=np.asarray(text_of, dtype=object),
            part_rank=text_rank(pa.array(text_of)),
            low=low,
            high=high,
            low_open=low_open,
            high_open=high_open,
            cand_literal=arrow(text(figures["literal"])).take(pa.array(cand_rows)),
            n_parts=n_parts,
            claim_ids=claim_ids,
            claim_rank=text_rank(claim_ids),
            claim_source=arrow(text(claims["source_id"])),
            claim_market=arrow(text(claims["market_id"])),
            source_ids=meta.index.to_numpy(object),
            source_rank=text_rank(source_ids),
            publisher=publisher.where(publisher.notna(), None).to_numpy(object),
            publisher_shown=publisher.astype(str).to_numpy(object),
            kind_priority=meta["kind"].map(KIND_PRIORITY).fillna(9).to_numpy(float),
            # Sorted by claim (stably: each claim's values in the order written), found by search.
            values=values.iloc[np.argsort(values["claim"].to_numpy(), kind="stable")].reset_index(drop=True),
            paths=_path_lookup(projections, claim_ids),
        )

    def batches(self) -> Iterator[pd.DataFrame]:
        """The origins, a batch of subject claims at a time: claims in id order, cut where
        their value-matched pairs reach ``MAX_ORIGIN_PAIRS``."""
        n_pairs = np.maximum(self.hi - self.lo, 0)
        per_claim = np.bincount(self.part.claim, weights=n_pairs, minlength=len(self.claim_rank))
        in_order = np.argsort(self.claim_rank)
        before = np.cumsum(per_claim[in_order]) - per_claim[in_order]
        batch_of = np.empty(len(in_order), np.int64)
        batch_of[in_order] = before // MAX_ORIGIN_PAIRS
        batch = batch_of[self.part.claim]
        for b in np.unique(batch):
            rows = np.flatnonzero(batch == b)
            owner, at = ranges(self.lo[rows], self.hi[rows])
            yield self.origins(rows[owner], at)

    def origins(self, prow: np.ndarray, crow: np.ndarray) -> pd.DataFrame:
        """Origins of a batch of subject claims, from its value-matched pairs (subject part
        ``prow``, candidate figure ``crow``).

        Candidates are scored and ranked on numbers alone; text (parts matched, explanations,
        summaries) is written only for the few kept per claim, each run of sorted rows joined
        at once in Arrow: no Python per candidate."""
        p, c = self.part, self.cand
        value = p.value[prow]
        v = c.value[crow]
        inside = np.where(self.low_open[prow], v > self.low[prow], v >= self.low[prow]) & np.where(
            self.high_open[prow], v < self.high[prow], v <= self.high[prow]
        )
        is_cagr = p.is_cagr[prow]
        same_year = is_cagr | (c.year[crow] == p.year[prow])
        both_periods = ~np.isnan(p.period_from[prow]) & ~np.isnan(c.period_from[crow])
        same_period = ~both_periods | (
            (p.period_from[prow] == c.period_from[crow]) & (p.period_to[prow] == c.period_to[crow])
        )
        ok = (c.source[crow] != p.source[prow]) & (c.published_year[crow] <= p.published_year[prow])
        ok &= inside & same_year & (~is_cagr | same_period)
        prow, crow, value = prow[ok], crow[ok], value[ok]
        if not len(prow):
            return _empty_origins()
        closeness = np.abs(c.value[crow] - value) / np.clip(np.abs(value), 1e-9, None)
        # One explanation per (subject part, candidate claim): the closest figure.
        order = np.argsort(closeness, kind="quicksort")
        prow, crow, closeness = prow[order], crow[order], closeness[order]
        n = len(self.claim_ids)
        # Each (subject claim, candidate claim) numbered as first met; a group's first row is
        # also the first of each of its parts, so dropping repeats keeps the numbering.
        group, pair = pd.factorize(p.claim[prow].astype(np.int64) * n + c.claim[crow])
        first = np.unique(group * len(self.part_text) + self.part_code[prow], return_index=True)[1]
        first = np.sort(first)
        prow, crow, closeness, group = prow[first], crow[first], closeness[first], group[first]
        claim = p.claim[prow]

        # Per (subject claim, candidate claim): parts reproduced, closeness, and its rank.
        count = np.bincount(group)
        mean_closeness = pd.Series(closeness).groupby(group).mean().to_numpy()
        source = c.source[crow[np.unique(group, return_index=True)[1]]]
        g_claim, g_cand = pair // n, pair % n
        score = count / self.n_parts[g_claim]
        order = np.lexsort(
            (
                self.claim_rank[g_cand],
                self.source_rank[source],
                mean_closeness,
                self.kind_priority[source],
                -score,
                self.claim_rank[g_claim],
            )
        )
        starts = run_starts(g_claim[order])
        rank = np.arange(len(order)) - np.repeat(starts, run_lengths(starts, len(order))) + 1
        kept = rank <= MAX_ORIGINS
        order, rank = order[kept], rank[kept]
        rank_of = np.zeros(len(pair), np.int64)
        rank_of[order] = rank
        per = pd.DataFrame(
            {
                "claim": g_claim[order],
                "cand": g_cand[order],
                "source": source[order],
                "rank": rank.astype("int64"),
                "n_parts_matched": count[order].astype("int64"),
                "n_parts": self.n_parts[g_claim[order]].astype("int64"),
                "score": score[order],
            }
        )

        # The kept candidates' matched parts, sorted: a run of rows per candidate, as ``per``.
        top = np.flatnonzero(rank_of[group] > 0)
        top = top[
            np.lexsort((self.part_rank[self.part_code[prow[top]]], rank_of[group[top]], self.claim_rank[claim[top]]))
        ]
        top_part = self.part_code[prow[top]]
        runs = run_starts(claim[top], rank_of[group[top]])
        part_text = text(self.part_text[top_part])
        as_written = spread(self.cand_literal, crow[top]).str.rstrip("%")
        match_text = part_text + " as " + as_written + np.where(p.is_cagr[prow[top]], "%", "")
        owner = np.repeat(np.arange(len(runs)), run_lengths(runs, len(top)))
        notes = self._missing_notes(per, owner * len(self.part_text) + top_part)
        summary, combines = self._summaries(per, claim[top], rank_of[group[top]], top_part, runs)
        out = pd.DataFrame(
            {
                "claim_id": spread(self.claim_ids, per["claim"].to_numpy()),
                "source_id": spread(self.claim_source, per["claim"].to_numpy()),
                "market_id": spread(self.claim_market, per["claim"].to_numpy()),
                "rank": per["rank"],
                "matched_claim_id": spread(self.claim_ids, per["cand"].to_numpy()),
                "matched_source_id": text(self.source_ids[per["source"]]),
                "matched_publisher": text(self.publisher[per["source"]]),
                "parts_matched": joined_runs(part_text, runs, ", "),
                "n_parts_matched": per["n_parts_matched"],
                "n_parts": per["n_parts"],
                "score": per["score"],
                "explanation": "reproduces " + joined_runs(match_text, runs, "; ") + notes,
                "combines": combines,
                "summary": summary,
            }
        )
        return out[ORIGIN_COLUMNS]

    def _missing_notes(self, per: pd.DataFrame, found: np.ndarray) -> pd.Series:
        """For each subject value a kept candidate does not reproduce: where the candidate's
        own path is that year. One text per row of ``per`` ("" when there is none); ``found``
        holds the (row of ``per``, part) reproduced, as row * parts + part."""
        values = self.values
        claims = values["claim"].to_numpy()
        owner, at = ranges(
            np.searchsorted(claims, per["claim"].to_numpy(), "left"),
            np.searchsorted(claims, per["claim"].to_numpy(), "right"),
        )
        missing = ~np.isin(owner * len(self.part_text) + values["part"].to_numpy()[at], found)
        owner, at = owner[missing], at[missing]
        year = values["year"].to_numpy(float)[at]
        rows, central = self.paths.central_at(per["cand"].to_numpy()[owner], year)
        out = np.full(len(per), "", dtype=object)
        if not len(rows):
            return pd.Series(out, dtype=STRING)
        owner, at = owner[rows], at[rows]  # in order: by row of ``per``, then value as written
        # Each distinct value written once ("12.3", "1.23457e+06" as ``:g`` writes it).
        shown, inverse = np.unique(np.round(central, 1), return_inverse=True)
        reaches = np.array([f"{x:g}" for x in shown], dtype=object)[inverse.ravel()]
        note = (
            "its own path reaches "
            + text(reaches)
            + " in "
            + text(year[rows].astype(np.int64).astype(str))
            + ", not "
            + values["literal"].iloc[at].reset_index(drop=True)
        )
        runs = run_starts(owner)
        out[owner[runs]] = ("; " + joined_runs(note, runs, "; ")).to_numpy(dtype=object)
        return pd.Series(out, dtype=STRING)

    def _summaries(
        self, per: pd.DataFrame, claim: np.ndarray, rank: np.ndarray, part: np.ndarray, runs: np.ndarray
    ) -> tuple[pd.Series, np.ndarray]:
        """Per row of ``per``, its subject claim's summary: traced to one source, or a
        combination of several; and whether it combines. (``claim``, ``rank``, ``part``: the
        kept candidates' matched parts.)

        A greedy cover of the claim's parts by its candidates in rank order, each taking the
        parts no better-ranked one reproduced: so a part goes to the best-ranked candidate
        reproducing it, and the candidates given any part are the ones combined."""
        best = np.lexsort((rank, part, claim))
        best = best[run_starts(claim[best], part[best])]  # each part's best rank
        best = best[np.lexsort((self.part_rank[part[best]], rank[best], self.claim_rank[claim[best]]))]
        given = run_starts(claim[best], rank[best])
        # The row of ``per`` of each candidate given parts (``runs``: where each row's begin).
        row = np.searchsorted(runs, best[given], "right") - 1
        source = per["source"].to_numpy()[row]
        per_claim = run_starts(claim[best[given]])
        sizes = run_lengths(per_claim, len(given))
        combines = sizes > 1
        label = text(self.publisher_shown[source]) + " (" + text(self.source_ids[source]) + ")"
        piece = (
            label
            + np.where(np.repeat(combines, sizes), " for ", ": ")
            + joined_runs(text(self.part_text[part[best]]), given, ", ")
        )
        summary = np.where(combines, "combines ", "traced to ") + joined_runs(piece, per_claim, " and ")
        # Spread to the rows of ``per``: its claims come in the same order.
        claim_rows = run_lengths(run_starts(per["claim"].to_numpy()), len(per))
        return text(np.repeat(summary.to_numpy(object), claim_rows)), np.repeat(combines, claim_rows)


@dataclass(frozen=True)
class _Paths:
    """Projected paths sorted by key (claim number * PATH_YEARS + year), for binary search."""

    key: np.ndarray
    central: np.ndarray

    def central_at(self, claims: np.ndarray, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The path values of claims (by number) in the years asked for (floats, NaN: none):
        the rows asked (one per value found, in order) and the central values."""
        found = (claims >= 0) & ~np.isnan(years)
        wanted = np.where(found, claims * PATH_YEARS + np.nan_to_num(years).astype(np.int64), -1)
        rows, at = ranges(np.searchsorted(self.key, wanted, "left"), np.searchsorted(self.key, wanted, "right"))
        return rows, self.central[at]


def _path_lookup(projections: pd.DataFrame, claim_ids: pa.Array | pa.ChunkedArray) -> _Paths:
    """The paths to read candidates against: kept as numbers, or from the projections table."""
    if "claim_no" not in projections:
        projections = claim_paths(projections, pd.Series(pd.array(claim_ids, dtype=STRING)))
    key = projections["claim_no"].to_numpy(np.int64) * PATH_YEARS + projections["year"].to_numpy(np.int64)
    central = projections["central"].to_numpy(float)
    if len(key) and (key[1:] < key[:-1]).any():  # kept in order already, chunk after chunk
        order = np.argsort(key, kind="stable")
        key, central = key[order], central[order]
    return _Paths(key, central)


def _interval_positions(
    part_key: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    low_open: np.ndarray,
    high_open: np.ndarray,
    cand_key: np.ndarray,
    cand_value: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For each part, the range [lo, hi) of the sorted candidates (by key, then value) whose
    value lies in the part's interval, open ends kept."""
    lo = np.zeros(len(part_key), np.int64)
    hi = np.zeros(len(part_key), np.int64)
    block_start = np.searchsorted(cand_key, part_key, "left")
    block_end = np.searchsorted(cand_key, part_key, "right")
    # One binary search per distinct key (a few thousand), over that key's sorted values.
    for rows in pd.Series(np.arange(len(part_key))).groupby(part_key).indices.values():
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
    bad = np.isnan(low) | np.isnan(high)  # no interval: no match
    hi[bad] = lo[bad]
    return lo, hi


def _empty_origins() -> pd.DataFrame:
    types = {"rank": "int64", "n_parts_matched": "int64", "n_parts": "int64", "score": float, "combines": bool}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, pd.StringDtype("pyarrow"))) for c in ORIGIN_COLUMNS})
