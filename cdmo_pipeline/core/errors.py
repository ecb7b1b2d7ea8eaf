"""Errors a user can act on: every one names the file, the claim and the field."""

from dataclasses import dataclass

import pandas as pd

# A refresh may find thousands of errors in a bad bulk file; the message shows the first few.
MAX_LISTED = 25
# One rule broken by a million rows lists this many of them, then counts the rest.
MAX_PER_RULE = 200


@dataclass(frozen=True)
class SourceIssue:
    """One thing wrong with one source file."""

    file: str
    claim: str | None
    field: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        claim = f"claim '{self.claim}'" if self.claim else "source"
        field = f", field '{self.field}'" if self.field else ""
        return f"{where}: {claim}{field}: {self.message}"


class CdmoError(Exception):
    """An error whose message is for the user; the CLI prints it without a traceback."""

    hint: str = ""


class SourceValidationError(CdmoError):
    """Malformed source files: the refresh stops before anything is published."""

    hint = "Fix the source files named above, then refresh again; nothing was published."

    def __init__(self, issues: list[SourceIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line or 0, i.claim or "", i.field or ""))
        super().__init__(self.render())

    def render(self, limit: int = MAX_LISTED) -> str:
        n = len(self.issues)
        head = f"{n} problem{'s' if n != 1 else ''} in the source files:"
        lines = [f"  - {issue}" for issue in self.issues[:limit]]
        if n > limit:
            lines.append(f"  ... and {n - limit} more")
        return "\n".join([head, *lines])

    def as_frame(self) -> pd.DataFrame:
        return pd.DataFrame([vars(i) for i in self.issues])


class WarehouseBusyError(CdmoError):
    """Another process holds the warehouse for writing beyond the bounded wait."""

    hint = (
        "Close the other connection (or open it read-only: `duckdb -readonly FILE`, "
        "`duckdb.connect(FILE, read_only=True)`), then try again."
    )


class AuditError(CdmoError):
    """Built tables broke an invariant: a bug or an unforeseen input, never published."""

    hint = "Nothing was published. The tables failed the audit listed above; please report it."


def issues_from_mask(
    frame: pd.DataFrame,
    mask: "pd.Series | object",
    field_column: str,
    message: "str | pd.Series",
) -> list[SourceIssue]:
    """Issues for the rows of ``frame`` selected by ``mask`` (vectorised rule, listed errors).

    ``frame`` carries ``file``, ``claim``, ``line`` and the per-row field name in
    ``field_column``; ``message`` is one text or a per-row Series.
    """
    bad = frame.loc[mask]
    if bad.empty:
        return []
    extra = len(bad) - MAX_PER_RULE
    bad = bad.iloc[:MAX_PER_RULE]
    messages = message.loc[bad.index] if isinstance(message, pd.Series) else pd.Series(message, index=bad.index)
    lines = bad["line"] if "line" in bad else pd.Series(None, index=bad.index)
    issues = [
        SourceIssue(
            file=str(f),
            claim=None if pd.isna(c) or c == "" else str(c),
            field=None if pd.isna(fl) or fl == "" else str(fl),
            message=str(m),
            line=None if pd.isna(ln) else int(ln),
        )
        for f, c, fl, m, ln in zip(bad["file"], bad["claim"], bad[field_column], messages, lines, strict=True)
    ]
    if extra > 0:
        last = issues[-1]
        issues.append(SourceIssue(last.file, None, last.field, f"... and {extra} more rows with: {last.message}"))
    return issues
