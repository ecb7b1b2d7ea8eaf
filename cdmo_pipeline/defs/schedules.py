"""A daily refresh, on by default when the Dagster daemon runs."""

import dagster as dg

from cdmo_pipeline.defs.jobs import refresh_job

daily_refresh = dg.ScheduleDefinition(
    name="daily_refresh",
    job=refresh_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refresh the warehouse every day at 06:00 UTC.",
    tags={"cdmo/trigger": "schedule"},
)
