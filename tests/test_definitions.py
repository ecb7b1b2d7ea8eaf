"""The Dagster definitions load with their assets, checks, job, schedule and sensor."""

import dagster as dg
import pytest

from cdmo_pipeline.core.tables import TABLE_NAMES


@pytest.fixture
def defs(isolated_env, monkeypatch):
    import importlib

    import cdmo_pipeline.definitions as module

    return importlib.reload(module).defs


def test_assets_groups_kinds_and_descriptions(defs) -> None:
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert set(TABLE_NAMES) | {"warehouse"} <= keys
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, key
        assert node.group_name in {"sources", "audit", "projections", "reconcile", "publish", "reports"}, key
        assert node.kinds, key
    assert graph.get(dg.AssetKey("warehouse")).group_name == "publish"
    assert "duckdb" in graph.get(dg.AssetKey("warehouse")).kinds


def test_checks_blocking_schemas_and_warning_findings(defs) -> None:
    specs = {spec.name: spec for spec in _specs(defs)}
    for name in TABLE_NAMES:
        assert specs[f"{name}_schema"].blocking
    assert not specs["cagr_consistency"].blocking
    assert specs["cagr_consistency"].asset_key == dg.AssetKey("cagr_checks")
    assert "warehouse_readback" in specs


def _specs(defs):
    out = []
    for asset in defs.assets:
        out.extend(asset.check_specs)
    return out


def test_job_schedule_and_sensor(defs) -> None:
    job = defs.resolve_job_def("refresh")
    assert job.executor_def.name == "in_process"
    schedule = defs.resolve_schedule_def("daily_refresh")
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    sensor = defs.resolve_sensor_def("source_files_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.job_name == "refresh"


def test_sensor_fires_on_added_changed_and_removed_files(defs, article_dir, isolated_env, tmp_path) -> None:
    from cdmo_pipeline import pipeline
    from cdmo_pipeline.defs.resources import CdmoSettings, WarehouseResource
    from cdmo_pipeline.defs.sensors import source_files_sensor
    from cdmo_pipeline.warehouse import Warehouse

    db = tmp_path / "w.duckdb"
    resources = {
        "settings": CdmoSettings(sources_dir=str(article_dir), reports_dir=str(tmp_path / "r")),
        "warehouse_db": WarehouseResource(path=str(db)),
    }

    def evaluate(cursor=None):
        with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
            result = source_files_sensor(context)
            return result, context.cursor

    first, cursor = evaluate()  # nothing published yet: the article is new
    assert isinstance(first, dg.RunRequest)
    assert first.tags["cdmo/trigger"] == "sensor"
    assert "added cdmo-article-2025.yaml" in first.tags["cdmo/changes"]
    again, _ = evaluate(cursor)
    assert isinstance(again, dg.SkipReason)  # already requested

    pipeline.refresh(article_dir, Warehouse(db))
    up_to_date, _ = evaluate(cursor)
    assert isinstance(up_to_date, dg.SkipReason)

    path = article_dir / "cdmo-article-2025.yaml"
    path.write_text(path.read_text() + "\n# edited\n")
    changed, cursor = evaluate(cursor)
    assert isinstance(changed, dg.RunRequest)
    assert "changed cdmo-article-2025.yaml" in changed.tags["cdmo/changes"]

    path.unlink()
    removed, _ = evaluate(cursor)
    assert isinstance(removed, dg.RunRequest)
    assert "removed cdmo-article-2025.yaml" in removed.tags["cdmo/changes"]
