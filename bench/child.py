"""One measurement, in its own process so that its time and peak memory are its own.

    python -m bench.child MODE [ARGS...]   ->  one JSON line on stdout

Modes: dagster-floor REPEAT | dagster-shape REPEAT | refresh-job REPEAT | pipeline SOURCES DB
     | floor-sql SOURCES DB | import WHAT
"""

import json
import os
import resource
import sys
import time


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_job(job_name: str, defs: object, repeat: int) -> list[float]:
    import dagster as dg

    job = defs.resolve_job_def(job_name)
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    times = []
    with dg.DagsterInstance.get() as instance:
        for _ in range(repeat):
            started = time.perf_counter()
            result = job.execute_in_process(instance=instance, run_config=quiet, raise_on_error=True)
            times.append(time.perf_counter() - started)
            assert result.success
    return times


def shape_definitions() -> object:
    """The refresh job's own graph (its assets, checks and the reports step, from the same
    specs) with bodies that do nothing: what Dagster's bookkeeping costs for this shape alone."""
    import dagster as dg

    from cdmo_pipeline.defs import assets, checks

    @dg.multi_asset(name="refresh_tables", specs=[*assets.TABLE_SPECS, assets.WAREHOUSE_SPEC],
                    check_specs=checks.ALL_CHECKS, can_subset=False)  # fmt: skip
    def refresh_tables() -> object:
        for spec in [*assets.TABLE_SPECS, assets.WAREHOUSE_SPEC]:
            yield dg.MaterializeResult(asset_key=spec.key)
        for check in checks.ALL_CHECKS:
            yield dg.AssetCheckResult(asset_key=check.asset_key, check_name=check.name, passed=True)

    @dg.multi_asset(name="reports", specs=assets.REPORT_SPECS, can_subset=False)
    def reports() -> object:
        for spec in assets.REPORT_SPECS:
            yield dg.MaterializeResult(asset_key=spec.key)

    job = dg.define_asset_job("refresh", executor_def=dg.in_process_executor)
    return dg.Definitions(assets=[refresh_tables, reports], jobs=[job])


def main(mode: str, *args: str) -> dict[str, object]:
    if mode == "dagster-floor":
        import dagster as dg

        @dg.asset
        def trivial() -> int:
            return 1

        defs = dg.Definitions(
            assets=[trivial], jobs=[dg.define_asset_job("floor", executor_def=dg.in_process_executor)]
        )
        return {"times": run_job("floor", defs, int(args[0]))}
    if mode == "dagster-shape":
        return {"times": run_job("refresh", shape_definitions(), int(args[0]))}
    if mode == "refresh-job":
        from cdmo_pipeline.definitions import defs

        return {"times": run_job("refresh", defs, int(args[0]))}
    if mode == "pipeline":
        from pathlib import Path

        from cdmo_pipeline import pipeline
        from cdmo_pipeline.warehouse import Warehouse

        Path(args[1]).unlink(missing_ok=True)
        started = time.perf_counter()
        outcome = pipeline.run(Path(args[0]), Warehouse(args[1]))
        return {"times": [time.perf_counter() - started], "rows": sum(outcome.receipt.row_counts.values())}
    if mode == "floor-sql":
        from pathlib import Path

        from bench import floor

        started = time.perf_counter()
        result = floor.run(Path(args[0]), Path(args[1]))
        rows = sum(v for k, v in result.items() if k.startswith("rows_"))
        return {"times": [time.perf_counter() - started], "rows": rows, "steps": result}
    if mode == "import":
        started = time.perf_counter()
        if args[0] == "definitions":
            import cdmo_pipeline.definitions  # noqa: F401
        else:
            import dagster  # noqa: F401
            import duckdb  # noqa: F401
            import pandas  # noqa: F401
            import pandera.pandas  # noqa: F401
        return {"times": [time.perf_counter() - started]}
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    out = main(sys.argv[1], *sys.argv[2:])
    out["peak_mb"] = peak_mb()
    print(json.dumps(out))
