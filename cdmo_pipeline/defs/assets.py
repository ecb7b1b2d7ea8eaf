"""Assets: the published tables, refreshed together in one step, and the warehouse.

The graph in the UI reads sources -> audit -> projections -> publish, one asset per table,
but the tables are computed and published by a single op: they change together or not at
all (DESIGN §7), and one step keeps the framework's per-step cost out of the refresh. Each
table's value lives in the warehouse; its materialization carries the column schema, row
count and first rows. Errors meant for the user become a ``dg.Failure`` whose description is
the whole message, so the UI and the CLI show it without a traceback.
"""

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from cdmo_pipeline import pipeline, reporting, textcoverage
from cdmo_pipeline.core.errors import CdmoError, SourceValidationError
from cdmo_pipeline.defs import checks
from cdmo_pipeline.defs.metadata import markdown_table, table_metadata, table_schema
from cdmo_pipeline.defs.resources import CdmoSettings, WarehouseResource

SOURCES, AUDIT, PROJECTIONS, RECONCILE, PUBLISH = "sources", "audit", "projections", "reconcile", "publish"


@dataclass(frozen=True)
class TableAsset:
    group: str
    kinds: frozenset[str]
    deps: tuple[str, ...]
    description: str


TABLES: dict[str, TableAsset] = {
    "sources": TableAsset(
        SOURCES, frozenset({"yaml", "pandas"}), (), "One row per source: citation, file and SHA-256."
    ),
    "markets": TableAsset(
        SOURCES,
        frozenset({"yaml", "pandas"}),
        (),
        "Declared markets, their parent segments and comparable definitions.",
    ),
    "claims": TableAsset(
        AUDIT,
        frozenset({"pandas"}),
        ("sources", "markets"),
        "One row per claim: market, currency, years, stated CAGR and reading.",
    ),
    "figures": TableAsset(
        AUDIT,
        frozenset({"pandas"}),
        ("claims",),
        "One row per number as written: literal, qualifier, decimals, interval.",
    ),
    "cagr_checks": TableAsset(
        AUDIT,
        frozenset({"pandas", "numpy"}),
        ("claims", "figures"),
        "Each stated CAGR recomputed from its endpoints: intervals, verdict, gap, hint.",
    ),
    "implied_figures": TableAsset(
        AUDIT,
        frozenset({"pandas", "numpy"}),
        ("cagr_checks",),
        "What a claim leaves out and the rest determines (a base value, a CAGR), as intervals.",
    ),
    "projections": TableAsset(
        PROJECTIONS,
        frozenset({"pandas", "numpy"}),
        ("cagr_checks", "figures"),
        "Year-by-year paths per claim and basis with low / central / high bands.",
    ),
    "segment_shares": TableAsset(
        PROJECTIONS,
        frozenset({"pandas"}),
        ("projections", "markets"),
        "A segment's share of its parent market per source and year (one currency), as an interval in percent.",
    ),
    "cross_source": TableAsset(
        RECONCILE,
        frozenset({"pandas"}),
        ("figures", "projections", "markets"),
        "Every source's figure per comparable market and year beside the sources' min, median and max.",
    ),
    "claim_origins": TableAsset(
        RECONCILE,
        frozenset({"pandas"}),
        ("figures", "projections"),
        "For each article claim, the published figures it reproduces within rounding, ranked.",
    ),
}

TABLE_SPECS = [
    dg.AssetSpec(
        name,
        group_name=t.group,
        kinds=set(t.kinds),
        deps=list(t.deps),
        description=t.description,
        metadata={"dagster/column_schema": table_schema(name), "dagster/table_name": f"main.{name}"},
    )
    for name, t in TABLES.items()
]

WAREHOUSE_SPEC = dg.AssetSpec(
    "warehouse",
    group_name=PUBLISH,
    kinds={"duckdb"},
    deps=list(TABLES),
    description="Every table audited, then published to DuckDB together as one snapshot, or not at all.",
)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn a CdmoError into a Dagster Failure that carries the message, not a traceback."""
    try:
        yield
    except SourceValidationError as exc:
        raise dg.Failure(
            description=f"{exc}\n{exc.hint}",
            metadata={"problems": dg.MetadataValue.md(markdown_table(exc.as_frame(), max_rows=200))},
            allow_retries=False,
        ) from None
    except CdmoError as exc:
        raise dg.Failure(description=f"{exc}\n{exc.hint}".strip(), allow_retries=False) from None


@dg.multi_asset(
    name="refresh_tables",
    specs=[*TABLE_SPECS, WAREHOUSE_SPEC],
    check_specs=checks.ALL_CHECKS,
    can_subset=False,
    description="Read and validate the sources, check, derive, project, audit, and publish all tables at once.",
)
def refresh_tables(
    context: dg.AssetExecutionContext, settings: CdmoSettings, warehouse_db: WarehouseResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    with user_errors():
        try:
            outcome = pipeline.run(
                settings.sources_path,
                warehouse_db.get(),
                settings.horizon,
                chunk_claims=settings.chunk_claims,
                parquet_dir=settings.parquet_dir,
                run_id=context.run.run_id,
                on_step=lambda s: context.log.info(s),
            )
        except pipeline.RefreshAuditError as exc:
            for name, failures in exc.report.schema_failures.items():
                yield checks.schema_result(name, 0, failures)
            raise
    receipt = outcome.receipt
    for name, failures in outcome.report.schema_failures.items():
        yield checks.schema_result(name, receipt.row_counts[name], failures)
    for name, preview in outcome.previews.items():
        yield dg.MaterializeResult(asset_key=name, metadata=table_metadata(name, preview, receipt.row_counts[name]))
    files = outcome.sources[["file", "format", "source_id", "sha256"]].sort_values("file")
    counts = pd.DataFrame(
        {
            "table": list(receipt.row_counts),
            "rows": list(receipt.row_counts.values()),
            "content_hash": [receipt.table_hashes[t] for t in receipt.row_counts],
        }
    )
    yield dg.MaterializeResult(
        asset_key="warehouse",
        metadata={
            "path": dg.MetadataValue.path(str(receipt.path)),
            "refresh_id": receipt.refresh_id,
            "published_at": receipt.published_at,
            "sources_dir": dg.MetadataValue.path(str(settings.sources_path)),
            "source_files": dg.MetadataValue.md(markdown_table(files, max_rows=500)),
            "tables": dg.MetadataValue.md(markdown_table(counts, max_rows=50)),
            "dagster/row_count": int(sum(receipt.row_counts.values())),
        },
    )
    yield checks.consistency_result(outcome.inconsistent, outcome.verdicts)
    with_text = outcome.sources.loc[outcome.sources["text"].notna()]
    yield checks.coverage_result(textcoverage.uncovered_numbers(settings.sources_path, with_text), len(with_text))
    yield checks.shares_result(outcome.implausible_shares, receipt.row_counts["segment_shares"])
    yield checks.readback_result(warehouse_db.get(), receipt)


REPORTS = "reports"
REPORT_SPECS = [
    dg.AssetSpec(
        "audit_report",
        group_name=REPORTS,
        kinds={"markdown", "html"},
        deps=["warehouse"],
        description="The audit report, per source and claim in words, as Markdown and HTML under the reports folder.",
    ),
    dg.AssetSpec(
        "projection_charts",
        group_name=REPORTS,
        kinds={"matplotlib"},
        deps=["warehouse"],
        description="A projection chart per market: each source's path, band and stated figures (PNG).",
    ),
]
CHARTS_IN_UI = 12


@dg.multi_asset(
    name="reports",
    specs=REPORT_SPECS,
    can_subset=False,
    description="Read the published warehouse (read-only) and write the audit report and the charts.",
)
def reports(settings: CdmoSettings, warehouse_db: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    with user_errors():
        with warehouse_db.get().reader() as con:
            published = reporting.load_tables(con)
        charts = reporting.write_charts(published, settings.reports_path, reporting.chart_markets(published))
        paths = reporting.write_report(published, settings.reports_path, charts)
        # The UI shows the report without each publisher's section (the file has them all).
        large = reporting.in_focus(published)  # then the file is that already
        preview = paths["markdown"].read_text() if large else reporting.render_markdown(published, reports=False)
    yield dg.MaterializeResult(
        asset_key="audit_report",
        metadata={
            "html": dg.MetadataValue.path(str(paths["html"])),
            "markdown": dg.MetadataValue.path(str(paths["markdown"])),
            "report": dg.MetadataValue.md(preview),
        },
    )
    images = {
        f"chart: {market}": dg.MetadataValue.md(
            f"![{market}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})"
        )
        for market, path in list(charts.items())[:CHARTS_IN_UI]
    }
    files = pd.DataFrame({"market_id": list(charts), "file": [str(p) for p in charts.values()]})
    yield dg.MaterializeResult(
        asset_key="projection_charts",
        metadata={"files": dg.MetadataValue.md(markdown_table(files, max_rows=100)), "n_charts": len(charts), **images},
    )
