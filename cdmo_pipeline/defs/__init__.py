"""Dagster wiring: assets, checks, resources, jobs, schedules and sensors, one module each.

Nothing here computes: every asset calls a function of ``cdmo_pipeline.core`` (pure
pandas/numpy) or ``cdmo_pipeline.warehouse``, and adds what the UI shows.
"""
