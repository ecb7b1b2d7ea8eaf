"""The refresh: every asset and check, in one process (multiprocess is ~4x slower here)."""

import dagster as dg

refresh_job = dg.define_asset_job(
    name="refresh",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Read, check, derive, project and publish every source: the whole refresh.",
)
