"""What the UI shows about a table: its column schema, row count and first rows."""

import dagster as dg
import pandas as pd

from cdmo_pipeline.core.schemas import column_descriptions, column_types

PREVIEW_ROWS = 10


def markdown_table(df: pd.DataFrame, max_rows: int = PREVIEW_ROWS) -> str:
    """A markdown table of the first rows (floats to 4 decimals, missing as blank)."""
    if df.empty:
        return "_no rows_"
    head = df.head(max_rows).copy()
    for col in head.columns:
        if pd.api.types.is_float_dtype(head[col]):
            head[col] = head[col].map(lambda v: "" if pd.isna(v) else f"{v:,.4f}")
    text = head.astype(object).where(head.notna(), "").to_markdown(index=False)
    if len(df) > max_rows:
        text += f"\n\n_first {max_rows} of {len(df):,} rows_"
    return text


def table_schema(name: str) -> dg.TableSchema:
    types = column_types(name)
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=col, type=types[col], description=desc)
            for col, desc in column_descriptions(name).items()
        ]
    )


def table_metadata(name: str, preview: pd.DataFrame, rows: int) -> dict[str, object]:
    """Column schema, row count and the first rows (``preview``) of a published table."""
    text = markdown_table(preview)
    if rows > len(preview):
        text += f"\n\n_first {len(preview)} of {rows:,} rows_"
    return {
        "dagster/column_schema": table_schema(name),
        "dagster/row_count": dg.MetadataValue.int(rows),
        "preview": dg.MetadataValue.md(text),
    }
