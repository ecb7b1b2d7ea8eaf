"""A sensor that refreshes when a source file is added, changed or removed (by content hash)."""

import datetime as dt
import hashlib
import json

import dagster as dg

from cdmo_pipeline.core.errors import CdmoError
from cdmo_pipeline.core.sources import fingerprint
from cdmo_pipeline.defs.jobs import refresh_job
from cdmo_pipeline.defs.resources import CdmoSettings, WarehouseResource
from cdmo_pipeline.warehouse import Warehouse


def describe_changes(published: dict[str, str], current: dict[str, str]) -> str:
    """'added a.yaml; changed b.yaml; removed c.yaml' between two {file: sha256} maps."""
    added = sorted(set(current) - set(published))
    removed = sorted(set(published) - set(current))
    changed = sorted(f for f in set(current) & set(published) if current[f] != published[f])
    parts = [
        f"{verb} {', '.join(files)}"
        for verb, files in (("added", added), ("changed", changed), ("removed", removed))
        if files
    ]
    return "; ".join(parts) or "no change"


def published_files(warehouse: Warehouse) -> dict[str, str]:
    latest = warehouse.latest_refresh()
    return json.loads(latest["source_files"]) if latest else {}


@dg.sensor(
    job=refresh_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a refresh when the source files differ from those of the published warehouse.",
)
def source_files_sensor(
    context: dg.SensorEvaluationContext, settings: CdmoSettings, warehouse_db: WarehouseResource
) -> dg.RunRequest | dg.SkipReason:
    current = fingerprint(settings.sources_path)
    try:
        # A short wait: the sensor asks again in 30 s if a writer holds the file.
        published = published_files(Warehouse(warehouse_db.path, lock_timeout=2.0))
    except CdmoError as exc:
        return dg.SkipReason(f"cannot read the warehouse yet: {exc}")
    if current == published:
        return dg.SkipReason("the published warehouse is up to date with the source files")
    key = hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:16]
    if context.cursor == key:
        return dg.SkipReason("a refresh for these source files was already requested")
    context.update_cursor(key)
    changes = describe_changes(published, current)
    return dg.RunRequest(
        run_key=f"sources-{key}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}",
        tags={"cdmo/trigger": "sensor", "cdmo/changes": changes[:250]},
    )
