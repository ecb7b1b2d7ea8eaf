"""Resources: where sources are read, where the warehouse lives, and how intermediate tables are kept."""

from pathlib import Path

import dagster as dg

from cdmo_pipeline.config import CHUNK_CLAIMS, Settings
from cdmo_pipeline.warehouse import Warehouse


class CdmoSettings(dg.ConfigurableResource):
    """Sources directory and projection horizon (defaults from CDMO_* environment variables)."""

    sources_dir: str
    reports_dir: str
    horizon: int | None = None
    chunk_claims: int = CHUNK_CLAIMS
    parquet_dir: str | None = None

    @property
    def sources_path(self) -> Path:
        return Path(self.sources_dir)

    @property
    def reports_path(self) -> Path:
        return Path(self.reports_dir)


class WarehouseResource(dg.ConfigurableResource):
    """The published DuckDB warehouse (CDMO_DUCKDB_PATH).

    Not dagster-duckdb's DuckDBResource: that opens the file read-write and writes in place,
    while publishing here swaps a complete snapshot so readers never see half a refresh
    (see ``cdmo_pipeline.warehouse``).
    """

    path: str
    lock_timeout: float = 30.0

    def get(self) -> Warehouse:
        return Warehouse(self.path, lock_timeout=self.lock_timeout)


def default_resources(settings: Settings | None = None) -> dict[str, object]:
    settings = settings or Settings.from_env()
    return {
        "settings": CdmoSettings(
            sources_dir=str(settings.sources_dir),
            reports_dir=str(settings.reports_dir),
            horizon=settings.horizon,
            chunk_claims=settings.chunk_claims,
            parquet_dir=settings.parquet_dir,
        ),
        "warehouse_db": WarehouseResource(path=str(settings.duckdb_path), lock_timeout=settings.lock_timeout),
    }
