"""Every number of a source's text accounted for (issue 7): the coverage behind an asset check.

A source may name its plain text (``text:`` in its metadata, relative to the source file).
Every number of that text must then be in a claim, in ``unassigned`` with a reason, or in
``ignored`` (page numbers, dates of publication); the check lists those that are not.
"""

from pathlib import Path

import pandas as pd

from cdmo_pipeline.core.source_format import load_yaml
from cdmo_pipeline.extract import coverage

COLUMNS = ["source_id", "file", "text_file", "literal", "start", "end", "problem"]


def uncovered_numbers(sources_dir: Path, sources: pd.DataFrame) -> pd.DataFrame:
    """One row per number of a named text that the source does not account for."""
    rows: list[dict[str, object]] = []
    named = sources.loc[sources["text"].notna()] if "text" in sources else sources.iloc[:0]
    for source_id, file, text_name in zip(named["source_id"], named["file"], named["text"], strict=True):
        source_path = Path(sources_dir) / str(file)
        text_path = (source_path.parent / str(text_name)).resolve()
        base = {"source_id": source_id, "file": file, "text_file": str(text_name)}
        try:
            text = text_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            rows.append({**base, "problem": f"cannot read the text: {exc}"})
            continue
        doc, _ = load_yaml(source_path.read_text(encoding="utf-8"))
        for start, end, literal in coverage(text, doc):
            rows.append(
                {
                    **base,
                    "literal": literal,
                    "start": start,
                    "end": end,
                    "problem": "not in a claim, unassigned or ignored",
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
