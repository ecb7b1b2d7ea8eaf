"""Asset checks: what each check is, and how its result reads in the UI.

- ``<table>_schema`` (blocking, error): the table matches its pandera model. A failure stops
  the refresh before anything is published.
- ``cagr_consistency`` (warning): every stated CAGR follows from its endpoints — the pandera
  soft check of ``cagr_checks``. An inconsistent claim is a finding about a source, published
  with its verdict; the evidence (intervals, gap, hint) is in the metadata.
- ``segment_shares_plausible`` (warning): no segment exceeds its parent market.
- ``warehouse_readback`` (error): the published file holds this refresh, every table with
  its row count.
"""

import dagster as dg
import pandas as pd

from cdmo_pipeline.core.tables import TABLE_NAMES
from cdmo_pipeline.defs.metadata import markdown_table
from cdmo_pipeline.warehouse import Receipt, Warehouse

MAX_LISTED = 50

SCHEMA_CHECKS = {
    name: dg.AssetCheckSpec(
        f"{name}_schema",
        asset=name,
        blocking=True,
        description=f"`{name}` matches its pandera model: columns, types, keys and invariants (blocks publishing).",
    )
    for name in TABLE_NAMES
}
CAGR_CONSISTENCY = dg.AssetCheckSpec(
    "cagr_consistency",
    asset="cagr_checks",
    description="Every stated CAGR follows from its endpoints; warns listing those that do not, with evidence.",
)
SHARES_PLAUSIBLE = dg.AssetCheckSpec(
    "segment_shares_plausible",
    asset="segment_shares",
    description="No segment exceeds its parent market; warns listing those that may.",
)
WAREHOUSE_READBACK = dg.AssetCheckSpec(
    "warehouse_readback",
    asset="warehouse",
    description="The published file reads back: this refresh recorded, every table with its row count.",
)
TEXT_COVERAGE = dg.AssetCheckSpec(
    "text_coverage",
    asset="sources",
    description="Every number of a source's named text is in a claim, unassigned or ignored; warns listing the rest.",
)
ALL_CHECKS = [*SCHEMA_CHECKS.values(), CAGR_CONSISTENCY, SHARES_PLAUSIBLE, WAREHOUSE_READBACK, TEXT_COVERAGE]

EVIDENCE = [
    "claim_id",
    "start_year",
    "end_year",
    "stated_cagr_literal",
    "stated_low",
    "stated_high",
    "implied_cagr",
    "implied_low",
    "implied_high",
    "gap_pp",
    "reading",
    "hint",
]


def schema_result(name: str, rows: int, failures: pd.DataFrame | None) -> dg.AssetCheckResult:
    spec = SCHEMA_CHECKS[name]
    if failures is None:
        return dg.AssetCheckResult(asset_key=spec.asset_key, check_name=spec.name, passed=True, metadata={"rows": rows})
    summary = failures.groupby(["column", "check"], dropna=False).size().reset_index(name="cases")
    return dg.AssetCheckResult(
        asset_key=spec.asset_key,
        check_name=spec.name,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(failures)} failure case(s) in `{name}`; nothing was published.",
        metadata={
            "failed_checks": dg.MetadataValue.md(markdown_table(summary, max_rows=MAX_LISTED)),
            "failure_cases": dg.MetadataValue.md(markdown_table(failures.astype(str), max_rows=MAX_LISTED)),
        },
    )


def _warning(spec: dg.AssetCheckSpec, passed: bool, metadata: dict, description: str) -> dg.AssetCheckResult:
    """A finding about the sources: published with the data, so a failure warns, never blocks."""
    return dg.AssetCheckResult(
        asset_key=spec.asset_key,
        check_name=spec.name,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if passed else description,
        metadata=metadata,
    )


def consistency_result(failing: pd.DataFrame, verdicts: pd.Series) -> dg.AssetCheckResult:
    """``failing``: the rows of cagr_checks failing its soft check (pandera's own failure cases)."""
    metadata: dict[str, object] = {f"n_{k}": int(v) for k, v in sorted(verdicts.items())}
    if not failing.empty:
        evidence = failing[EVIDENCE].sort_values("gap_pp", ascending=False)
        metadata |= {
            "inconsistent_claims": dg.MetadataValue.json(evidence["claim_id"].tolist()[:500]),
            "evidence": dg.MetadataValue.md(markdown_table(evidence, max_rows=MAX_LISTED)),
        }
    return _warning(
        CAGR_CONSISTENCY,
        failing.empty,
        metadata,
        f"{len(failing)} stated CAGR(s) do not follow from their endpoints (published with their verdict).",
    )


def shares_result(odd: pd.DataFrame, rows: int) -> dg.AssetCheckResult:
    """``odd``: the segment shares whose verdict is not plausible."""
    metadata: dict[str, object] = {"rows": rows}
    if not odd.empty:
        metadata = {"rows": dg.MetadataValue.md(markdown_table(odd, max_rows=MAX_LISTED))}
    return _warning(SHARES_PLAUSIBLE, odd.empty, metadata, f"{len(odd)} segment share(s) may exceed the parent market.")


def readback_result(warehouse: Warehouse, receipt: Receipt) -> dg.AssetCheckResult:
    """Independent of the publish's own verification: a fresh read-only connection."""
    with warehouse.reader() as con:
        latest = con.execute("SELECT refresh_id FROM refreshes ORDER BY published_at DESC LIMIT 1").fetchall()
        found = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in receipt.row_counts}
    ok = bool(latest) and latest[0][0] == receipt.refresh_id and found == receipt.row_counts
    return dg.AssetCheckResult(
        asset_key=WAREHOUSE_READBACK.asset_key,
        check_name=WAREHOUSE_READBACK.name,
        passed=ok,
        metadata={"refresh_id": receipt.refresh_id, "row_counts": dg.MetadataValue.json(found)},
    )


def coverage_result(uncovered: pd.DataFrame, n_texts: int) -> dg.AssetCheckResult:
    metadata: dict[str, object] = {"texts_checked": n_texts}
    if not uncovered.empty:
        metadata["numbers"] = dg.MetadataValue.md(markdown_table(uncovered, max_rows=MAX_LISTED))
    unreadable = uncovered["problem"].str.startswith("cannot read", na=False)
    parts = []
    if unreadable.any():
        parts.append(
            f"{int(unreadable.sum())} text file(s) cannot be read ({', '.join(uncovered.loc[unreadable, 'text_file'])})"
        )
    if (~unreadable).any():
        parts.append(f"{int((~unreadable).sum())} number(s) of the sources' texts are not accounted for")
    return _warning(TEXT_COVERAGE, uncovered.empty, metadata, "; ".join(parts) + ".")
