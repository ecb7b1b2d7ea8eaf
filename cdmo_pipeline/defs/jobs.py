"""The refresh: every asset and check, in one process by default (multiprocess is ~4x slower
here: every step would pay a process start and the import of the stack). CDMO_EXECUTOR picks
another executor; see the README's "Past one machine" for Celery and Kubernetes."""

import dagster as dg

from cdmo_pipeline.config import Settings

EXECUTORS = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}

refresh_job = dg.define_asset_job(
    name="refresh",
    selection=dg.AssetSelection.all(),
    executor_def=EXECUTORS[Settings.from_env().executor],
    description="Read, check, derive, project and publish every source, then the reports: the whole refresh.",
)
