"""The refresh without Dagster: prepare (load, validate, build, audit), then publish.

The Dagster op calls these same two functions (and reports their results as asset checks);
tests, benchmarks and ``cdmo audit`` call them directly.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cdmo_pipeline.core import audit, tables
from cdmo_pipeline.warehouse import Receipt, Warehouse


@dataclass
class Prepared:
    """Every table of a refresh, built and audited, not yet published."""

    tables: dict[str, pd.DataFrame]
    report: audit.AuditReport


def prepare(sources_dir: Path, horizon: int | None = None) -> Prepared:
    """Load and validate the sources, build every table, audit them (raises on bad input)."""
    corpus = tables.load_corpus(sources_dir)
    built = dict(tables.build_tables(corpus, horizon).items())
    return Prepared(built, audit.audit(built))


def publish(
    prepared: Prepared,
    warehouse: Warehouse,
    *,
    run_id: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> Receipt:
    """Publish the prepared tables as one snapshot, only if the audit passed."""
    prepared.report.raise_if_failed()
    return warehouse.publish(prepared.tables, sources=prepared.tables["sources"], run_id=run_id, on_step=on_step)


def refresh(sources_dir: Path, warehouse: Warehouse, horizon: int | None = None) -> Receipt:
    """The whole refresh in one call."""
    return publish(prepare(sources_dir, horizon), warehouse)
