"""The analyst's outputs: the audit report (Markdown and HTML) and the projection charts.

Pure functions of the published tables; the Dagster assets and the ``cdmo report`` command
call them.
"""

from cdmo_pipeline.reporting.charts import chart_markets, projection_chart, write_charts
from cdmo_pipeline.reporting.report import (
    DETAIL_LIMIT,
    in_focus,
    load_tables,
    render_html,
    render_markdown,
    write_report,
)

__all__ = [
    "DETAIL_LIMIT",
    "chart_markets",
    "in_focus",
    "load_tables",
    "projection_chart",
    "render_html",
    "render_markdown",
    "write_charts",
    "write_report",
]
