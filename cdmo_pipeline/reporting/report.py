"""The audit report: every source, claim and figure, each CAGR verdict said in words.

Pure functions of the published tables (DESIGN §8): no Dagster, no I/O except
:func:`load_tables` (reads a DuckDB connection) and :func:`write_report` (writes two files).
The report is built once as a small document model (``_document``) and rendered to Markdown
(plain headings and tables, so the Dagster UI shows it) and to a standalone HTML page.

Two tables published later by the cross-source work are optional: ``cross_source`` (each
source's figure per market, currency and year, beside the group's range) and
``claim_origins`` (where the article's figures may come from). Each gets its section when
given and is skipped when absent.
"""

import os
import re
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from cdmo_pipeline.core.errors import CdmoError
from cdmo_pipeline.core.reconcile import is_subject
from cdmo_pipeline.core.tables import Tables
from cdmo_pipeline.reporting._document import (
    Bullets,
    Chart,
    Document,
    Heading,
    Inline,
    Paragraph,
    Span,
    Table,
    Tone,
    code,
    em,
    line,
    link,
    strong,
    to_html,
    to_markdown,
)

# The eight tables of DESIGN §8, which the report needs; and the two it shows when present.
REQUIRED_TABLES = (
    "sources", "markets", "claims", "figures", "cagr_checks", "implied_figures", "projections", "segment_shares",
)  # fmt: skip
OPTIONAL_TABLES = ("cross_source", "claim_origins")
TITLE = "CDMO market figures: audit report"
MARKDOWN_NAME = "audit_report.md"
HTML_NAME = "audit_report.html"

TablesLike = Mapping[str, pd.DataFrame] | Tables
Record = dict[str, Any]

# DuckDB hands back nullable integer columns as floats; years must print as 2032, not 2032.0.
_INT_COLUMNS = (
    "start_year", "end_year", "n_years", "year", "from_year", "to_year", "period_from", "period_to",
    "cagr_from", "cagr_to", "paragraph", "line", "idx", "decimals", "n_claims", "n_values",
    "published_year", "n_sources",
)  # fmt: skip

VERDICT_TONE: dict[str, Tone] = {
    "consistent": "good",
    "inconsistent": "bad",
    "unverifiable": "warn",
    "not checked": "muted",
}
VERDICT_ORDER = ("consistent", "inconsistent", "unverifiable", "not checked")
SHARE_TONE: dict[str, Tone] = {
    "plausible": "good",
    "segment_may_exceed_parent": "warn",
    "segment_exceeds_parent": "bad",
}
SHARE_WORDS = {
    "plausible": "plausible",
    "segment_may_exceed_parent": "the segment may exceed its parent",
    "segment_exceeds_parent": "the segment exceeds its parent",
}
ROLE_WORDS = {"start": "start value", "point": "value", "end": "end value", "cagr": "stated CAGR", "share": "share"}
BASIS_WORDS = {"endpoints": "the stated values", "stated_cagr": "the stated CAGR"}


class ReportInputError(CdmoError):
    """The tables handed to the report are incomplete."""

    hint = "Run `cdmo refresh` to publish every table, then build the report again."


# --- Inputs -----------------------------------------------------------------------------


FOCUS_MEMORY_LIMIT = "256MB"


def load_tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """Every published table (DESIGN §8) from a DuckDB connection, plus the optional ones present.

    Read-only: only SELECTs, so a ``read_only=True`` connection is enough. Table names are
    the code's own constants, never user input.
    """
    present = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_catalog = current_database() AND table_schema = 'main'"
        ).fetchall()
    }
    missing = [n for n in REQUIRED_TABLES if n not in present]
    if missing:
        raise ReportInputError(f"the warehouse has no table {', '.join(missing)}: nothing to report on yet")
    names = [*REQUIRED_TABLES, *(n for n in OPTIONAL_TABLES if n in present)]
    n_sources, n_claims = con.execute(
        'SELECT (SELECT count(*) FROM "sources"), (SELECT count(*) FROM claims)'
    ).fetchone()
    if n_sources > DETAIL_LIMIT or n_claims > FOCUS_CLAIMS:  # many sources, or a few very large
        # The focus queries scan whole tables: a small buffer pool keeps DuckDB from caching
        # the warehouse in this process (the reports step runs beside the refresh).
        con.execute(f"SET memory_limit = '{FOCUS_MEMORY_LIMIT}'")
        return _normalise(_focused(con, names))
    return _normalise({n: con.execute(f'SELECT * FROM "{n}"').df() for n in names})


# A large warehouse is reported in focus: every article's claims, the largest inconsistencies,
# the most covered markets; the summary's counts are over everything (SQL).
FOCUS_INCONSISTENT = 50
FOCUS_MARKETS = 24
FOCUS_SOURCES_PER_MARKET = 20
FOCUS_CLAIMS_PER_SOURCE = 25  # claims of one source drawn in one market's chart
FOCUS_CLAIMS = 20_000  # beyond this many claims, a warehouse is reported in focus
# Not a subject (see reconcile.is_subject): a publisher's document, or kept under reference/.
_NOT_SUBJECT = "(kind IN ('report', 'press_release') OR file LIKE 'reference/%' OR file LIKE '%/reference/%')"
_FOCUS_SQL = {
    # Claims shown in detail: the articles', and the largest gaps.
    "focus_claims": f"""
        SELECT claim_id FROM claims WHERE source_id IN (SELECT source_id FROM sources WHERE NOT {_NOT_SUBJECT})
        UNION
        SELECT claim_id FROM (SELECT claim_id FROM cagr_checks WHERE verdict = 'inconsistent'
                              ORDER BY gap_pp DESC, claim_id LIMIT {FOCUS_INCONSISTENT})
    """,
    # Markets charted: the articles', then those most sources speak of.
    "focus_markets": f"""
        SELECT market_id FROM (
            SELECT market_id, bool_or(source_id IN (SELECT source_id FROM sources WHERE NOT {_NOT_SUBJECT})) AS article,
                   count(DISTINCT source_id) AS n
            FROM claims WHERE market_id IS NOT NULL GROUP BY market_id
            ORDER BY article DESC, n DESC, market_id LIMIT {FOCUS_MARKETS})
    """,
}


def _focused(con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, pd.DataFrame]:
    """The tables a large warehouse's report needs, filtered in SQL, and the totals."""
    con.execute(f"CREATE TEMP TABLE focus_claims AS {_FOCUS_SQL['focus_claims']}")
    con.execute(f"CREATE TEMP TABLE focus_markets AS {_FOCUS_SQL['focus_markets']}")
    con.execute(
        f"""CREATE TEMP TABLE focus_chart_sources AS
        SELECT market_id, source_id FROM (
            SELECT DISTINCT c.market_id, c.source_id,
                   c.source_id IN (SELECT source_id FROM sources WHERE NOT {_NOT_SUBJECT}) AS article
            FROM claims AS c WHERE c.market_id IN (SELECT market_id FROM focus_markets))
        QUALIFY row_number() OVER (PARTITION BY market_id ORDER BY article DESC, source_id)
                <= {FOCUS_SOURCES_PER_MARKET}"""
    )
    # A source of thousands of claims in one market: its first claims are drawn, not all.
    con.execute(
        f"""CREATE TEMP TABLE focus_chart_claims AS
        SELECT c.claim_id, c.market_id, c.source_id FROM claims AS c
        JOIN focus_chart_sources AS s ON s.market_id = c.market_id AND s.source_id = c.source_id
        QUALIFY row_number() OVER (PARTITION BY c.market_id, c.source_id ORDER BY c.claim_id)
                <= {FOCUS_CLAIMS_PER_SOURCE}"""
    )
    by_claim = "WHERE claim_id IN (SELECT claim_id FROM focus_claims)"
    queries = {
        "sources": "SELECT * FROM sources",
        "markets": "SELECT * FROM markets",
        "claims": f"SELECT * FROM claims {by_claim}",
        "figures": f"SELECT * FROM figures {by_claim}",
        "cagr_checks": f"SELECT * FROM cagr_checks {by_claim}",
        "implied_figures": f"SELECT * FROM implied_figures {by_claim}",
        "projections": "SELECT p.* FROM projections AS p JOIN focus_chart_claims USING (claim_id)",
        "segment_shares": "SELECT * FROM segment_shares WHERE segment_claim_id IN (SELECT claim_id FROM focus_claims)",
        # The report reads a focus market's aggregates (the same on every row of a currency,
        # year and basis: one row each) and the rows of the claims it shows, not every
        # source's row.
        "cross_source": """
            WITH focus AS (SELECT * FROM cross_source WHERE market_id IN (SELECT market_id FROM focus_markets))
            SELECT * FROM focus WHERE claim_id IN (SELECT claim_id FROM focus_claims)
            UNION
            SELECT * FROM focus
            QUALIFY row_number() OVER (
                PARTITION BY market_id, currency, year, basis ORDER BY value, source_id, claim_id) = 1""",
        "claim_origins": f"SELECT * FROM claim_origins {by_claim}",
    }
    out = {n: con.execute(queries[n]).df() for n in names}
    # The claims charted need their own rows too (labels, stated points).
    charted = con.execute(
        """SELECT f.* FROM figures AS f JOIN focus_chart_claims USING (claim_id)
           WHERE f.claim_id NOT IN (SELECT claim_id FROM focus_claims)"""
    ).df()
    out["figures"] = pd.concat([out["figures"], charted], ignore_index=True)
    totals = con.execute(
        """SELECT
            (SELECT count(*) FROM claims) AS claims,
            (SELECT count(*) FROM claims WHERE kind = 'trajectory') AS trajectories,
            (SELECT count(*) FROM claims WHERE kind = 'share') AS shares,
            (SELECT count(*) FROM cagr_checks) AS checks,
            (SELECT count(*) FROM implied_figures) AS implied,
            (SELECT count(*) FROM projections) AS projection_rows,
            (SELECT count(DISTINCT market_id) FROM projections) AS projected_markets,
            (SELECT count(*) FROM segment_shares) AS share_rows,
            (SELECT count(*) FROM segment_shares WHERE verdict <> 'plausible') AS share_flagged,
            (SELECT count(*) FROM cagr_checks WHERE verdict = 'inconsistent') AS inconsistent"""
    ).df()
    verdicts = con.execute(
        f"""SELECT coalesce(k.verdict, 'not checked') AS verdict,
                   CASE WHEN c.source_id IN (SELECT source_id FROM sources WHERE NOT {_NOT_SUBJECT})
                        THEN 'primary' ELSE 'reference' END AS "group", count(*) AS n
            FROM claims AS c LEFT JOIN cagr_checks AS k USING (claim_id) GROUP BY ALL"""
    ).df()
    out["_totals"], out["_verdicts"] = totals, verdicts
    out["_market_counts"] = con.execute(
        """SELECT market_id, count(*) AS claims, count(DISTINCT source_id) AS sources FROM claims
           WHERE market_id IN (SELECT market_id FROM focus_markets) GROUP BY market_id"""
    ).df()
    return out


class _Normalised(dict):
    """Tables already in the report's shape: ``as_tables`` passes them through as they are
    (each chart of a million-claim report would otherwise copy them again)."""

    labels: pd.Series | None = None


def source_labels(tables: TablesLike) -> pd.Series:
    """``source_label`` of every source, computed once per set of tables."""
    t = as_tables(tables)
    if not isinstance(t, _Normalised):
        return source_label(t["sources"])
    if t.labels is None:
        t.labels = source_label(t["sources"])
    return t.labels


def as_tables(tables: TablesLike) -> dict[str, pd.DataFrame]:
    """The tables as a dict (from a dict or a ``Tables``), checked for the required ones."""
    if isinstance(tables, _Normalised):
        return tables
    out = {name: df for name, df in tables.items() if df is not None}
    missing = [n for n in REQUIRED_TABLES if n not in out]
    if missing:
        raise ReportInputError(f"the report needs the table(s) {', '.join(missing)}")
    return _normalise(out)


def _normalise(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """One shape whatever the origin (in-memory tables or the warehouse): text as Python
    objects with None for missing, whole-number columns as nullable integers."""
    out = _Normalised()
    for name, df in tables.items():
        df = df.copy()
        for col in df.columns:
            dtype = df[col].dtype
            if isinstance(dtype, pd.StringDtype | pd.CategoricalDtype):
                df[col] = df[col].astype(object).where(df[col].notna(), None)
        ints = [c for c in _INT_COLUMNS if c in df.columns and df[c].dtype.kind == "f"]
        out[name] = df.assign(**{c: df[c].round().astype("Int64") for c in ints}) if ints else df
    return out


def is_primary(sources: pd.DataFrame) -> pd.Series:
    """Sources audited in their own right (the same split as ``claim_origins``)."""
    return is_subject(sources)


def ordered_sources(sources: pd.DataFrame) -> pd.DataFrame:
    """The article(s) first, then the reports by publisher, date and id."""
    s = sources.assign(_primary=is_primary(sources), _pub=sources["publisher"].astype(str).str.casefold())
    s = s.sort_values(["_primary", "_pub", "published", "source_id"], ascending=[False, True, True, True])
    return s.drop(columns=["_primary", "_pub"]).reset_index(drop=True)


def source_label(sources: pd.DataFrame, max_len: int = 42) -> pd.Series:
    """A short name per source (publisher and year), unique: the id is added where two agree."""
    pub = sources["publisher"].astype(str)
    pub = pub.where(pub.str.len() <= max_len, pub.str.slice(0, max_len - 1).str.rstrip() + "…")
    label = pub + " (" + sources["published"].astype(str).str.slice(0, 4) + ")"
    dup = label.duplicated(keep=False)
    return label.where(~dup, label + " · " + sources["source_id"].astype(str)).set_axis(sources["source_id"])


# --- Numbers ----------------------------------------------------------------------------


def _num(x: float, decimals: int = 2) -> str:
    """Up to ``decimals`` decimals, trailing zeros dropped, thousands separated: 26.29, 465, 1,500."""
    s = f"{x + 0.0:,.{decimals}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def _num_range(lo: float, hi: float, unit: str = "") -> str:
    """Two values with the same decimals (26.10–26.48, not 26.1–26.48)."""
    lo_s, hi_s = _num(lo), _num(hi)
    d = max(len(lo_s.partition(".")[2]), len(hi_s.partition(".")[2]))
    text = f"{lo + 0.0:,.{d}f}–{hi + 0.0:,.{d}f}"
    return f"{text} {unit}" if unit else text


def _signed_pct(x: float) -> str:
    text = f"{x + 0.0:+.2f}"
    return "0.00 %" if float(text) == 0 else f"{text} %"


def _pct(x: float) -> str:
    return f"{x + 0.0:.2f}"


MAX_DECIMALS = 4


def _pct_range(lo: float, hi: float, decimals: int = 2) -> str:
    """A CAGR interval with 2 decimals (or ``decimals``), widened up to 4 when fewer would
    print its two ends alike; an interval narrower than that prints as one value."""
    d = decimals
    while d < MAX_DECIMALS and lo != hi and f"{lo:.{d}f}" == f"{hi:.{d}f}":
        d += 1
    if f"{lo:.{d}f}" == f"{hi:.{d}f}":
        return f"{(lo + hi) / 2 + 0.0:.{decimals}f} %"
    return f"{lo + 0.0:.{d}f}–{hi + 0.0:.{d}f} %"


def _implied(lo: float, hi: float, central: float, decimals: int = 2) -> str:
    """ "8.93–9.03 % (central 8.96 %)", or "10.00 %" when the interval is a point in print."""
    band = _pct_range(lo, hi, decimals)
    return band if "–" not in band else f"{band} (central {_pct(central)} %)"


def _gap_decimals(pp: float) -> int:
    """Decimals a gap needs not to print as 0.00 (0.0004 pp needs 4)."""
    d = 2
    while d < MAX_DECIMALS and f"{pp:.{d}f}".strip("0.") == "":
        d += 1
    return d


def _gap(pp: float) -> str:
    text = f"{pp:.{_gap_decimals(pp)}f}"
    return "< 0.0001" if text.strip("0.") == "" else text


def _year(x: object) -> str:
    return "" if x is None or pd.isna(x) else str(int(x))  # type: ignore[call-overload]


def _literal(text: object) -> str:
    """A percent as written, without its % and with a typographic dash in ranges."""
    return re.sub(r"(?<=\d)-(?=\d)", "–", str(text).strip().removesuffix("%"))


def _stated(check: Mapping[str, object], quote: bool = False) -> str:
    """The stated CAGR as written: 9 %, around 8.80 % (“around 8.80 %” inside a sentence)."""
    q = check.get("stated_qualifier")
    text = f"{_literal(check['stated_cagr_literal'])} %"
    if isinstance(q, str) and q:
        text = f"“{q} {text}”" if quote else f"{q} {text}"
    return text


def _stated_range(check: Mapping[str, object]) -> str:
    """The interval the stated CAGR stands for, with the half-step's extra decimal (9.65–9.75 %)."""
    digits = re.findall(r"\d+(?:\.(\d+))?", str(check["stated_cagr_literal"]))
    d = max((len(frac) for frac in digits), default=0) + 1
    return f"{float(check['stated_low']) + 0.0:.{d}f}–{float(check['stated_high']) + 0.0:.{d}f} %"  # type: ignore[arg-type]


def _present(x: object) -> bool:
    return x is not None and not (isinstance(x, float) and np.isnan(x)) and x is not pd.NA


# --- Figures as written -----------------------------------------------------------------


def figures_as_written(figures: pd.DataFrame, claims: pd.DataFrame) -> pd.DataFrame:
    """``figures`` plus ``as_written`` ("over USD 465 billion (2032)", "9% CAGR, 2025–2032")
    and ``stands_for`` (the interval the literal stands for, brackets open or closed)."""
    f = figures
    q = f["qualifier"].fillna("").astype(str)
    qp = q.where(q == "", q + " ")
    lit = f["literal"].astype(str)
    pct_lit = lit.where(lit.str.endswith("%"), lit + "%")
    year = f["year"].astype("string").fillna("")
    year_txt = year.where(f["year_as_written"].astype("string").fillna("") != "current", "current → " + year)
    money = qp + f["unit"].astype(str).str.removesuffix(" bn") + " " + lit + " " + f["scale"].fillna("").astype(str)
    money = money.str.strip() + " (" + year_txt + ")"
    pf, pt = f["period_from"].astype("string"), f["period_to"].astype("string")
    period = (", " + pf + "–" + pt).fillna(" (period not stated)")
    population = f["claim_id"].map(claims.set_index("claim_id")["population"]).astype("string")
    share = qp + pct_lit + (" of " + population).fillna("")
    role = f["role"]
    written = np.where(role == "cagr", qp + pct_lit + " CAGR" + period, np.where(role == "share", share, money))
    # Half-steps carry one more decimal than the literal (255 -> 254.5); format per figure.
    digits = (f["decimals"].astype(int) + 1).tolist()
    lows = [_num(x, d) for x, d in zip(f["low"].tolist(), digits, strict=True)]
    highs = [_num(x, d) for x, d in zip(f["high"].tolist(), digits, strict=True)]
    left = np.where(f["low_open"].astype(bool), "(", "[")
    right = np.where(f["high_open"].astype(bool), ")", "]")
    unit = f["unit"].astype(str).str.replace("%", "", regex=False)
    stands = left + pd.Series(lows, index=f.index) + ", " + pd.Series(highs, index=f.index) + right
    stands = stands + np.where(unit.str.strip() == "", " %", " " + unit)
    return f.assign(as_written=written, stands_for=stands)


# --- Verdicts in words ------------------------------------------------------------------


def verdict_sentence(
    check: Mapping[str, object], figures: pd.DataFrame | Sequence[Record] | None = None
) -> tuple[Inline, Tone]:
    """One claim's CAGR verdict in words, from its ``cagr_checks`` row.

    ``figures`` (the claim's rows of :func:`figures_as_written`) lets an unverifiable
    verdict say which values the source does give.
    """
    verdict = str(check["verdict"])
    tone = VERDICT_TONE.get(verdict, "muted")
    head = strong(verdict.capitalize() + ".", tone)
    y0, y1 = _year(check.get("start_year")), _year(check.get("end_year"))
    years = f"{y0}–{y1}"
    reading = str(check.get("reading") or "as_written")
    read = f" (reading {reading})" if reading.startswith("current=") else ""
    basis = (
        " (from the first to the last stated value)"
        if check.get("period_basis") == "first_and_last_values" and _present(check.get("stated_cagr"))
        else ""
    )
    has_stated = _present(check.get("stated_cagr"))
    has_implied = _present(check.get("implied_cagr"))
    if has_implied:
        lo, hi = float(check["implied_low"]), float(check["implied_high"])  # type: ignore[arg-type]
        central = float(check["implied_cagr"])  # type: ignore[arg-type]

    if verdict == "consistent" and has_stated and has_implied:
        text = f" The stated {_stated(check, quote=True)} fits the endpoints, which imply {_implied(lo, hi, central)}"
        return line(head, text + f" over {years}{basis}{read}."), tone

    if verdict == "inconsistent" and has_stated and has_implied:
        gap = float(check["gap_pp"])  # type: ignore[arg-type]
        # As many decimals as the gap needs, so the two intervals never print as touching.
        implied = _implied(lo, hi, central, _gap_decimals(gap))
        text = (
            f" The stated {_stated(check, quote=True)} ({_stated_range(check)}) does not follow from the"
            f" endpoints: they imply {implied} over {years}{basis}, {_gap(gap)} percentage points away{read}."
        )
        if reading.startswith("current="):
            text += f" No reading of “current” makes it fit; shown with {reading}, the publication year."
        hint = check.get("hint")
        if isinstance(hint, str) and hint:
            return line(head, text, " ", strong("Hint:"), " " + hint.rstrip(".") + "."), tone
        return line(head, text), tone

    if has_implied and not has_stated:
        band = _pct_range(lo, hi)
        text = f" No CAGR is stated; the values imply {_pct(central)} % a year"
        text += f"{f' ({band})' if '–' in band else ''} over {years}{read}."
        return line(head, text), tone

    if has_stated and not has_implied:
        given = _given_values(figures)
        assumption = check.get("assumption")
        if isinstance(assumption, str) and assumption:
            text = (
                f" The stated {_stated(check, quote=True)} cannot be checked against a single value{given}. Taken over"
                f" {years}, it rests on the assumption “{assumption}”; so does every figure derived from it."
            )
        else:
            text = f" The stated {_stated(check, quote=True)} over {years} cannot be checked: the source gives"
            text += f" a value at one end of the period only{given}."
        return line(head, text), tone

    return line(head, " Not enough figures to recompute a CAGR."), tone


def _given_values(figures: pd.DataFrame | Sequence[Record] | None) -> str:
    rows = figures.to_dict("records") if isinstance(figures, pd.DataFrame) else (figures or [])
    vals = [str(r["as_written"]) for r in rows if r["role"] in ("start", "point", "end")]
    return f" ({'; '.join(vals)})" if vals else ""


def _records_by(df: pd.DataFrame, key: str) -> dict[str, list[Record]]:
    """Rows as dicts grouped by ``key``, keeping the frame's order: one conversion for the
    whole table (per-group ``to_dict`` costs more than the prose written from it)."""
    out: dict[str, list[Record]] = {}
    for r in df.to_dict("records"):
        out.setdefault(r[key], []).append(r)
    return out


def _unchecked_sentence(claim: Mapping[str, object]) -> tuple[Inline, Tone]:
    if claim["kind"] == "share":
        return line(strong("Not checked.", "muted"), " A share, not a growth claim: nothing to recompute."), "muted"
    if int(claim.get("n_values") or 0) == 1 and not _present(claim.get("stated_cagr_literal")):  # type: ignore[call-overload]
        return line(strong("Not checked.", "muted"), " A single value and no CAGR: nothing to recompute."), "muted"
    return line(strong("Not checked.", "muted"), " Too few figures to recompute a CAGR."), "muted"


# --- The report -------------------------------------------------------------------------


def unit_label(currencies: Sequence[str], several: str) -> str:
    """Billions of the one currency found; ``several`` when there are more; USD when none is
    recorded (tables published before currencies were)."""
    return f"{currencies[0]} bn" if len(currencies) == 1 else several if len(currencies) else "USD bn"


class _Report:
    """Lookups over the tables, built once, and the sections written from them."""

    def __init__(self, tables: dict[str, pd.DataFrame]) -> None:
        self.t = tables
        self.sources = ordered_sources(tables["sources"])
        self.primary = set(self.sources.loc[is_primary(self.sources), "source_id"])
        self.label = source_label(self.sources)
        self.markets = tables["markets"].set_index("market_id")
        self.claims = tables["claims"]
        self.checks = tables["cagr_checks"].set_index("claim_id")
        self.check_rows = {r["claim_id"]: r for r in tables["cagr_checks"].to_dict("records")}
        self.figures = _records_by(figures_as_written(tables["figures"], self.claims), "claim_id")
        imp = tables["implied_figures"].sort_values(["claim_id", "quantity", "from_year", "reading"], kind="stable")
        self.implied = _records_by(imp, "claim_id")
        claims = self.claims.sort_values(["source_id", "line", "claim_id"], na_position="last", kind="stable")
        self.claims_by_source = _records_by(claims, "source_id")
        shares = tables["segment_shares"].sort_values(["segment_claim_id", "year"])
        self.shares = _records_by(shares, "segment_claim_id")
        proj = tables["projections"]
        span = proj.groupby("claim_id").agg(
            first=("year", "min"), last=("year", "max"), extrapolated=("is_extrapolated", "any")
        )
        bases = proj[["claim_id", "basis"]].drop_duplicates().sort_values(["claim_id", "basis"])
        span["bases"] = bases.groupby("claim_id")["basis"].agg(tuple)
        self.proj_span = {r["claim_id"]: r for r in span.reset_index().to_dict("records")}
        self.charted = set(proj["market_id"].dropna())
        # Each market's currencies, found once (a report may cover thousands of markets).
        self.market_currencies: dict[str, list[str]] | None = None
        if "currency" in proj:
            pairs = proj[["market_id", "currency"]].dropna().drop_duplicates()
            self.market_currencies = pairs.groupby("market_id", sort=False)["currency"].agg(list).to_dict()
        origins = tables.get("claim_origins")
        self.origins: dict[str, list[Record]] = {}
        if origins is not None and not origins.empty and "claim_id" in origins:
            # Best first: by rank when the table ranks its matches, else by score.
            key = "rank" if "rank" in origins else ("score" if "score" in origins else "claim_id")
            ordered = origins.sort_values(["claim_id", key], ascending=[True, key != "score"], kind="stable")
            self.origins = _records_by(ordered, "claim_id")
        cross = tables.get("cross_source")
        self.cross: pd.DataFrame | None = (
            cross if cross is not None and {"market_id", "year"} <= set(cross.columns) else None
        )
        self.cross_by_claim: dict[str, list[Record]] = {}
        if self.cross is not None and {"claim_id", "value", "median"} <= set(self.cross.columns):
            mine = self.cross
            if "basis" in mine:
                mine = mine.loc[mine["basis"] == "stated"]  # the figures as written, not the paths
            mine = mine.loc[mine["claim_id"].isin(self.claims["claim_id"])]  # claims the report shows
            self.cross_by_claim = _records_by(mine.sort_values(["claim_id", "year"]), "claim_id")
        verdict = self.claims["claim_id"].map(self.checks["verdict"]).fillna("not checked")
        self.claim_verdict = verdict.set_axis(self.claims["claim_id"])

    def market_label(self, market_id: object) -> str:
        if not isinstance(market_id, str):
            return ""
        return str(self.markets["label"].get(market_id, market_id))

    def document(self, reports: bool = True) -> Document:
        doc = Document(TITLE)
        doc.add(
            Paragraph(
                line(
                    "Every figure of every source as written, and every growth claim recomputed from its own"
                    " figures. A number as written stands for the interval of values that round to it"
                    " (“255” is 254.5–255.5; “over 465” is just above 465 up to 466); a stated CAGR is ",
                    strong("consistent"),
                    " when its interval meets the interval its endpoints imply, ",
                    strong("inconsistent"),
                    " when they are apart (the gap is given in percentage points), and ",
                    strong("unverifiable"),
                    " when a value or the rate is missing. Values are in billions of the currency (USD bn);"
                    " rates in percent a year.",
                )
            )
        )
        self.summary(doc)
        self.source_sections(doc, reports)
        self.market_sections(doc)
        self.origin_section(doc)
        return doc

    # Summary ---------------------------------------------------------------------------

    def summary(self, doc: Document) -> None:
        s, c = self.sources, self.claims
        n_primary = len(self.primary)
        kinds = s.loc[~s["source_id"].isin(self.primary), "kind"].str.replace("_", " ").value_counts()
        kinds = kinds.rename_axis("kind").reset_index(name="n").sort_values(["n", "kind"], ascending=[False, True])
        kinds_txt = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in zip(kinds["kind"], kinds["n"], strict=True))
        claim_kinds = c["kind"].value_counts()
        shares = self.t["segment_shares"]
        flagged = shares.loc[shares["verdict"] != "plausible"]
        totals = self.t.get("_totals")
        n_claims, n_checks = len(c), len(self.checks)
        n_implied, n_proj, n_charted = len(self.t["implied_figures"]), len(self.t["projections"]), len(self.charted)
        n_shares, n_flagged = len(shares), len(flagged)
        if totals is not None:  # a large warehouse, reported in focus: counts over everything
            tot = totals.iloc[0]
            claim_kinds = pd.Series({"trajectory": int(tot["trajectories"]), "share": int(tot["shares"])})
            n_claims, n_checks, n_implied = int(tot["claims"]), int(tot["checks"]), int(tot["implied"])
            n_proj, n_charted = int(tot["projection_rows"]), int(tot["projected_markets"])
            n_shares, n_flagged = int(tot["share_rows"]), int(tot["share_flagged"])
        doc.add(Heading(2, line("Summary"), "summary"))
        doc.add(
            Bullets(
                (
                    line(
                        strong(f"{len(s)} source{'s' if len(s) != 1 else ''}"),
                        f": {n_primary} audited article{'s' if n_primary != 1 else ''}"
                        + (
                            f" and {len(s) - n_primary} published source{'s' if len(s) - n_primary != 1 else ''}"
                            f" to compare with ({kinds_txt})."
                            if len(s) > n_primary
                            else ", and no published source to compare with."
                        ),
                    ),
                    line(
                        strong(f"{n_claims:,} claims"),
                        f": {claim_kinds.get('trajectory', 0):,} trajectories, {claim_kinds.get('share', 0):,}"
                        f" share{'s' if claim_kinds.get('share', 0) != 1 else ''};"
                        f" {n_checks:,} with a CAGR check.",
                    ),
                    line(
                        strong(f"{n_implied:,} implied figures"),
                        f", {n_proj:,} projection rows over {n_charted} markets,"
                        f" {n_shares:,} segment-share rows"
                        + (
                            " (all plausible)."
                            if n_flagged == 0
                            else f" ({n_flagged:,} where the segment may exceed its parent)."
                        ),
                    ),
                )
            )
        )
        group = np.where(self.claims["source_id"].isin(self.primary), "primary", "reference")
        counts = pd.crosstab(self.claim_verdict.to_numpy(), group).reindex(
            index=list(VERDICT_ORDER), columns=["primary", "reference"], fill_value=0
        )
        if "_verdicts" in self.t:
            counts = (
                self.t["_verdicts"]
                .pivot_table(index="verdict", columns="group", values="n", aggfunc="sum")
                .reindex(index=list(VERDICT_ORDER), columns=["primary", "reference"], fill_value=0)
                .fillna(0)
                .astype(int)
            )
        first = "Article" if n_primary == 1 else "Articles"
        doc.add(
            Table(
                ("Verdict", first, "Reports", "All"),
                tuple(
                    (
                        line(Span(v, "strong", VERDICT_TONE[v])),
                        line(str(row["primary"])),
                        line(str(row["reference"])),
                        line(str(row["primary"] + row["reference"])),
                    )
                    for v, row in counts.iterrows()
                ),
                align=("l", "r", "r", "r"),
            )
        )
        bad = self.t["cagr_checks"]
        bad = bad.loc[bad["verdict"] == "inconsistent"].sort_values(["gap_pp", "claim_id"], ascending=[False, True])
        n_bad = int(totals.iloc[0]["inconsistent"]) if totals is not None else len(bad)
        bad = bad.head(FOCUS_INCONSISTENT)
        doc.add(Heading(3, line("Inconsistent claims"), "inconsistent-claims"))
        if bad.empty:
            doc.add(Paragraph(line("No stated CAGR contradicts its endpoints.")))
        else:
            doc.add(
                Paragraph(
                    line(
                        "Stated CAGRs that do not follow from their own endpoints, largest gap first. A finding"
                        " about the source, not an error of the pipeline; the hint names a common slip that"
                        " would explain it."
                    )
                )
            )
            rows = []
            for r in bad.to_dict("records"):
                rows.append(
                    (
                        line(code(str(r["claim_id"]))),
                        line(str(self.label.get(r["source_id"], r["source_id"]))),
                        line(self.market_label(r["market_id"])),
                        line(_stated(r)),
                        line(
                            f"{_pct_range(r['implied_low'], r['implied_high'])} over {r['start_year']}–{r['end_year']}"
                        ),
                        line(_gap(r["gap_pp"])),
                        line(str(r["hint"]) if isinstance(r["hint"], str) else "—"),
                    )
                )
            doc.add(
                Table(
                    ("Claim", "Source", "Market", "Stated", "Implied", "Gap (pp)", "Hint"),
                    tuple(rows),
                    align=("l", "l", "l", "r", "l", "r", "l"),
                    tones=("bad",) * len(rows),
                )
            )
            if n_bad > len(rows):
                doc.add(
                    Paragraph(line(f"The {len(rows)} largest gaps of {n_bad:,}; all are in the table `cagr_checks`."))
                )
        if not flagged.empty:
            worst = (
                flagged.sort_values("share_high", ascending=False).drop_duplicates(["market_id", "source_id"]).head(20)
            )
            doc.add(
                Paragraph(
                    line(
                        strong("Segments that may exceed their parent: ", "warn"),
                        "; ".join(
                            f"{self.market_label(r['market_id'])} in {r['source_id']} ({r['year']}:"
                            f" {_pct(r['share_low'])}–{_pct(r['share_high'])} %)"
                            for r in worst.to_dict("records")
                        )
                        + ".",
                    ),
                    "warn",
                )
            )

    # Sources ---------------------------------------------------------------------------

    def source_sections(self, doc: Document, reports: bool = True) -> None:
        prim = self.sources.loc[self.sources["source_id"].isin(self.primary)]
        refs = self.sources.loc[~self.sources["source_id"].isin(self.primary)]
        if not prim.empty:
            doc.add(Heading(2, line("The article" if len(prim) == 1 else "The articles"), "article"))
            for src in prim.to_dict("records"):
                self.source_section(doc, src)
        if not refs.empty:
            doc.add(Heading(2, line("Published reports, by publisher"), "reports"))
            if not reports:
                n = len(refs)
                doc.add(
                    Paragraph(
                        line(f"{n} published sources; each is detailed in the full report (", code(HTML_NAME), ").")
                    )
                )
                return
            for src in refs.to_dict("records"):
                self.source_section(doc, src)

    def source_section(self, doc: Document, src: Mapping[str, object]) -> None:
        sid = str(src["source_id"])
        title = line(f"{src['publisher']}: {src['title']}")
        doc.add(Heading(3, title, f"source-{sid}", str(self.label.get(sid, sid))))
        meta: list[str | Span] = [
            strong("Published "),
            str(src["published"]),
            f" ({str(src['kind']).replace('_', ' ')})",
            " · ",
            strong("Source "),
            code(sid),
            " · ",
            strong("File "),
            code(str(src["file"])),
            " · sha256 ",
            code(str(src["sha256"])[:12]),
        ]
        if isinstance(src.get("confidence"), str):
            meta += [" · ", strong("Confidence "), str(src["confidence"])]
        if isinstance(src.get("date_as_printed"), str):
            meta += [" · dated as printed: ", str(src["date_as_printed"])]
        doc.add(Paragraph(line(*meta)))
        extra: list[str | Span] = []
        if isinstance(src.get("url"), str) and src["url"]:
            extra += [link(str(src["url"]), str(src["url"])), " "]
        if isinstance(src.get("note"), str) and src["note"]:
            extra += [em(str(src["note"]))]
        if extra:
            doc.add(Paragraph(line(*extra)))
        claims = self.claims_by_source.get(sid, [])
        if not claims:
            doc.add(Paragraph(line(em("No claims."))))
        for claim in claims:
            self.claim_section(doc, claim)

    def claim_section(self, doc: Document, claim: Mapping[str, object]) -> None:
        cid = str(claim["claim_id"])
        subject = self.market_label(claim["market_id"]) or (
            "survey share" if claim["kind"] == "share" else str(claim["kind"])
        )
        doc.add(Heading(4, line(code(str(claim["local_id"])), f" — {subject}"), f"claim-{cid.replace('/', '--')}"))
        figs = self.figures.get(cid, [])
        if figs:
            rows = []
            for f in figs:
                where = f"¶{f['paragraph']}" if _present(f["paragraph"]) else ""
                quote: list[str | Span] = []
                if isinstance(f["locator_text"], str):
                    quote = [" “", em(f["locator_text"]), "”"]
                loc = f"line {f['line']}" if _present(f["line"]) else ""
                rows.append(
                    (
                        line(ROLE_WORDS.get(str(f["role"]), str(f["role"]))),
                        line(strong(str(f["as_written"]))),
                        line(str(f["stands_for"])),
                        line(where, *quote, (" · " if where or quote else "") + loc if loc else ""),
                    )
                )
            doc.add(Table(("Figure", "As written", "Stands for", "Where"), tuple(rows)))
        if cid in self.check_rows:
            sentence, tone = verdict_sentence(self.check_rows[cid], figs)
        else:
            sentence, tone = _unchecked_sentence(claim)
        doc.add(Paragraph(sentence, tone))
        reading = claim.get("reading")
        uses_current = any(f["year_as_written"] == "current" for f in figs)
        if uses_current and isinstance(reading, str):
            doc.add(
                Paragraph(
                    line(
                        strong("Reading of “current”: "),
                        code(reading),
                        " — used for the check, the figures above and the projections.",
                    )
                )
            )
        self.implied_bullets(doc, cid, reading if isinstance(reading, str) else "as_written")
        self.projection_line(doc, cid, claim)
        self.share_section(doc, cid, claim)
        self.cross_lines(doc, cid)
        self.origin_lines(doc, cid)
        if isinstance(claim.get("note"), str) and claim["note"]:
            doc.add(Paragraph(line(strong("Note: "), em(str(claim["note"])))))

    def implied_bullets(self, doc: Document, cid: str, reading: str) -> None:
        # The reading the check used first, the other reading after it.
        imp = sorted(self.implied.get(cid, []), key=lambda r: (r["quantity"], r["reading"] != reading))
        items = []
        for r in imp:
            if r["quantity"] == "cagr":
                what = f"Implied CAGR {r['from_year']}–{r['to_year']}: "
                value = strong(f"{_pct(r['central'])} %")
                band = f" ({_pct_range(r['low'], r['high'])})"
            else:
                what = f"Implied value {r['year']}: "
                value = strong(f"{_num(r['central'])} {r['unit']}")
                band = f" ({_num_range(r['low'], r['high'], r['unit'])})"
            parts: list[str | Span] = [what, value, band]
            if str(r["reading"]).startswith("current="):
                used = "the reading used" if r["reading"] == reading else "the other reading"
                parts += [", ", code(str(r["reading"])), f" ({used})"]
            parts += [". Method: ", str(r["method"]).rstrip(".") + "."]
            if isinstance(r.get("assumption"), str) and r["assumption"]:
                parts += [" ", strong("Assumption:"), f" {r['assumption']}."]
            items.append(line(*parts))
        if items:
            doc.add(Bullets(tuple(items)))

    def projection_line(self, doc: Document, cid: str, claim: Mapping[str, object]) -> None:
        p = self.proj_span.get(cid)
        if p is None:
            return
        bases = " and on ".join(BASIS_WORDS.get(b, b) for b in p["bases"])
        text = f"Projected year by year over {p['first']}–{p['last']} on {bases}"
        text += " (extrapolated beyond the claim's own years)" if p["extrapolated"] else ""
        label = self.market_label(claim["market_id"])
        doc.add(Paragraph(line(text + (f"; see the {label} chart." if label else "."))))

    def share_section(self, doc: Document, cid: str, claim: Mapping[str, object]) -> None:
        g = self.shares.get(cid)
        if not g:
            return
        first, last = g[0], g[-1]
        parent = self.market_label(last["parent_market_id"])
        per_verdict = Counter(r["verdict"] for r in g)  # in order of first appearance
        tone: Tone = "good" if set(per_verdict) == {"plausible"} else "warn"
        if "segment_exceeds_parent" in per_verdict:
            tone = "bad"
        verdict_txt = (
            "plausible in every year"
            if tone == "good"
            else "; ".join(f"{SHARE_WORDS[v]} in {n} year(s)" for v, n in per_verdict.items())
        )
        parts: list[str | Span] = [
            strong(f"Share of the {parent}: "),
            f"{_pct(first['share_central'])} % in {first['year']} → ",
            strong(f"{_pct(last['share_central'])} %"),
            f" in {last['year']} (band {_pct_range(last['share_low'], last['share_high'])}); {verdict_txt}."
            f" Segment path on {BASIS_WORDS[str(last['segment_basis'])]}, parent path on"
            f" {BASIS_WORDS[str(last['parent_basis'])]} of ",
            code(str(last["parent_claim_id"])),
            ".",
        ]
        literal = claim.get("stated_cagr_literal")
        if isinstance(literal, str) and literal:
            # A share whose digits equal the segment's stated CAGR suggests the two were confused.
            digits = _literal(literal)
            decimals = len(digits.partition(".")[2])
            same = [r["year"] for r in g if f"{r['share_central']:.{decimals}f}" == digits]
            if same:
                years = ", ".join(str(y) for y in same)
                parts.append(
                    f" In {years} the share, {digits} %, has the same digits as the segment's stated CAGR"
                    f" ({digits} %): the rate may be a share misread as growth."
                )
        doc.add(Paragraph(line(*parts), tone))
        rows = tuple(
            (
                line(str(y)),
                line(f"{_pct(c)} %"),
                line(_pct_range(lo, hi)),
                line(Span(SHARE_WORDS[v], tone=SHARE_TONE[v])),
            )
            for y, c, lo, hi, v in (
                (r["year"], r["share_central"], r["share_low"], r["share_high"], r["verdict"]) for r in g
            )
        )
        doc.add(Table(("Year", "Share", "Band", "Verdict"), rows, align=("r", "r", "r", "l")))

    def origin_lines(self, doc: Document, cid: str) -> None:
        g = self.origins.get(cid)
        if not g:
            return
        summary = g[0].get("summary")
        head: list[str | Span] = [strong("Origin: ")]
        head.append(str(summary).rstrip(".") + "." if isinstance(summary, str) and summary else "published matches:")
        doc.add(Paragraph(line(*head)))
        items = [_origin_item(r, self.label) for r in g[:3]]
        if len(g) > 3:
            items.append(line(f"… and {len(g) - 3} more (table ", code("claim_origins"), ")."))
        doc.add(Bullets(tuple(items)))

    def cross_lines(self, doc: Document, cid: str) -> None:
        items = []
        for r in self.cross_by_claim.get(cid, []):
            parts: list[str | Span] = [
                f"{r['year']}: {_num(r['value'])} against a median of ",
                strong(_num(r["median"])),
            ]
            if _present(r.get("n_sources")):
                parts.append(f" across {r['n_sources']} sources")
            if _present(r.get("min")) and _present(r.get("max")):
                parts.append(f" (range {_num_range(r['min'], r['max'])})")
            if _present(r.get("deviation_pct")):
                parts.append(f", {_signed_pct(r['deviation_pct'])} from it")
            if r.get("same_definition") is False or r.get("superseded") is True:
                why = "defined differently" if r.get("same_definition") is False else "a superseded edition"
                parts.append(f"; not counted in the range ({why})")
            items.append(line(*parts))
        if not items:
            return
        currency = next(
            (r["currency"] for r in self.cross_by_claim.get(cid, []) if isinstance(r.get("currency"), str)), "USD"
        )
        doc.add(Paragraph(line(strong("Against the other sources"), f" (stated values, {currency} bn):")))
        doc.add(Bullets(tuple(items)))

    # Markets, cross-source, origins --------------------------------------------------------

    def market_sections(self, doc: Document) -> None:
        claims_per = self.claims.groupby("market_id").agg(claims=("claim_id", "size"), sources=("source_id", "nunique"))
        if "_market_counts" in self.t:  # in focus: the charted markets, counted over everything
            claims_per = self.t["_market_counts"].set_index("market_id")[["claims", "sources"]]
        markets = self.t["markets"]
        markets = markets.loc[markets["market_id"].isin(claims_per.index)]
        if markets.empty:
            return
        order = markets.assign(_charted=~markets["market_id"].isin(self.charted)).sort_values(["_charted", "label"])
        doc.add(Heading(2, line("Markets: projections across sources"), "markets"))
        intro = (
            "Each chart draws every source's projection of one market: the central path as a line"
            " (solid on the stated values, dashed on the stated CAGR), the low–high band shaded, and"
            " the stated figures as points."
        )
        if self.cross is not None:
            intro += (
                " The table compares the sources year by year: how many agree on the market's definition"
                " (latest editions only), their median, their range, and the spread (max − min) / median."
            )
        doc.add(Paragraph(line(intro)))
        cross_by_market = {} if self.cross is None else dict(tuple(self.cross.groupby("market_id", sort=False)))
        for m in order.to_dict("records"):
            mid = str(m["market_id"])
            doc.add(Heading(3, line(str(m["label"]), " (", code(mid), ")"), f"market-{mid}"))
            n_claims, n_sources = int(claims_per.at[mid, "claims"]), int(claims_per.at[mid, "sources"])
            facts = [f"{_count(n_claims, 'claim')} from {_count(n_sources, 'source')}"]
            facts += [str(m[k]) for k in ("region", "modality") if isinstance(m.get(k), str)]
            if isinstance(m.get("parent_market_id"), str):
                facts.append(f"segment of the {self.market_label(m['parent_market_id'])}")
            elif isinstance(m.get("comparable_to"), str):
                facts.append(
                    f"defined differently from, but compared with, the {self.market_label(m['comparable_to'])}"
                )
            doc.add(Paragraph(line("; ".join(facts) + ".")))
            if mid in self.charted:
                doc.add(Chart(mid, f"{m['label']}: projections by source ({self.chart_unit(mid)})"))
            if mid in cross_by_market:
                self.cross_table(doc, cross_by_market[mid])

    def chart_unit(self, market_id: str) -> str:
        """The unit of a market's chart: its claims' one currency, or each claim's own."""
        if self.market_currencies is None:
            return "USD bn"
        return unit_label(self.market_currencies.get(market_id, []), several="bn, each claim's currency")

    def cross_table(self, doc: Document, rows: pd.DataFrame) -> None:
        """One row per year (basis and currency): the aggregates repeat on every source's row.
        Sources are compared within a currency, so a market quoted in several currencies has
        a row per currency and year."""
        if rows.empty:
            return
        currencies = rows["currency"].dropna().unique() if "currency" in rows else []
        unit = unit_label(currencies, several="bn")
        order = [("year", True), ("basis", False), ("currency", True)]
        keys = [(k, up) for k, up in order if k in rows and (k != "currency" or len(currencies) > 1)]
        agg = rows.drop_duplicates([k for k, _ in keys]).sort_values(
            [k for k, _ in keys], ascending=[up for _, up in keys]
        )
        cols: list[tuple[str, str, pd.Series]] = [("Year", "r", agg["year"].astype("string"))]
        if "basis" in agg:
            cols.append(("Basis", "l", agg["basis"].map({"stated": "stated values", "projected": "projected paths"})))
        if len(currencies) > 1:
            cols.append(("Currency", "l", agg["currency"].astype("string")))
        if "n_sources" in agg:
            cols.append(("Sources", "r", agg["n_sources"].astype("string")))
        if "median" in agg:
            cols.append((f"Median ({unit})", "r", agg["median"].map(_num_or_blank)))
        if {"min", "max"} <= set(agg.columns):
            lo, hi = agg["min"].tolist(), agg["max"].tolist()
            cols.append((f"Range ({unit})", "r", pd.Series([_num_range(a, b) for a, b in zip(lo, hi, strict=True)])))
        if "spread_pct" in agg:
            cols.append(("Spread", "r", agg["spread_pct"].map(lambda x: f"{_pct(x)} %" if _present(x) else "")))
        values = zip(*(c[2].fillna("").astype(str).tolist() for c in cols), strict=True)
        table_rows = tuple(tuple(line(v) for v in row) for row in values)
        doc.add(Table(tuple(c[0] for c in cols), table_rows, align=tuple(c[1] for c in cols)))

    def origin_section(self, doc: Document) -> None:
        origins = self.t.get("claim_origins")
        if origins is None:
            return
        doc.add(Heading(2, line("Where the articles' figures may come from"), "claim-origins"))
        if not self.origins:
            doc.add(Paragraph(line("No published figure reproduces a claim of an article.")))
            return
        doc.add(
            Paragraph(
                line(
                    "For each claim of an article, the published claims that reproduce its figures within"
                    " rounding, best first; the score is the share of the claim's figures explained."
                )
            )
        )
        rows = []
        # The audited article's claims first, then the other articles'.
        for cid in sorted(self.origins, key=lambda c: (c.split("/")[0] not in self.primary, c)):
            g = self.origins[cid]
            first = g[0]
            summary = first.get("summary")
            src = first.get("matched_source_id")
            rows.append(
                (
                    line(code(str(cid))),
                    line(str(summary) if isinstance(summary, str) else ""),
                    line(
                        code(str(first["matched_claim_id"])) if isinstance(first.get("matched_claim_id"), str) else "—"
                    ),
                    line(str(self.label.get(src, src)) if isinstance(src, str) else "—"),
                    line(_num(float(first["score"]), 2) if _present(first.get("score")) else ""),
                    line(str(len(g))),
                )
            )
        doc.add(
            Table(
                ("Claim", "Origin", "Best match", "Its source", "Score", "Matches"),
                tuple(rows),
                align=("l", "l", "l", "l", "r", "r"),
            )
        )


def _origin_item(r: Mapping[str, object], labels: pd.Series) -> Inline:
    parts: list[str | Span] = []
    if isinstance(r.get("matched_claim_id"), str):
        parts.append(code(str(r["matched_claim_id"])))
    src = r.get("matched_source_id")
    if isinstance(src, str):
        parts.append(f" ({labels.get(src, src)})")
    if _present(r.get("score")):
        parts.append(f", score {_num(float(r['score']), 2)}")  # type: ignore[arg-type]
    # The explanation already names the parts reproduced; the bare list is the fallback.
    if isinstance(r.get("explanation"), str) and r["explanation"]:
        parts += [" — ", em(str(r["explanation"]))]
    elif _present_any(r.get("parts_matched")):
        parts.append(f", reproduces {_listing(r['parts_matched'])}")
    return line(*parts) if parts else line("a match")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _num_or_blank(x: object) -> str:
    return _num(float(x)) if _present(x) else ""  # type: ignore[arg-type]


def _present_any(x: object) -> bool:
    if isinstance(x, list | tuple | np.ndarray):
        return len(x) > 0
    return _present(x) and x != ""


def _listing(x: object) -> str:
    if isinstance(x, list | tuple | np.ndarray):
        return ", ".join(str(v) for v in x)
    return str(x)


# --- Public API -------------------------------------------------------------------------


# Beyond this many sources the report keeps its summary, articles, markets and origins only.
DETAIL_LIMIT = 300


def in_focus(tables: TablesLike) -> bool:
    """Whether the tables are a large warehouse's, loaded in focus (or as many sources): the
    report then leaves out each report's own section."""
    t = as_tables(tables)
    return "_totals" in t or len(t["sources"]) > DETAIL_LIMIT


def build_document(tables: TablesLike, reports: bool = True) -> Document:
    return _Report(as_tables(tables)).document(reports)


def render_markdown(tables: TablesLike, chart_links: Mapping[str, str] | None = None, *, reports: bool = True) -> str:
    """The audit report as Markdown (plain headings and tables: the Dagster UI renders it).

    ``chart_links`` maps a market id to an image path or URL to show its chart; without it
    the Markdown carries no images (the UI could not load local files anyway).
    ``reports=False`` leaves out the per-report detail (about four fifths of the text): the
    summary, the article, the markets and the origins remain, which suits a UI preview.
    """
    return to_markdown(build_document(tables, reports), chart_links)


def render_html(tables: TablesLike, charts: Mapping[str, bytes] | None = None) -> str:
    """The audit report as one standalone HTML page: inline CSS, charts embedded as base64
    PNGs (``charts`` maps a market id to PNG bytes), no scripts, no external resources."""
    return to_html(build_document(tables), charts)


def write_report(
    tables: TablesLike, out_dir: Path, charts: Mapping[str, Path] | None = None, *, reports: bool | None = None
) -> dict[str, Path]:
    """Write ``audit_report.md`` and ``audit_report.html`` into ``out_dir``.

    ``charts`` maps a market id to a chart PNG (as written by ``write_charts``): the HTML
    embeds it, the Markdown links it relative to ``out_dir``. Each file is replaced
    atomically, so a reader never opens half a report. ``reports`` (default: only up to
    DETAIL_LIMIT sources) includes each report's own section.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = as_tables(tables)
    doc = build_document(t, not in_focus(t) if reports is None else reports)
    charts = charts or {}
    links = {m: Path(os.path.relpath(Path(p).resolve(), out_dir.resolve())).as_posix() for m, p in charts.items()}
    pngs = {m: Path(p).read_bytes() for m, p in charts.items()}
    paths = {"markdown": out_dir / MARKDOWN_NAME, "html": out_dir / HTML_NAME}
    _write_atomic(paths["markdown"], to_markdown(doc, links))
    _write_atomic(paths["html"], to_html(doc, pngs))
    return paths


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the report is for every reader
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
