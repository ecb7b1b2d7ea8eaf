"""The bulk form (DESIGN §3 tabular sources) as a pandera schema over the whole frame.

A ``*.claims.csv`` / ``*.claims.parquet`` file is checked column by column, lazily, before
anything else reads it: the columns present and no others, every cell text, and each
column's shape (a slug, a year, a scale, a qualifier, a number as written). Failure cases
become issues naming the file, the row and the column. What the cells must mean together
(end after start, a CAGR period that fits) is checked afterwards, for every form of source
alike, in ``validate``.
"""

from collections.abc import Iterable

import pandas as pd
import pandera.pandas as pa
import pyarrow.compute as pc
from pandera.errors import SchemaErrors

from cdmo_pipeline.core.errors import SourceIssue
from cdmo_pipeline.core.frames import arrow
from cdmo_pipeline.core.numbers import NUMBER_RE, QUALIFIERS, parse_numbers
from cdmo_pipeline.core.schemas import Text
from cdmo_pipeline.core.source_format import BULK_COLUMNS, CURRENCY_RE, SCALES, SLUG_RE, SOURCE_KINDS

# A number as written: numbers.py's grammar (its message says what is wrong with a cell).
_NUMBER = NUMBER_RE
_YEAR = r"^(?:[0-9]{4}|current|CURRENT|Current)$"
_DATE = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"


def _shaped(pattern: str, *, blank_ok: bool) -> pa.Check:
    """Cells matching ``pattern`` (vectorised RE2), or empty when ``blank_ok``."""

    def check(series: pd.Series) -> pd.Series:
        values = pc.utf8_trim_whitespace(arrow(series.fillna("")))
        ok = pc.fill_null(pc.match_substring_regex(values, pattern), False)
        if blank_ok:
            ok = pc.or_(ok, pc.equal(values, ""))
        return pd.Series(ok.to_numpy(zero_copy_only=False), index=series.index)

    return pa.Check(check, name=pattern, ignore_na=False)


def _one_of(choices: tuple[str, ...] | list[str], *, blank_ok: bool) -> pa.Check:
    allowed = [*choices, ""] if blank_ok else list(choices)

    def check(series: pd.Series) -> pd.Series:
        values = pc.utf8_lower(pc.utf8_trim_whitespace(arrow(series.fillna(""))))
        ok = pc.fill_null(
            pc.is_in(values, value_set=pd.array(allowed, dtype="string[pyarrow]").__arrow_array__()), False
        )
        return pd.Series(ok.to_numpy(zero_copy_only=False), index=series.index)

    return pa.Check(check, name="one of " + ", ".join(c for c in choices), ignore_na=False)


# What each column must look like, and what the user is told when a cell does not.
COLUMNS: dict[str, tuple[pa.Check, str]] = {
    "source_id": (_shaped(SLUG_RE, blank_ok=False), "must be a lowercase slug (letters, digits, hyphens)"),
    "source_title": (_shaped(r"\S", blank_ok=False), "is required"),
    "source_publisher": (_shaped(r"\S", blank_ok=False), "is required"),
    "source_published": (_shaped(_DATE, blank_ok=False), "must be a year or an ISO date"),
    "claim_id": (_shaped(SLUG_RE, blank_ok=False), "must be a lowercase slug (letters, digits, hyphens)"),
    "kind": (_one_of(["trajectory"], blank_ok=False), "must be trajectory (one row per trajectory claim)"),
    "market": (_shaped(SLUG_RE, blank_ok=False), "must be a market id (a lowercase slug)"),
    "parent_market": (_shaped(SLUG_RE, blank_ok=True), "must be a market id (a lowercase slug) or empty"),
    "currency": (_shaped(CURRENCY_RE, blank_ok=True), "must be a 3-letter currency code such as USD"),
    "cagr": (_shaped(_NUMBER, blank_ok=True), "is not a number as written (percent)"),
    "cagr_from": (_shaped(_YEAR, blank_ok=True), 'must be a 4-digit year, "current" or empty'),
    "cagr_to": (_shaped(_YEAR, blank_ok=True), 'must be a 4-digit year, "current" or empty'),
}
for _prefix in ("start", "end", "point"):
    COLUMNS |= {
        f"{_prefix}_year": (_shaped(_YEAR, blank_ok=True), 'must be a 4-digit year, "current" or empty'),
        f"{_prefix}_value": (_shaped(_NUMBER, blank_ok=True), "is not a number as written"),
        f"{_prefix}_scale": (_one_of(list(SCALES), blank_ok=True), "is not a scale (" + ", ".join(SCALES) + ")"),
        f"{_prefix}_qualifier": (
            _one_of(QUALIFIERS, blank_ok=True),
            "must be a qualifier (" + ", ".join(QUALIFIERS) + ") or empty",
        ),
    }
OPTIONAL_COLUMNS: dict[str, tuple[pa.Check, str] | None] = {
    "source_kind": (_one_of(SOURCE_KINDS, blank_ok=True), "must be one of " + ", ".join(SOURCE_KINDS) + " or empty"),
    "confidence": (_one_of(["high", "medium", "low"], blank_ok=True), "must be high, medium, low or empty"),
    "source_url": None, "note": None, "market_label": None, "region": None, "modality": None,
}  # fmt: skip

SCHEMA = pa.DataFrameSchema(
    {
        name: pa.Column(
            Text(),
            checks=[spec[0]] if spec else [],
            nullable=True,
            required=name in BULK_COLUMNS,
            description=spec[1] if spec else None,
        )
        for name, spec in {**COLUMNS, **OPTIONAL_COLUMNS}.items()
    },
    strict=True,  # an unknown column is a typo or a different format
    name="bulk claims table",
)
MESSAGES = {name: column.description for name, column in SCHEMA.columns.items()}


MAX_CELL_ISSUES = 500  # cells reported; beyond them, a count


def check_frames(parts: Iterable[tuple[pd.DataFrame, pd.Series, pd.Series]]) -> list[SourceIssue]:
    """Validate bulk rows lazily, a slice at a time (one table, or several with the same
    columns; ``files``, ``lines``: per row of each slice). One issue per failing cell, naming
    its file, line, claim and column; a column's problem said once; at most
    ``MAX_CELL_ISSUES`` cells, then a count."""
    out: list[SourceIssue] = []
    n_cases, first_file = 0, None
    for frame, files, lines in parts:
        first_file = first_file if first_file is not None else (str(files.iat[0]) if len(files) else None)
        try:
            SCHEMA.validate(frame, lazy=True)
        except SchemaErrors as exc:
            cases = exc.failure_cases
            out += _issues(cases.head(max(MAX_CELL_ISSUES - n_cases, 0)), frame, files, lines)
            n_cases += len(cases)
    out = list(dict.fromkeys(out))  # a missing or unknown column is found in every slice
    if n_cases > MAX_CELL_ISSUES and first_file is not None:
        more = f"... and {n_cases - MAX_CELL_ISSUES} more cells break the table's format"
        out.append(SourceIssue(first_file, None, None, more))
    return out


def _issues(cases: pd.DataFrame, frame: pd.DataFrame, files: pd.Series, lines: pd.Series) -> list[SourceIssue]:
    out: list[SourceIssue] = []
    every_file = list(dict.fromkeys(files))  # a column-level failure is every file's (same columns)
    seen_types: set[str] = set()
    for case in cases.itertuples(index=False):
        column, index = case.column, case.index
        if case.check == "column_in_dataframe":
            out += [SourceIssue(rel, None, str(case.failure_case), "required column is missing") for rel in every_file]
        elif case.check == "column_in_schema":
            out += [SourceIssue(rel, None, str(case.failure_case), "unknown column") for rel in every_file]
        elif isinstance(case.check, str) and case.check.startswith("dtype("):
            if str(column) in seen_types:
                continue
            seen_types.add(str(column))
            actual = str(frame[column].dtype) if column in frame else "?"
            stored = {"float64": "double"}.get(actual, actual)
            message = f'is stored as {stored}; numbers must be strings exactly as written ("9.0" is not "9")'
            out += [SourceIssue(rel, None, str(column), message) for rel in every_file]
        elif index is not None and not pd.isna(index):
            row = int(index)
            claim = frame["claim_id"].iat[row] if "claim_id" in frame else None
            value = frame[column].iat[row]
            text = "" if pd.isna(value) else str(value)
            message = MESSAGES.get(column) or "is not valid"
            if message.startswith("is not a number"):  # the literal grammar's own, precise reason
                message = parse_numbers(pd.Series([text])).iloc[0]["error"] or message
            # The source's columns describe the source, not the row's claim.
            source_level = str(column).startswith("source_")
            out.append(
                SourceIssue(
                    str(files.iat[row]),
                    None if source_level or pd.isna(claim) or claim == "" else str(claim),
                    str(column),
                    f"'{text}' {message}",
                    int(lines.iat[row]),
                )
            )
    return out
