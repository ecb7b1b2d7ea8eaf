"""The Dagster definitions: a thin list of what ``cdmo_pipeline.defs`` declares."""

import dagster as dg

from cdmo_pipeline.defs import assets
from cdmo_pipeline.defs.jobs import refresh_job
from cdmo_pipeline.defs.resources import default_resources
from cdmo_pipeline.defs.schedules import daily_refresh
from cdmo_pipeline.defs.sensors import source_files_sensor

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([assets]),
    jobs=[refresh_job],
    schedules=[daily_refresh],
    sensors=[source_files_sensor],
    resources=default_resources(),
)
