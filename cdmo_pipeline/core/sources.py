"""Load: read every source file into raw frames, strings exactly as written.

Both input forms end here in the same four frames (sources, market declarations, claims, and
one row per number as written), so everything downstream, validation included, is written
once. Provenance (file, line, sha256) is recorded here and carried through.
"""

import hashlib
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml
from pydantic import ValidationError

from cdmo_pipeline.core import bulk_schema
from cdmo_pipeline.core.errors import SourceIssue, SourceValidationError
from cdmo_pipeline.core.frames import STRING
from cdmo_pipeline.core.memory import release_memory
from cdmo_pipeline.core.source_format import (
    MARKETS_FILE,
    ClaimDoc,
    MarketDoc,
    MarketsFileDoc,
    RejectedTag,
    SourceDoc,
    ValueDoc,
    line_of,
    load_yaml,
    path_to,
)

YAML_SUFFIXES = (".yaml", ".yml")
BULK_SUFFIXES = (".claims.csv", ".claims.parquet")
# Optional columns a bulk table may add to the DESIGN's: one intermediate value, metadata.
# Bulk tables are format-checked in batches of about this many rows (whole files), so the
# schema's fixed cost is paid per batch, not per file.
BULK_BATCH_ROWS = 200_000
BULK_OPTIONAL = (
    "point_year",
    "point_value",
    "point_scale",
    "point_qualifier",
    "source_kind",
    "source_url",
    "confidence",
    "note",
    "market_label",
    "region",
    "modality",
)

FIGURE_COLUMNS = [
    "ref",
    "file",
    "line",
    "source_id",
    "claim",
    "role",
    "idx",
    "year",
    "value",
    "scale",
    "qualifier",
    "period_from",
    "period_to",
    "paragraph",
    "locator_text",
    "locator_start",
    "locator_end",
    "f_year",
    "f_value",
    "f_scale",
    "f_qualifier",
    "f_period",
]
CLAIM_COLUMNS = [
    "ref",
    "file",
    "line",
    "source_id",
    "claim",
    "kind",
    "market",
    "currency",
    "population",
    "note",
    "confidence",
    "paragraph",
    "locator_text",
    "position",
]
SOURCE_COLUMNS = [
    "file",
    "line",
    "source_id",
    "title",
    "publisher",
    "published",
    "url",
    "kind",
    "text",
    "confidence",
    "report",
    "edition",
    "date_as_printed",
    "note",
    "sha256",
    "format",
]
MARKET_COLUMNS = [
    "file",
    "line",
    "market_id",
    "label",
    "parent",
    "region",
    "modality",
    "comparable_to",
    "note",
    "explicit",
    "claim",  # a bulk table's declaring row: its claim id, for errors; none in YAML
]


@dataclass
class RawCorpus:
    """Everything the source files say, as written, with where each piece came from."""

    sources: pd.DataFrame
    markets: pd.DataFrame
    claims: pd.DataFrame
    figures: pd.DataFrame
    extras: pd.DataFrame  # numbers a draft left unassigned or ignored (issue: coverage)
    directory: str = ""  # the sources directory, for errors about it as a whole


def discover(sources_dir: Path) -> list[Path]:
    """Paths named like source files under ``sources_dir``, in a stable order (markets.yaml
    first). Anything so named that is not a readable file (a broken link, a directory, a
    pipe) is listed too, so that reading it fails by name instead of skipping it."""
    if not sources_dir.is_dir():
        return []
    found = [
        p
        for p in sources_dir.rglob("*")
        if not any(part.startswith(".") for part in p.relative_to(sources_dir).parts)
        and (p.name.endswith(YAML_SUFFIXES) or p.name.endswith(BULK_SUFFIXES))
    ]
    return sorted(found, key=lambda p: (p.name != MARKETS_FILE, p.relative_to(sources_dir).as_posix()))


def read_source_bytes(path: Path) -> bytes:
    """A source file's bytes; ``OSError`` with a plain reason when it is not a readable file."""
    if path.is_symlink() and not path.exists():
        raise OSError(f"is a symbolic link to {os.readlink(path)}, which does not exist (or loops)")
    if path.is_dir():
        raise OSError("is a directory, not a source file")
    if not path.is_file():
        raise OSError("is not a regular file (a pipe, socket or device)")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise OSError(f"cannot be read: {exc.strerror or exc}") from exc


def fingerprint(sources_dir: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every source file: what the sensor compares. A path that
    cannot be read gets its reason instead, so the refresh it triggers reports it."""
    out = {}
    for p in discover(sources_dir):
        try:
            out[relpath(p, sources_dir)] = sha256_of(read_source_bytes(p))
        except OSError as exc:
            out[relpath(p, sources_dir)] = f"unreadable: {exc}"
    return out


def relpath(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_corpus(sources_dir: Path) -> RawCorpus:
    """Read every source file at once; raise :class:`SourceValidationError` listing all problems."""
    return plan(sources_dir).whole()


def plan(sources_dir: Path) -> "Plan":
    """Read every source file (bulk tables as checked Arrow tables), ready to be processed in
    chunks; raise :class:`SourceValidationError` listing every unreadable or malformed file."""
    sources_dir = Path(sources_dir)
    if not sources_dir.is_dir():
        raise SourceValidationError([SourceIssue(str(sources_dir), None, None, "the sources directory does not exist")])
    reader = _Reader()
    for path in discover(sources_dir):
        rel = relpath(path, sources_dir)
        try:
            data = read_source_bytes(path)
        except OSError as exc:
            reader.issues.append(SourceIssue(rel, None, None, f"the file {exc}"))
            continue
        if path.name.endswith(BULK_SUFFIXES):
            reader.read_bulk(path, rel, data)
        else:
            reader.read_yaml(rel, data, markets_only=path.name == MARKETS_FILE)
        del data  # a large file's bytes, not needed once it is parsed
    reader.check_bulk()
    if reader.issues:
        raise SourceValidationError(reader.issues)
    return Plan(str(sources_dir), reader)


@dataclass
class BulkTable:
    """Bulk claims files read and checked together: rows sorted by file, then source, each
    with its file (``_file``), line (``_line``) and reference number (``_ref``)."""

    table: pa.Table  # all columns as strings, plus the "_" columns

    def slices(self, max_claims: int, family: pd.Series | None = None) -> Iterator[pa.Table]:
        """Runs of rows holding whole sources, each of at most ``max_claims`` rows.

        A source larger than that is cut between market families (``family``: each market's
        topmost ancestor), so that a segment and its parent market, compared in
        ``segment_shares``, stay in one chunk; only one family of one source larger than a
        chunk is yielded whole. Consumes the table: a slice's rows are let go once it is
        taken (a table is read in Arrow chunks, which are freed as their slices go).
        """
        table, self.table = self.table, self.table.schema.empty_table()
        ids = table.column("source_id").to_numpy(zero_copy_only=False)
        n = len(ids)
        # Each source's first row (rows of a source are together: see _Reader).
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if n else np.zeros(0, np.int64)
        del ids
        ends = np.r_[starts[1:], n]
        items: list[pa.Table | _FamilyCut] = []
        pos = 0
        for big in np.flatnonzero(ends - starts > max_claims) if family is not None else []:
            lo, hi = int(starts[big]), int(ends[big])
            items += _whole_sources(table, starts, pos, lo, max_claims)
            items.append(_FamilyCut.of(table.slice(lo, hi - lo), max_claims, family))
            pos = hi
        items += _whole_sources(table, starts, pos, n, max_claims)
        del table
        return _taken(items)


def _taken(items: list["pa.Table | _FamilyCut"]) -> Iterator[pa.Table]:
    """The slices, each let go as it is handed over."""
    while items:
        item = items.pop(0)
        if isinstance(item, pa.Table):
            yield item
        else:
            yield from item.pieces()
        del item


def _whole_sources(table: pa.Table, starts: np.ndarray, lo: int, hi: int, max_claims: int) -> list[pa.Table]:
    """Rows ``lo:hi`` (whole sources) cut at source starts."""
    if hi <= lo:
        return []
    inner = starts[(starts >= lo) & (starts < hi)] - lo
    return [table.slice(lo + a, b - a) for a, b in itertools.pairwise(_cuts(inner, hi - lo, max_claims))]


@dataclass
class _FamilyCut:
    """One source's rows grouped by market family (in order of first row, rows in file order
    within one) and cut between families. Rows whose claim id is repeated stay together, so
    that validation still names every repeat. Pieces are copied out one at a time."""

    run: pa.Table
    order: np.ndarray
    bounds: list[int]

    @classmethod
    def of(cls, run: pa.Table, max_claims: int, family: pd.Series) -> "_FamilyCut":
        market = _plain(run.select(["market"])).column(0)
        distinct = pc.unique(market).drop_null()
        at = pc.index_in(market, value_set=distinct).fill_null(-1).to_numpy()
        # Families are numbered over the few distinct markets, then spread to the rows.
        fam = pd.Series(distinct.to_pylist(), dtype=object)
        fam_code = pd.factorize(fam.map(family).fillna(fam), sort=False)[0]
        key = np.where(at >= 0, np.r_[fam_code, 0][at], len(distinct))
        claim = run.column("claim_id")
        if len(pc.unique(claim)) < len(claim):
            counts = pc.value_counts(claim)
            repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
            key[pc.is_in(claim, value_set=repeated).to_numpy(zero_copy_only=False)] = len(distinct) + 1
        order = np.argsort(key, kind="stable")
        key = key[order]
        units = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        return cls(run, order, _cuts(units, len(order), max_claims))

    def pieces(self) -> Iterator[pa.Table]:
        for a, b in itertools.pairwise(self.bounds):
            yield self.run.take(self.order[a:b])


def _cuts(starts: np.ndarray, n: int, max_claims: int) -> list[int]:
    """Bounds of consecutive runs of units (each unit starting at one of ``starts``), each run
    of at most ``max_claims`` rows unless one unit alone is larger."""
    ends = np.r_[starts[1:], n].tolist()
    bounds = [0]
    for start, end in zip(starts.tolist(), ends, strict=True):  # a step per unit: cheap
        if end - bounds[-1] > max_claims and start > bounds[-1]:
            bounds.append(start)
    bounds.append(n)
    return bounds


def _families(markets: pd.DataFrame) -> pd.Series:
    """Each market with a parent, mapped to its topmost ancestor (a cycle, reported by
    validation, stops after a bounded walk)."""
    named = (markets["parent"].astype(STRING).fillna("").str.strip() != "").to_numpy(bool)
    declared = markets.loc[named, ["market_id", "parent"]].astype(object)
    parent = declared.drop_duplicates("market_id").set_index("market_id")["parent"]
    root = parent.copy()
    for _ in range(64):
        up = root.map(parent)
        if up.isna().all():
            break
        root = up.fillna(root)
    return root


class Plan:
    """Every source read: sources and markets of all files at hand, claims in chunks.

    A chunk holds whole sources, so every per-source table (claims, figures, checks,
    projections, segment shares) can be built from one chunk alone; memory is bounded by
    the chunk size, not the corpus.
    """

    def __init__(self, directory: str, reader: "_Reader") -> None:
        self.directory = directory
        self.reader = reader
        yaml = reader.frames()
        sources = [yaml["sources"]] + [t[0] for t in reader.bulk_globals]
        markets = [yaml["markets"]] + [t[1] for t in reader.bulk_globals]
        self.sources = _as_arrow_strings(_concat(sources))
        self.markets = _as_arrow_strings(_concat(markets))
        self.extras = yaml["extras"]
        self._yaml_claims, self._yaml_figures = yaml["claims"], yaml["figures"]

    def chunks(self, max_claims: int) -> Iterator[RawCorpus]:
        """The claims and figures, a chunk of whole sources at a time. Consumes the plan: each
        bulk file's rows are let go once its chunks are out, so memory falls as a streaming
        refresh goes on."""
        claims, figures = self._yaml_claims, self._yaml_figures
        if len(claims):
            # YAML sources are small: group whole sources up to the chunk size.
            per_source = claims.groupby("source_id", sort=False).size()
            batch = (per_source.cumsum() - 1) // max(max_claims, 1)
            for _, ids in per_source.index.to_series().groupby(batch.to_numpy(), sort=True):
                keep = claims["source_id"].isin(ids).to_numpy(bool)
                yield self._raw([claims.loc[keep]], [figures.loc[figures["source_id"].isin(ids).to_numpy(bool)]])
        # Slices of whole sources, gathered across files up to the chunk size: a corpus of
        # many small files costs as few chunks as one big file.
        pending: list[tuple[pd.DataFrame, pd.DataFrame]] = []
        n_pending = 0
        family = _families(self.markets)
        while self.reader.bulk:
            # Each slice's rows are let go once it is taken and converted.
            for piece in self.reader.bulk.pop(0).slices(max_claims, family):
                if pending and n_pending + piece.num_rows > max_claims:
                    yield self._raw([c for c, _ in pending], [f for _, f in pending])
                    pending, n_pending = [], 0
                pending.append(_bulk_claims(_plain(piece)))
                n_pending += piece.num_rows
        if pending:
            yield self._raw([c for c, _ in pending], [f for _, f in pending])

    def whole(self) -> RawCorpus:
        """Every claim in one chunk."""
        parts = [(self._yaml_claims, self._yaml_figures)]
        parts += [_bulk_claims(_plain(b.table)) for b in self.reader.bulk]
        return self._raw([c for c, _ in parts], [f for _, f in parts])

    def _raw(self, claims: list[pd.DataFrame], figures: list[pd.DataFrame]) -> RawCorpus:
        c = _as_arrow_strings(_concat(claims)).reset_index(drop=True)
        f = _as_arrow_strings(_concat(figures)).reset_index(drop=True)
        # cno: the claim's position in this chunk, the key every later step joins on.
        c["cno"] = np.arange(len(c), dtype=np.int64)
        f["cno"] = pd.Index(c["ref"]).get_indexer(f["ref"]).astype(np.int64)
        return RawCorpus(self.sources, self.markets, c, f, self.extras, self.directory)


@dataclass
class _Unchecked:
    """A bulk table read, its format not yet checked."""

    rel: str
    sha: str
    first_row: int  # the line of its first row (CSV counts the header)
    table: pa.Table  # emptied once its batch has kept what it needs


def _lines(items: list[_Unchecked]) -> np.ndarray:
    """Each row's line in its own file, for tables read one after another."""
    return np.concatenate([np.arange(b.first_row, b.first_row + b.table.num_rows) for b in items])


class _Reader:
    """Accumulates rows from many files, and every problem found while reading them."""

    def __init__(self) -> None:
        self.issues: list[SourceIssue] = []
        self.sources: list[dict[str, Any]] = []
        self.markets: list[dict[str, Any]] = []
        self.claims: list[dict[str, Any]] = []
        self.figures: list[dict[str, Any]] = []
        self.extras: list[dict[str, Any]] = []
        self.bulk: list[BulkTable] = []
        self.bulk_globals: list[tuple[pd.DataFrame, pd.DataFrame]] = []
        self.unchecked: list[_Unchecked] = []  # bulk tables read, waiting for their format check
        # Every claim gets a reference number as it is read; its figures carry it, so a
        # claim is found by integer, never by its (possibly duplicated) id.
        self.ref = 0

    # YAML ------------------------------------------------------------------------------

    def read_yaml(self, rel: str, data: bytes, *, markets_only: bool) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.issues.append(
                SourceIssue(
                    rel, None, None, f"is not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
                )
            )
            return
        try:
            doc, problems = load_yaml(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.issues.append(
                SourceIssue(rel, None, None, f"is not valid YAML: {problem}", mark.line + 1 if mark else None)
            )
            return
        if doc is None:
            self.issues.append(SourceIssue(rel, None, None, "is empty"))
            return
        if not isinstance(doc, dict):
            expected = "`markets`" if markets_only else "`source` and `claims`"
            self.issues.append(
                SourceIssue(rel, None, None, f"must be a mapping with {expected}, not a {type(doc).__name__}")
            )
            return
        for problem in problems:  # duplicate keys, named by claim and field
            path = path_to(doc, problem.mapping)
            claim, field = _claim_and_field(doc, (*path, problem.key)) if path is not None else (None, str(problem.key))
            self.issues.append(SourceIssue(rel, claim, field, problem.message, problem.line))
        model = MarketsFileDoc if markets_only else SourceDoc
        try:
            parsed = model.model_validate(doc)
        except ValidationError as exc:
            self.issues.extend(_pydantic_issues(rel, doc, exc))
            return
        if problems:
            return
        sha = sha256_of(data)
        if isinstance(parsed, MarketsFileDoc):
            self._markets(rel, doc, parsed.markets, prefix="markets")
            return
        self._source(rel, doc, parsed, sha)

    def _source(self, rel: str, doc: dict, parsed: SourceDoc, sha: str) -> None:
        meta = parsed.source
        source_id = meta.id
        self.sources.append(
            {
                "file": rel,
                "line": line_of(doc, ("source",)),
                "source_id": source_id,
                **{k: getattr(meta, k) for k in ("title", "publisher", "published", "url", "kind", "text")},
                **{k: getattr(meta, k) for k in ("confidence", "report", "edition", "date_as_printed", "note")},
                "sha256": sha,
                "format": "yaml",
            }
        )
        if parsed.markets:
            self._markets(rel, doc, parsed.markets, prefix="markets")
        for i, claim in enumerate(parsed.claims):
            self._claim(rel, doc, source_id, i, claim)
        for kind, items in (("unassigned", parsed.unassigned), ("ignored", parsed.ignored)):
            for i, item in enumerate(items):
                loc = item.locator
                self.extras.append(
                    {
                        "file": rel,
                        "source_id": source_id,
                        "kind": kind,
                        "literal": item.literal,
                        "reason": item.reason,
                        "paragraph": loc.paragraph if loc else None,
                        "locator_text": loc.text if loc else None,
                        "locator_start": loc.start if loc else None,
                        "locator_end": loc.end if loc else None,
                        "line": line_of(doc, (kind, i)),
                    }
                )

    def _markets(self, rel: str, doc: dict, markets: dict[str, MarketDoc], prefix: str) -> None:
        for market_id, m in markets.items():
            self.markets.append(
                {
                    "file": rel,
                    "line": line_of(doc, (prefix, market_id)),
                    "market_id": str(market_id),
                    "label": m.label,
                    "parent": m.parent,
                    "region": m.region,
                    "modality": m.modality,
                    "comparable_to": m.comparable_to,
                    "note": m.note,
                    "explicit": True,
                }
            )

    def _claim(self, rel: str, doc: dict, source_id: str, i: int, claim: ClaimDoc) -> None:
        loc = claim.locator
        ref = self.ref
        self.ref += 1
        self.claims.append(
            {
                "ref": ref,
                "file": rel,
                "line": line_of(doc, ("claims", i)),
                "source_id": source_id,
                "claim": claim.id,
                "kind": claim.kind,
                "market": claim.market,
                "currency": claim.currency,
                "population": claim.population,
                "note": claim.note,
                "confidence": claim.confidence,
                "paragraph": loc.paragraph if loc else None,
                "locator_text": loc.text if loc else None,
                "position": i,
            }
        )
        base = {"ref": ref, "file": rel, "source_id": source_id, "claim": claim.id}
        claim_para = loc.paragraph if loc else None
        values: list[tuple[str, int, str, ValueDoc, tuple[Any, ...]]] = []
        if claim.start is not None:
            values.append(("start", 0, "start", claim.start, ("claims", i, "start")))
        for j, point in enumerate(claim.points):
            values.append(("point", j, f"points[{j}]", point, ("claims", i, "points", j)))
        if claim.end is not None:
            values.append(("end", 0, "end", claim.end, ("claims", i, "end")))
        for role, idx, prefix, v, path in values:
            self.figures.append(
                {
                    **base,
                    **_locator(v.locator, claim_para),
                    "line": line_of(doc, path),
                    "role": role,
                    "idx": idx,
                    "year": v.year,
                    "value": v.value,
                    "scale": v.scale,
                    "qualifier": v.qualifier,
                    "period_from": None,
                    "period_to": None,
                    **_yaml_fields(prefix),
                }
            )
        if claim.cagr is not None:
            c = claim.cagr
            self.figures.append(
                {
                    **base,
                    **_locator(c.locator, claim_para),
                    "line": line_of(doc, ("claims", i, "cagr")),
                    "role": "cagr",
                    "idx": 0,
                    "year": None,
                    "value": c.value,
                    "scale": None,
                    "qualifier": c.qualifier,
                    "period_from": c.period.from_ if c.period else None,
                    "period_to": c.period.to if c.period else None,
                    **_yaml_fields("cagr"),
                }
            )
        if claim.value is not None or claim.kind == "share":
            self.figures.append(
                {
                    **base,
                    **_locator(claim.locator, None),
                    "line": line_of(doc, ("claims", i, "value")) or line_of(doc, ("claims", i)),
                    "role": "share",
                    "idx": 0,
                    "year": claim.year,
                    "value": claim.value if claim.value is not None else "",
                    "scale": None,
                    "qualifier": claim.qualifier,
                    "period_from": None,
                    "period_to": None,
                    **_yaml_fields(""),
                }
            )

    # Bulk tables -------------------------------------------------------------------------

    def read_bulk(self, path: Path, rel: str, data: bytes) -> None:
        """Read a bulk table and check what only it can show; its format is checked later,
        with other files' (``check_bulk``)."""
        try:
            table = _read_table(path, data)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.issues.append(SourceIssue(rel, None, None, f"cannot be read as a claims table: {first}"))
            return
        table = _without_row_labels(table)
        seen: set[str] = set()
        for c in table.column_names:
            if c in seen:
                self.issues.append(SourceIssue(rel, None, c, "the column appears more than once"))
            seen.add(c)
        if len(seen) < len(table.column_names):
            return
        if table.num_rows == 0:
            self.issues.append(SourceIssue(rel, None, None, "has no rows"))
            return
        first_row = 2 if path.name.endswith(".csv") else 1  # CSV line numbers count the header
        table = _as_text(table.replace_schema_metadata(None))
        self.unchecked.append(_Unchecked(rel, sha256_of(data), first_row, table))

    def check_bulk(self) -> None:
        """The format of every bulk table (columns, text, each column's shape), by pandera
        over whole frames: tables with the same columns are checked together, many files at
        once, so a corpus of thousands of small files pays the schema's fixed cost a few
        times, not once per file. Tables that pass are kept, sorted, in batches."""
        groups: dict[tuple, list[_Unchecked]] = {}
        for item in self.unchecked:
            groups.setdefault(tuple((f.name, str(f.type)) for f in item.table.schema), []).append(item)
        self.unchecked = []
        for items in groups.values():
            batch: list[_Unchecked] = []
            rows = 0
            for item in items:
                if batch and rows + item.table.num_rows > BULK_BATCH_ROWS:
                    self._check_batch(batch)
                    release_memory(rows)  # each batch's working copies, before the next one's
                    batch, rows = [], 0
                batch.append(item)
                rows += item.table.num_rows
            if batch:
                self._check_batch(batch)
                release_memory(rows)
        self._gather_sources_across_files()

    def _gather_sources_across_files(self) -> None:
        """Sources whose rows are in several files (a corpus cut in files by row count) are
        moved to a table of their own, each source's rows together in the order read, so that
        chunks hold them whole like any other."""
        if not self.bulk_globals:
            return
        pairs = pd.concat([g[0][["source_id", "file"]] for g in self.bulk_globals]).drop_duplicates()
        spread = pairs.loc[pairs["source_id"].duplicated().to_numpy(bool), "source_id"]
        if spread.empty:
            return
        ids = pa.array(spread.astype(str).unique())
        taken = []
        for bulk in self.bulk:
            here = pc.is_in(bulk.table.column("source_id"), value_set=ids)
            if pc.any(here).as_py():
                taken.append(bulk.table.filter(here))
                bulk.table = bulk.table.filter(pc.invert(here))
        self.bulk = [b for b in self.bulk if b.table.num_rows]
        names = taken[0].column_names
        # Decoded first: each batch coded its columns by its own values.
        table = pa.concat_tables([_plain(t.select(names)) for t in taken]).unify_dictionaries().combine_chunks()
        del taken
        order = pc.sort_indices(table, sort_keys=[("source_id", "ascending"), ("_ref", "ascending")])
        self.bulk.append(BulkTable(_coded(table.take(order))))

    def _check_batch(self, batch: list["_Unchecked"]) -> None:
        """Check a batch's format, then keep its good files as one sorted table. The batch's
        tables are let go here: a file of a million rows is held about once, not twice."""
        table = pa.concat_tables([b.table for b in batch])
        files = np.repeat(np.array([b.rel for b in batch], dtype=object), [b.table.num_rows for b in batch])
        lines = _lines(batch)
        # The checks are row by row: a large file is checked a slice at a time, so the
        # check's working copies follow BULK_BATCH_ROWS, not the file.
        step = BULK_BATCH_ROWS
        problems = bulk_schema.check_frames(
            (_frame(table.slice(lo, step)), pd.Series(files[lo : lo + step]), pd.Series(lines[lo : lo + step]))
            for lo in range(0, table.num_rows, step)
        )
        self.issues.extend(problems)
        bad = {p.file for p in problems}
        good = [b for b in batch if b.rel not in bad]
        if not good:
            return
        table = pa.concat_tables([b.table for b in good]) if len(good) < len(batch) else table
        sizes = [b.table.num_rows for b in good]
        good_lines = lines if len(good) == len(batch) else _lines(good)
        for b in batch:
            b.table = b.table.schema.empty_table()  # ``table`` now holds the only reference to the rows
        n = table.num_rows
        for c in BULK_OPTIONAL:
            if c not in table.column_names:
                table = table.append_column(c, pc.fill_null(pa.nulls(n, pa.string()), ""))
        # Every column text, missing as "" (bulk files mark absence by an empty cell).
        columns = {name: pc.fill_null(col, "") for name, col in zip(table.column_names, table.columns, strict=True)}
        del table
        fileno = pa.array(np.repeat(np.arange(len(good), dtype=np.int32), sizes))
        columns["_file"] = pa.DictionaryArray.from_arrays(fileno, pa.array([b.rel for b in good]))
        columns["_sha"] = pa.DictionaryArray.from_arrays(fileno, pa.array([b.sha for b in good]))
        columns["_fileno"] = fileno
        columns["_line"] = pa.array(good_lines)
        columns["_ref"] = pa.array(np.arange(self.ref, self.ref + n))
        self.ref += n
        # Rows of a source together (a stable sort keeps their order): chunks hold whole
        # sources. Most files already list their sources in order, and need no copy; the
        # others are reordered a column at a time, each unsorted column let go as its
        # sorted copy is made, so a large file is not held twice.
        keys = pa.table({"f": columns["_fileno"], "s": columns["source_id"]})
        order = pc.sort_indices(keys, sort_keys=[("f", "ascending"), ("s", "ascending")])
        del keys
        if not np.array_equal(order.to_numpy(), np.arange(n)):
            for name in list(columns):
                columns[name] = columns[name].take(order)
        table = pa.table(columns)
        del columns
        self.bulk_globals.append(_bulk_globals(table))
        self.bulk.append(BulkTable(_coded(table)))

    # Frames ------------------------------------------------------------------------------

    def frames(self) -> dict[str, pd.DataFrame]:
        """The YAML files' rows as frames."""
        return {
            "sources": _as_arrow_strings(pd.DataFrame(self.sources, columns=SOURCE_COLUMNS)),
            # "" not NA for YAML's claim: an all-NA column would make pandas warn on concat.
            "markets": _as_arrow_strings(pd.DataFrame(self.markets, columns=MARKET_COLUMNS).assign(claim="")),
            "claims": _as_arrow_strings(pd.DataFrame(self.claims, columns=CLAIM_COLUMNS)),
            "figures": _as_arrow_strings(pd.DataFrame(self.figures, columns=FIGURE_COLUMNS)),
            "extras": pd.DataFrame(self.extras, columns=EXTRA_COLUMNS),
        }


EXTRA_COLUMNS = [
    "file", "source_id", "kind", "literal", "reason", "paragraph",
    "locator_text", "locator_start", "locator_end", "line",
]  # fmt: skip


NUMERIC_COLUMNS = ("paragraph", "locator_start", "locator_end", "line", "position")


def _as_arrow_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Arrow strings (vectorised kernels, compact memory), numbers as floats.

    Applied to the small YAML frames before they meet the bulk frames, so combining them
    never falls back to Python objects.
    """
    for col in frame.columns:
        if col in NUMERIC_COLUMNS and frame[col].dtype == object:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
        elif frame[col].dtype == object or isinstance(frame[col].dtype, pd.CategoricalDtype):
            values = frame[col].astype(object)
            frame[col] = values.where(values.notna(), None).astype(STRING)
    return frame


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty] or frames[:1]
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    return out


def _locator(loc: Any, fallback_paragraph: int | None) -> dict[str, Any]:
    return {
        "paragraph": (loc.paragraph if loc and loc.paragraph else fallback_paragraph),
        "locator_text": loc.text if loc else None,
        "locator_start": loc.start if loc else None,
        "locator_end": loc.end if loc else None,
    }


def _yaml_fields(prefix: str) -> dict[str, str]:
    dot = f"{prefix}." if prefix else ""
    return {
        "f_year": f"{dot}year" if prefix != "cagr" else "cagr.period",
        "f_value": f"{dot}value",
        "f_scale": f"{dot}scale",
        "f_qualifier": f"{dot}qualifier",
        "f_period": "cagr.period" if prefix == "cagr" else "",
    }


def _claim_and_field(doc: dict, loc: tuple[Any, ...]) -> tuple[str | None, str | None]:
    """The claim a location is in (its id, else its position) and the field within it."""
    if len(loc) >= 2 and loc[0] == "claims" and isinstance(loc[1], int):
        raw = doc.get("claims")
        item = raw[loc[1]] if isinstance(raw, list) and loc[1] < len(raw) else None
        claim = str(item.get("id")) if isinstance(item, dict) and item.get("id") else f"#{loc[1] + 1}"
        return claim, _dotted(loc[2:]) or None
    return None, _dotted(loc) or None


def _pydantic_issues(rel: str, doc: dict, exc: ValidationError) -> list[SourceIssue]:
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        claim, field = _claim_and_field(doc, loc)
        message = err["msg"]
        if isinstance(err.get("input"), RejectedTag):
            message = f"is {err['input']}; source files hold plain values only"
        elif err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] in ("model_type", "model_attributes_type", "dict_type"):
            # Not pydantic's "instance of CagrDoc": the user wrote a scalar or list for a mapping.
            message = f"must be a mapping of fields (key: value), not {type(err.get('input')).__name__}"
        issues.append(SourceIssue(rel, claim, field, message, line_of(doc, loc)))
    return issues


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "from_":
            out += ".from"
        else:
            out += f".{part}" if out else str(part)
    return out


def _read_table(path: Path, data: bytes) -> pa.Table:
    if path.name.endswith(".parquet"):
        return pq.read_table(pa.BufferReader(data))
    data.decode("utf-8")  # a clear UnicodeDecodeError beats arrow's generic one
    # Every column as a string: the digits written are the precision.
    names = data.split(b"\n", 1)[0].decode("utf-8").strip().lstrip("\ufeff").split(",")
    names = [n.strip().strip('"') for n in names]
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False)
    return pacsv.read_csv(pa.BufferReader(data), convert_options=convert)


def _without_row_labels(table: pa.Table) -> pa.Table:
    """A table without pandas' row labels, which pandas writes beside the columns unless told
    not to (a filtered frame's index in Parquet, an unnamed first column in CSV): they are
    not fields of any claim. Other columns, known or not, are left for the format check."""
    meta = table.schema.pandas_metadata or {}
    labels = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    keep = [i for i, name in enumerate(table.column_names) if name.strip() and name not in labels]
    return table if len(keep) == table.num_columns else table.select(keep)


# Columns holding years: a year has no precision to lose, so a Parquet writer's float year
# (an integer column with a gap, in pandas) is still the year written.
_YEAR_COLUMNS = frozenset(["source_published", "cagr_from", "cagr_to", "start_year", "end_year", "point_year"])


def _as_text(table: pa.Table) -> pa.Table:
    """A typed table's columns as the text they hold, wherever that text is exact: any kind of
    string (dictionary-encoded, large, views), integers (as YAML accepts an unquoted
    integer), dates (ISO), a column of nulls, and whole-number floats in year columns. Other
    types stay, for the format check to name (a float value has lost the digits written)."""
    for i, field in enumerate(table.schema):
        original = column = table.column(i)
        kind = field.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        if pa.types.is_floating(kind) and field.name in _YEAR_COLUMNS:
            # A whole number is the year written; any other value goes on as its own text
            # ("2030.5"), for the format check to name by file, line, claim and field.
            years = pc.if_else(pc.is_nan(column), None, column)  # NaN: pandas' missing value
            whole = pc.and_(pc.equal(pc.floor(years), years), pc.less(pc.abs(years), 1e9))  # inf is not
            as_year = pc.if_else(whole, years, None).cast(pa.int64()).cast(pa.string())
            column, kind = pc.if_else(whole, as_year, years.cast(pa.string())), pa.string()
        text = (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_string_view(kind)
            or pa.types.is_integer(kind)
            or pa.types.is_date(kind)
            or pa.types.is_null(kind)
        )
        if text and kind != pa.string():
            table = table.set_column(i, field.name, column.cast(pa.string()))
        elif column is not original:
            table = table.set_column(i, field.name, column)
    return table


# Columns a plan keeps as written: ids are read as they are (sorted, cut, hashed), and
# rarely repeat within a file.
_NEVER_CODED = frozenset(["source_id", "claim_id"])
_FILE_COLUMNS = frozenset(["_file", "_sha"])


def _coded(table: pa.Table) -> pa.Table:
    """A checked bulk table as the plan keeps it until its chunks are taken: text that
    repeats (years, scales, qualifiers, markets, titles, empty optional columns) coded
    against its distinct values, in the narrowest integers that hold them. A million claims'
    text then takes about a third of the memory; ``_plain`` decodes each slice as it is
    taken."""
    n = table.num_rows
    for i, field in enumerate(table.schema):
        if field.name in _NEVER_CODED or field.type != pa.string():
            continue
        # Chunk by chunk (a column may hold more text than one Arrow array can): each
        # chunk's dictionary holds every value of the chunks before it.
        coded = pc.dictionary_encode(table.column(i)).chunks
        values = max((len(c.dictionary) for c in coded), default=0)
        if 2 * values > n:
            continue  # mostly distinct: plain text is no larger
        width = pa.int8() if values <= 2**7 else pa.int16() if values <= 2**15 else pa.int32()
        narrow = [pa.DictionaryArray.from_arrays(c.indices.cast(width), c.dictionary) for c in coded]
        table = table.set_column(i, field.name, pa.chunked_array(narrow, type=pa.dictionary(width, pa.string())))
    return table


def _plain(table: pa.Table) -> pa.Table:
    """A (slice of a) coded bulk table with its text as plain strings again (file names stay
    coded: ``_bulk_claims`` reads them so)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type) and field.name not in _FILE_COLUMNS:
            table = table.set_column(i, field.name, table.column(i).cast(pa.string()))
    return table


def _frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as pandas, text staying Arrow strings."""
    text = (pa.string(), pa.large_string())
    return table.to_pandas(types_mapper=lambda t: STRING if t in text else None)


def _first_rows(table: pa.Table, keys: list[str]) -> np.ndarray:
    """The position of the first row of each distinct combination of ``keys``."""
    rows = table.select(keys).append_column("_row", pa.array(np.arange(table.num_rows)))
    return rows.group_by(keys, use_threads=False).aggregate([("_row", "min")]).column("_row_min").to_numpy()


def _bulk_globals(table: pa.Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sources and market declarations of bulk tables (one row per file and distinct one)."""
    src_cols = {
        "source_id": "source_id",
        "title": "source_title",
        "publisher": "source_publisher",
        "published": "source_published",
        "url": "source_url",
        "kind": "source_kind",
    }
    market_cols = ["market", "market_label", "parent_market", "region", "modality"]
    # Only the first row of each distinct declaration is needed: found by Arrow's hash
    # grouping, so a file of a million rows is never a million-row pandas frame here.
    firsts = np.union1d(
        _first_rows(table, [*src_cols.values(), "_fileno"]), _first_rows(table, [*market_cols, "_fileno"])
    )
    frame = _frame(table.select([*src_cols.values(), *market_cols, "claim_id", "_line", "_file", "_sha"]).take(firsts))
    frame["_file"] = frame["_file"].astype(STRING)
    frame["_sha"] = frame["_sha"].astype(STRING)

    def const(value: str | None, rows: pd.Index) -> pd.Series:
        return pd.Series(value if value is not None else pd.NA, index=rows, dtype=STRING)

    # One source per distinct metadata; rows that disagree are reported by validation.
    sub = frame.loc[~frame[[*src_cols.values(), "_file"]].duplicated()]
    sources = pd.DataFrame({k: sub[v] for k, v in src_cols.items()})
    sources["kind"] = sources["kind"].mask(sources["kind"] == "", "report")
    sources["url"] = sources["url"].mask(sources["url"] == "")
    sources = sources.assign(file=sub["_file"], line=sub["_line"], sha256=sub["_sha"])
    sources["format"] = const("table", sub.index)
    for col in SOURCE_COLUMNS:
        if col not in sources:
            sources[col] = const(None, sub.index)

    sub = frame.loc[~frame[[*market_cols, "_file"]].duplicated()]
    markets = pd.DataFrame(
        {
            "file": sub["_file"],
            "line": sub["_line"],
            "market_id": sub["market"],
            "label": sub["market_label"].mask(sub["market_label"] == "", sub["market"]),
            "parent": sub["parent_market"].mask(sub["parent_market"] == ""),
            "region": sub["region"].mask(sub["region"] == ""),
            "modality": sub["modality"].mask(sub["modality"] == ""),
            "comparable_to": const(None, sub.index),
            "note": const(None, sub.index),
            "explicit": (sub["market_label"] != "").to_numpy(bool),
            "claim": sub["claim_id"],
        }
    )
    return sources[SOURCE_COLUMNS].reset_index(drop=True), markets[MARKET_COLUMNS].reset_index(drop=True)


def _bulk_claims(table: pa.Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The claims and figures of (a slice of) a bulk table (vectorised: no per-row Python).

    Every column is typed (Arrow strings, floats): an untyped all-missing column would make
    pandas inspect each of its million cells when frames are combined.
    """
    frame = _frame(table.drop_columns(["_sha", "_fileno"]))
    index = frame.index
    line = frame["_line"]
    ref = frame["_ref"]
    file = frame["_file"].astype(STRING)

    def const(value: str | None, rows: pd.Index = index) -> pd.Series:
        return pd.Series(value if value is not None else pd.NA, index=rows, dtype=STRING)

    def nan(rows: pd.Index = index) -> pd.Series:
        return pd.Series(np.nan, index=rows, dtype=float)

    def blank_none(col: str) -> pd.Series:
        return frame[col].mask(frame[col] == "")

    claims = pd.DataFrame(
        {
            "ref": ref,
            "file": file,
            "line": line,
            "source_id": frame["source_id"],
            "claim": frame["claim_id"],
            "kind": frame["kind"],
            "market": frame["market"],
            "currency": frame["currency"],
            "population": const(None),
            "note": blank_none("note"),
            "confidence": blank_none("confidence"),
            "paragraph": nan(),
            "locator_text": const(None),
            "position": line,
        }
    )

    def role(name: str, prefix: str, value_col: str, year_col: str) -> pd.DataFrame:
        # A row states a value when any of its columns is filled: a year without its value is
        # still a mistake worth naming, so it is kept for validation to report.
        is_cagr = name == "cagr"
        present = ((frame[value_col] != "") | (frame[year_col] != "")).to_numpy(bool)
        if is_cagr:
            present |= (frame["cagr_to"] != "").to_numpy(bool)
        # Only the columns this role reads: the frame has two dozen.
        cols = ["source_id", "claim_id", value_col, year_col]
        cols += ["cagr_to"] if is_cagr else [f"{prefix}_scale", f"{prefix}_qualifier"]
        sub = frame.loc[present, list(dict.fromkeys(cols))]
        rows = sub.index
        none = const(None, rows)
        return pd.DataFrame(
            {
                "ref": ref[present],
                "file": file[present],
                "line": line[present],
                "source_id": sub["source_id"],
                "claim": sub["claim_id"],
                "role": const(name, rows),
                "idx": np.zeros(len(sub), dtype=np.int64),
                "year": none if is_cagr else sub[year_col],
                "value": sub[value_col],
                "scale": none if is_cagr else sub[f"{prefix}_scale"],
                "qualifier": none if is_cagr else sub[f"{prefix}_qualifier"],
                "period_from": sub["cagr_from"] if is_cagr else none,
                "period_to": sub["cagr_to"] if is_cagr else none,
                "paragraph": nan(rows),
                "locator_text": none,
                "locator_start": nan(rows),
                "locator_end": nan(rows),
                "f_year": const(year_col, rows),
                "f_value": const(value_col, rows),
                "f_scale": const(f"{prefix}_scale", rows),
                "f_qualifier": const(f"{prefix}_qualifier", rows),
                "f_period": const("cagr_from" if is_cagr else "", rows),
            },
            index=rows,
        )

    parts = [
        role("start", "start", "start_value", "start_year"),
        role("point", "point", "point_value", "point_year"),
        role("end", "end", "end_value", "end_year"),
        role("cagr", "cagr", "cagr", "cagr_from"),
    ]
    figures = _concat([p for p in parts if not p.empty] or parts[:1])
    return claims[CLAIM_COLUMNS], figures[FIGURE_COLUMNS]
