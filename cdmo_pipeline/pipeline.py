"""The refresh without Dagster: load, validate, build, audit and publish, chunk by chunk.

Sources are read once (bulk tables as compact Arrow tables); the rules across files (source
ids, markets) are checked first; then the claims are processed a chunk of whole sources at a
time — validated, checked, derived, projected, audited and appended to the new snapshot — so
memory follows the chunk, not the corpus. The tables across sources (cross_source,
claim_origins) are built last from what the chunks kept. Nothing is published unless every
chunk and every table passed: the snapshot is committed at the very end, or discarded.

The Dagster op runs exactly this; tests and benchmarks call it directly.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from cdmo_pipeline.config import CHUNK_CLAIMS
from cdmo_pipeline.core import audit, reconcile, sources, tables
from cdmo_pipeline.core.errors import AuditError, SourceValidationError
from cdmo_pipeline.core.frames import STRING
from cdmo_pipeline.core.memory import collecting_new_objects_only, release_memory
from cdmo_pipeline.core.schemas import soft_failures
from cdmo_pipeline.core.validate import Corpus, Rules, no_claims, validate_claims, validate_globals
from cdmo_pipeline.warehouse import Receipt, Warehouse

PREVIEW_ROWS = 10


@dataclass
class Prepared:
    """Every table of a refresh, built and audited in memory, not yet published."""

    tables: dict[str, pd.DataFrame]
    report: audit.AuditReport


def prepare(sources_dir: Path, horizon: int | None = None) -> Prepared:
    """Load and validate the sources, build every table in memory, audit them."""
    corpus = tables.load_corpus(sources_dir)
    built = dict(tables.build_tables(corpus, horizon).items())
    return Prepared(built, audit.audit(built))


@dataclass
class Outcome:
    """What a refresh published: the receipt, the audit, the first rows of each table, the
    sources, and the findings about sources (for the UI's checks)."""

    receipt: Receipt
    report: audit.AuditReport
    previews: dict[str, pd.DataFrame] = field(default_factory=dict)
    sources: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdicts: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    inconsistent: pd.DataFrame = field(default_factory=pd.DataFrame)
    implausible_shares: pd.DataFrame = field(default_factory=pd.DataFrame)


class RefreshAuditError(AuditError):
    """The audit failed: nothing was published. Carries the report for the asset checks."""

    def __init__(self, report: audit.AuditReport) -> None:
        self.report = report
        super().__init__("the audit before publishing failed:\n" + "\n".join(f"  - {p}" for p in report.problems()))


def refresh(sources_dir: Path, warehouse: Warehouse, horizon: int | None = None, **options: object) -> Receipt:
    """The whole refresh in one call; the receipt of what was published."""
    return run(sources_dir, warehouse, horizon, **options).receipt


@collecting_new_objects_only()
def run(
    sources_dir: Path,
    warehouse: Warehouse,
    horizon: int | None = None,
    *,
    chunk_claims: int = CHUNK_CLAIMS,
    run_id: str | None = None,
    on_step: Callable[[str], None] | None = None,
    parquet_dir: str | None = None,
) -> Outcome:
    """The whole refresh: publishes every table as one snapshot, or raises and publishes nothing.

    ``parquet_dir`` also exports the published snapshot as Parquet (a directory or an object
    store URI), for readers that do not speak DuckDB's file format.
    """
    step = on_step or (lambda _name: None)
    # Arrow's default allocator (mimalloc) keeps freed pages for reuse, so resident memory
    # only grows chunk after chunk; the system allocator gives them back at ``release_memory``.
    pa.set_memory_pool(pa.system_memory_pool())
    step("read")
    plan = sources.plan(Path(sources_dir))
    rules = Rules()
    source_rows, market_rows = validate_globals(plan.sources, plan.markets, rules)
    corpus = Corpus(source_rows, market_rows, pd.DataFrame(), pd.DataFrame(), plan.extras)
    markets = tables.markets_table(corpus)
    keys = audit.Keys.of(source_rows, markets)  # hashed once, checked against every chunk
    # Source and market ids kept across chunks as codes into the ids known up front: a
    # million claims' ids then cost an integer each, and chunks combine without re-encoding.
    market_ids = _ids(keys.markets)
    ids = {"source_id": _ids(keys.sources), "market_id": market_ids, "source_market_id": market_ids}
    # Claims of articles are traced to reports (claim_origins), which needs each claim's path.
    has_articles = bool(reconcile.is_subject(source_rows).any())
    report = audit.AuditReport({}, {})
    previews: dict[str, pd.DataFrame] = {}
    kept: dict[str, list[pd.DataFrame]] = {
        "claims": [], "figures": [], "stated": [], "paths": [], "inconsistent": [], "shares": [],
    }  # fmt: skip
    verdicts = pd.Series(dtype="int64")
    n_kept = 0
    with warehouse.snapshot(run_id=run_id, on_step=step) as snap:
        for i, raw in enumerate(plan.chunks(chunk_claims)):
            step(f"chunk {i + 1}: {len(raw.claims):,} claims")
            claims, figures = validate_claims(raw, source_rows, market_rows, rules)
            if rules.issues:
                continue  # keep validating the other chunks: one refresh lists every problem
            built, proj = tables.build_chunk(
                Corpus(source_rows, market_rows, claims, figures, plan.extras), markets, horizon
            )
            report.merge(audit.audit(built, complete=False))
            report.merge(audit.AuditReport({}, audit.resolution_invariants(keys, built)))
            if not report.ok:
                continue
            for name, df in built.items():
                snap.append(name, df)
                previews.setdefault(name, df.head(PREVIEW_ROWS))
            kept["claims"].append(_compact(built["claims"][tables.RECONCILE_CLAIM_COLUMNS], ids))
            kept["stated"].append(_compact(reconcile.stated_values(built["figures"], built["claims"], n_kept), ids))
            verdicts = verdicts.add(built["cagr_checks"]["verdict"].astype(str).value_counts(), fill_value=0)
            kept["inconsistent"].append(
                soft_failures("cagr_checks", built["cagr_checks"])["stated_cagr_matches_endpoints"]
            )
            shares = built["segment_shares"]
            kept["shares"].append(shares.loc[(shares["verdict"] != "plausible").to_numpy(bool)])
            if has_articles:
                # Tracing articles' claims to reports needs every figure and path; a path is
                # kept as numbers, its claim as its row in the claims kept.
                kept["figures"].append(reconcile.trace_figures(built["figures"], built["claims"]["claim_id"], n_kept))
                kept["paths"].append(reconcile.claim_paths(proj, built["claims"]["claim_id"], n_kept))
            n_kept += len(built["claims"])
            n_claims = len(raw.claims)
            del built, proj, claims, figures, raw
            release_memory(n_claims)
        if not kept["claims"] and not rules.issues and report.ok:
            rules.issues.append(no_claims(plan.directory))
        if rules.issues:
            raise SourceValidationError(rules.issues)
        if not report.ok:
            raise RefreshAuditError(report)
        step("reconcile")
        # Each kept table as one frame, its chunks let go as it is made.
        claims_all = _combined(kept, "claims", pd.DataFrame)
        core = {
            "sources": tables.sources_table(corpus, claims_all.groupby("source_id", observed=True).size()),
            "markets": markets,
            "claims": claims_all,
        }
        keys = keys.with_claims(claims_all)
        report.merge(audit.AuditReport({}, audit.corpus_invariants(core["sources"], markets, claims_all, keys)))
        across = {"sources": core["sources"], "markets": markets}

        def stage(name: str, batches: Iterator[pd.DataFrame]) -> None:
            """The tables across sources come in batches (market groups; subject claims),
            each audited and appended as it comes: memory follows the batch."""
            for batch in batches:
                part = {name: batch}
                report.merge(audit.audit(part, complete=False))
                report.merge(audit.AuditReport({}, audit.resolution_invariants(keys, part)))
                snap.append(name, batch)
                previews.setdefault(name, batch.head(PREVIEW_ROWS))

        stage(
            "cross_source", reconcile.cross_source_batches(core, _combined(kept, "stated", pd.DataFrame), chunk_claims)
        )
        # The trace alone holds the kept figures and paths, and lets them go once numbered.
        traced = reconcile.claim_origins_batches(
            {**core, "figures": _combined(kept, "figures", pd.DataFrame)}, _combined(kept, "paths", reconcile.no_paths)
        )
        stage("claim_origins", traced)
        report.merge(audit.audit(across, complete=False))
        report.merge(audit.AuditReport({}, audit.resolution_invariants(keys, across)))
        del core, claims_all, traced
        if not report.ok:
            raise RefreshAuditError(report)
        for name, df in across.items():
            snap.append(name, df)
            previews[name] = df.head(PREVIEW_ROWS)
        sources_table = across["sources"]
        receipt = snap.commit(sources_table)
    # The refresh's working memory, before whatever runs next in this process.
    release_memory(receipt.row_counts.get("claims", 0))
    if parquet_dir:
        step("export_parquet")
        warehouse.export_parquet(parquet_dir, receipt.refresh_id)
    return Outcome(
        receipt,
        report,
        {name: previews[name] for name in tables.TABLE_NAMES if name in previews},
        sources=sources_table,
        verdicts=verdicts.astype("int64"),
        inconsistent=pd.concat(kept["inconsistent"], ignore_index=True),
        implausible_shares=pd.concat(kept["shares"], ignore_index=True),
    )


def _compact(frame: pd.DataFrame, ids: dict[str, pd.CategoricalDtype]) -> pd.DataFrame:
    """What a refresh keeps for the whole run, kept small: ids as codes, other text as Arrow
    strings (combined without falling back to Python objects)."""
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    return frame.astype({c: ids.get(c, STRING) for c in text})


def _combined(kept: dict[str, list[pd.DataFrame]], name: str, empty: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """The frames a refresh kept of every chunk as one frame; the chunks' own are let go."""
    parts = kept.pop(name)
    return pd.concat(parts, ignore_index=True) if parts else empty()


def _ids(known: pd.Index) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(known.astype(str))


def publish(
    prepared: Prepared,
    warehouse: Warehouse,
    *,
    run_id: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Receipt:
    """Publish tables prepared in memory as one snapshot, only if their audit passed."""
    prepared.report.raise_if_failed()
    return warehouse.publish(prepared.tables, sources=prepared.tables["sources"], run_id=run_id, on_step=on_step)
