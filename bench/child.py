"""One measurement, in its own process so that its time and peak memory are its own.

    python -m bench.child MODE [ARGS...]   ->  one JSON line on stdout

Modes: dagster-floor REPEAT | refresh-job REPEAT | pipeline SOURCES DB | floor-sql SOURCES DB | import WHAT
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
