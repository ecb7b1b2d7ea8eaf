"""The audit report and the projection charts, on the real sources (data/sources)."""

import re
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cdmo_pipeline.core.tables import build
from cdmo_pipeline.reporting import (
    in_focus,
    load_tables,
    projection_chart,
    render_html,
    render_markdown,
    write_charts,
    write_report,
)
from cdmo_pipeline.reporting import report as report_module
from cdmo_pipeline.reporting.report import (
    OPTIONAL_TABLES,
    REQUIRED_TABLES,
    ReportInputError,
    as_tables,
    source_label,
    source_labels,
)

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "data" / "sources"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return dict(build(SOURCES).items())


@pytest.fixture(scope="module")
def base_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The eight tables of DESIGN §8 only: no cross-source comparison, no origins."""
    return {n: tables[n] for n in REQUIRED_TABLES}


@pytest.fixture(scope="module")
def markdown(tables: dict[str, pd.DataFrame]) -> str:
    return render_markdown(tables)


@pytest.fixture(scope="module")
def charts(tables: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_charts(tables, tmp_path_factory.mktemp("charts"))


def section(text: str, start: str, end: str) -> str:
    """The text from the line ``start`` up to the next line starting with ``end``."""
    i = text.index("\n" + start) + 1
    j = text.find("\n" + end, i + len(start))
    return text[i : j if j >= 0 else len(text)]


def article(md: str) -> str:
    return section(md, "## The article", "## ")


def claim(md: str, local_id: str) -> str:
    return section(article(md), f"#### `{local_id}`", "#### ")


# --- Markdown -------------------------------------------------------------------------


def test_global_claim_verdict_in_words(markdown: str) -> None:
    text = claim(markdown, "global-cdmo-market")
    assert "**over USD 465 billion (2032)**" in text
    assert "**9% CAGR, 2025–2032**" in text
    assert "(465, 466] USD bn" in text  # "over 465" excludes 465 itself
    assert (
        "**Consistent.** The stated 9 % fits the endpoints, which imply 8.93–9.03 % (central 8.96 %) over 2025–2032."
        in text
    )


def test_india_both_readings_of_current(markdown: str) -> None:
    text = claim(markdown, "india-pharma-industry")
    assert "**USD 50 billion (current → 2025)**" in text
    assert (
        "No CAGR is stated; the values imply 21.06 % a year (20.72–21.40 %) over 2025–2030 (reading current=2025)"
        in text
    )
    assert "Implied CAGR 2025–2030: **21.06 %**" in text
    assert "Implied CAGR 2024–2030: **17.26 %**" in text
    assert "`current=2024` (the other reading)" in text
    assert "**Reading of “current”:** `current=2025`" in text


def test_biologics_implied_value_assumption_and_share(markdown: str) -> None:
    text = claim(markdown, "biologics-cdmo-segment")
    assert "**Unverifiable.**" in text
    assert "rests on the assumption “period not stated" in text
    assert "Implied value 2025: **26.29 USD bn** (26.10–26.48 USD bn)" in text
    assert "**Share of the Global CDMO market:** 10.31 % in 2025 → **15.48 %** in 2032" in text
    assert "has the same digits as the segment's stated CAGR (15.48 %)" in text
    assert "| 2032 | 15.48 % | 15.34–15.59 % | plausible |" in text


def test_share_claim_is_listed_not_checked(markdown: str) -> None:
    text = claim(markdown, "executives-ai-critical")
    assert "**over 60% of pharma executives who see AI as critical to competitiveness**" in text
    assert "**Not checked.**" in text


def test_virtue_inconsistency_and_hint(markdown: str) -> None:
    summary = section(markdown, "### Inconsistent claims", "## ")
    row = next(ln for ln in summary.splitlines() if "`virtue-cdmo-2025/cdmo-market`" in ln)
    assert "| 9.7 % |" in row
    assert "| 1.63 |" in row
    assert "consistent if counted over 5 years instead of 6" in row
    text = section(markdown, "### Virtue Market Research: Contract Development", "### ")
    assert "**Inconsistent.** The stated 9.7 % (9.65–9.75 %) does not follow from the endpoints" in text
    assert "8.019–8.021 % (central 8.02 %) over 2024–2030" in text
    assert "1.63 percentage points away" in text
    assert "**Hint:** consistent if counted over 5 years instead of 6" in text


def test_summary_counts_and_source_order(markdown: str, tables: dict[str, pd.DataFrame]) -> None:
    checks = tables["cagr_checks"]["verdict"].value_counts()
    summary = section(markdown, "## Summary", "## ")
    assert f"**{len(tables['sources'])} sources**" in summary
    assert f"**{len(tables['claims'])} claims**" in summary
    for verdict in ("consistent", "inconsistent", "unverifiable"):
        assert re.search(rf"\| \*\*{verdict}\*\* \| \d+ \| \d+ \| {checks[verdict]} \|", summary), verdict
    assert markdown.index("## The article") < markdown.index("## Published reports")
    reports = section(markdown, "## Published reports", "## ")
    publishers = [ln[4:].split(": ")[0] for ln in reports.splitlines() if ln.startswith("### ")]
    assert len(publishers) == len(tables["sources"]) - 1
    assert publishers == sorted(publishers, key=str.casefold)


def test_ui_preview_leaves_out_report_detail(markdown: str, tables: dict[str, pd.DataFrame]) -> None:
    short = render_markdown(tables, reports=False)
    assert len(short) < len(markdown) / 3
    assert article(short) == article(markdown)
    assert "`virtue-cdmo-2025/cdmo-market`" in short  # still in the summary's list
    assert "### Virtue Market Research" not in short


def test_markdown_has_no_raw_html(markdown: str) -> None:
    assert not re.search(r"<[a-zA-Z/]", markdown)


def test_optional_tables_absent(base_tables: dict[str, pd.DataFrame]) -> None:
    md = render_markdown(base_tables)
    assert "8.96" in md
    assert "## Where the articles' figures may come from" not in md
    assert "Against the other sources" not in md
    assert "| Year | Basis | Sources |" not in md
    assert "<html" in render_html(base_tables)


def test_optional_tables_small_fakes(base_tables: dict[str, pd.DataFrame]) -> None:
    cross = pd.DataFrame(
        {
            "market_id": ["global-cdmo", "global-cdmo"],
            "year": [2030, 2032],
            "n_sources": [3, 2],
            "min": [300.0, 440.0],
            "median": [333.33, 455.5],
            "max": [390.0, 470.0],
            "spread_pct": [27.0, 6.59],
        }
    )
    origins = pd.DataFrame(
        {
            "claim_id": ["cdmo-article-2025/global-cdmo-market"],
            "matched_claim_id": ["fbi-cdmo-2025/cdmo-market"],
            "matched_source_id": ["fbi-cdmo-2025"],
            "parts_matched": [["start", "end", "cagr"]],
            "score": [0.97],
            "explanation": ["all three figures within rounding"],
        }
    )
    tables = {**base_tables, "cross_source": cross, "claim_origins": origins}
    md = render_markdown(tables)
    markets = section(md, "## Markets", "## ")
    assert "| 2030 | 3 | 333.33 | 300–390 | 27.00 % |" in markets
    assert "| 2032 | 2 | 455.5 | 440–470 | 6.59 % |" in markets
    origin = section(md, "## Where the articles' figures may come from", "## ")
    assert "`fbi-cdmo-2025/cdmo-market`" in origin
    assert "0.97" in origin
    assert "score 0.97 — *all three figures within rounding*" in claim(md, "global-cdmo-market")
    no_explanation = {**tables, "claim_origins": origins.drop(columns="explanation")}
    assert "score 0.97, reproduces start, end, cagr" in claim(render_markdown(no_explanation), "global-cdmo-market")
    html = render_html(tables)
    assert "333.33" in html
    assert "all three figures within rounding" in html


def test_text_from_sources_is_escaped(base_tables: dict[str, pd.DataFrame]) -> None:
    sources = base_tables["sources"].copy()
    sources.loc[sources["source_id"] == "cdmo-article-2025", "publisher"] = "A|B <script>x</script> *C*"
    tables = {**base_tables, "sources": sources}
    md = render_markdown(tables)
    assert r"A\|B \<script\>x\</script\> \*C\*" in md
    html = render_html(tables)
    assert "<script>" not in html
    assert "A|B &lt;script&gt;x&lt;/script&gt; *C*" in html


def test_missing_table_is_a_clear_error(base_tables: dict[str, pd.DataFrame]) -> None:
    tables = {n: df for n, df in base_tables.items() if n != "cagr_checks"}
    with pytest.raises(ReportInputError, match="cagr_checks"):
        render_markdown(tables)


# --- HTML -----------------------------------------------------------------------------

VOID = {"meta", "img", "br", "hr", "link", "input", "source", "col", "area", "base", "wbr"}


class TagChecker(HTMLParser):
    """Every element closed, in order: stricter than browsers need, so the page is well-formed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'} at {self.getpos()}")
        else:
            self.stack.pop()


def check_html(html: str) -> TagChecker:
    checker = TagChecker()
    checker.feed(html)
    checker.close()
    assert not checker.errors, checker.errors[:5]
    assert not checker.stack, checker.stack
    return checker


def test_html_standalone_and_well_formed(tables: dict[str, pd.DataFrame]) -> None:
    html = render_html(tables)
    checker = check_html(html)
    assert html.startswith("<!DOCTYPE html>")
    assert {"html", "head", "style", "body", "table", "nav"} <= checker.tags
    assert "script" not in checker.tags
    assert "link" not in checker.tags
    assert not re.search(r'src="(?!data:)', html)  # nothing fetched from elsewhere
    for number in ("8.96", "21.06", "17.26", "26.29", "15.48", "8.019–8.021"):
        assert number in html
    assert 'class="tone tone-good"' in html
    assert 'class="tone tone-bad"' in html
    assert "consistent if counted over 5 years instead of 6" in html


def test_html_embeds_charts(tables: dict[str, pd.DataFrame]) -> None:
    png = PNG_MAGIC + b"fake"
    html = render_html(tables, {"global-cdmo": png, "india-pharma": png})
    check_html(html)
    assert html.count('src="data:image/png;base64,') == 2


def test_write_report(tables: dict[str, pd.DataFrame], charts: dict[str, Path], tmp_path: Path) -> None:
    # Charts beside the report, as the pipeline writes them under data/reports/.
    beside = {m: tmp_path / p.name for m, p in charts.items()}
    for m, p in charts.items():
        beside[m].write_bytes(p.read_bytes())
    paths = write_report(tables, tmp_path, beside)
    assert paths == {"markdown": tmp_path / "audit_report.md", "html": tmp_path / "audit_report.html"}
    md, html = paths["markdown"].read_text("utf-8"), paths["html"].read_text("utf-8")
    # The Markdown links each chart relative to itself; the HTML carries them inside.
    for market_id in charts:
        assert f"](projections_{market_id}.png)" in md
    assert html.count('src="data:image/png;base64,') == len(charts)
    check_html(html)
    # The image lines are the only difference from the Markdown shown in the UI.
    assert re.sub(r"\n\n!\[[^\n]*\]\([^)\n]*\)", "", md) == render_markdown(tables)


def _warehouse(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    """The tables as a DuckDB file, as a refresh publishes them."""
    with duckdb.connect(str(path)) as con:
        for name, df in tables.items():
            con.register("frame", df)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
            con.unregister("frame")
    return path


def test_load_tables_round_trip(tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    path = _warehouse(tables, tmp_path / "w.duckdb")
    with duckdb.connect(str(path), read_only=True) as con:
        loaded = load_tables(con)
    assert set(loaded) == set(REQUIRED_TABLES) | set(OPTIONAL_TABLES)
    assert render_markdown(loaded) == render_markdown(tables)
    with duckdb.connect(str(path)) as con:
        con.execute("DROP TABLE cross_source")
        con.execute("DROP TABLE claim_origins")
    with duckdb.connect(str(path), read_only=True) as con:
        assert set(load_tables(con)) == set(REQUIRED_TABLES)
    with duckdb.connect(str(path)) as con:
        con.execute("DROP TABLE projections")
    with duckdb.connect(str(path), read_only=True) as con, pytest.raises(ReportInputError, match="projections"):
        load_tables(con)


# --- Charts ---------------------------------------------------------------------------


def test_one_chart_per_market_with_projections(tables: dict[str, pd.DataFrame], charts: dict[str, Path]) -> None:
    markets = set(tables["projections"]["market_id"].dropna())
    assert set(charts) == markets
    for market_id, path in charts.items():
        assert path.name == f"projections_{market_id}.png"
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 20_000  # lines, legend and labels, not an empty canvas


def test_chart_bytes_are_deterministic(tables: dict[str, pd.DataFrame], charts: dict[str, Path]) -> None:
    again = projection_chart(tables, "global-cdmo")
    assert again == charts["global-cdmo"].read_bytes()
    assert b"Software" not in again
    assert b"tIME" not in again


def test_tables_are_normalised_once_for_every_chart(tables: dict[str, pd.DataFrame]) -> None:
    t = as_tables(tables)
    assert as_tables(t) is t  # passed through, not copied again per chart
    assert source_labels(t) is source_labels(t)  # computed once
    pd.testing.assert_series_equal(source_labels(t), source_label(t["sources"]))
    pd.testing.assert_series_equal(source_labels(tables), source_label(t["sources"]))


def test_chart_of_unknown_market(tables: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(ValueError, match="no projections"):
        projection_chart(tables, "no-such-market")


def test_a_few_very_large_sources_are_reported_in_focus(
    tables: dict[str, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few sources of many claims (one source of a million claims) are loaded in focus, as
    many sources are: counts over everything, a chart drawing a few claims of each source."""
    path = _warehouse(tables, tmp_path / "w.duckdb")
    with duckdb.connect(str(path), read_only=True) as con:
        assert not in_focus(load_tables(con))  # the article and its reports: in full
    assert len(tables["sources"]) <= report_module.DETAIL_LIMIT
    monkeypatch.setattr(report_module, "FOCUS_CLAIMS", len(tables["claims"]) - 1)
    monkeypatch.setattr(report_module, "FOCUS_CLAIMS_PER_SOURCE", 1)
    with duckdb.connect(str(path), read_only=True) as con:
        loaded = load_tables(con)
    assert in_focus(loaded)
    assert int(loaded["_totals"].iloc[0]["claims"]) == len(tables["claims"])  # counted over everything
    drawn = loaded["projections"].groupby(["market_id", "source_id"])["claim_id"].nunique()
    assert drawn.max() == 1 and len(drawn) > 1
    paths = write_report(loaded, tmp_path / "out")
    assert len(paths["markdown"].read_text()) < len(render_markdown(tables))  # no per-report sections
    # cross_source in focus: one row per market, currency, year and basis (the aggregates
    # repeat on every row), with the same aggregates as the whole table.
    keys = ["market_id", "currency", "year", "basis"]
    stats = [*keys, "n_sources", "min", "median", "max"]
    focused = loaded["cross_source"]
    whole = tables["cross_source"].loc[tables["cross_source"]["market_id"].isin(focused["market_id"])]
    assert 0 < len(focused) < len(whole)

    def aggregates(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.drop_duplicates(keys)[stats].astype({"market_id": str, "currency": str, "basis": str})
        return out.sort_values(keys).reset_index(drop=True)

    pd.testing.assert_frame_equal(aggregates(focused), aggregates(whole), check_dtype=False)


def test_a_market_quoted_in_two_currencies_has_a_row_per_currency(base_tables: dict[str, pd.DataFrame]) -> None:
    # Sources are compared within a currency: each currency's aggregates, labelled.
    cross = pd.DataFrame(
        {
            "market_id": ["global-cdmo"] * 3,
            "currency": ["USD", "USD", "EUR"],
            "year": [2030, 2030, 2030],
            "basis": ["stated"] * 3,
            "claim_id": ["a/x", "b/x", "c/x"],
            "value": [300.0, 390.0, 280.0],
            "n_sources": [3, 3, 2],
            "min": [300.0, 300.0, 250.0],
            "median": [333.33, 333.33, 280.0],
            "max": [390.0, 390.0, 300.0],
            "spread_pct": [27.0, 27.0, 17.86],
        }
    )
    markets = section(render_markdown({**base_tables, "cross_source": cross}), "## Markets", "## ")
    assert "| Year | Basis | Currency | Sources | Median (bn) | Range (bn) | Spread |" in markets
    assert "| 2030 | stated values | EUR | 2 | 280 | 250–300 | 17.86 % |" in markets
    assert "| 2030 | stated values | USD | 3 | 333.33 | 300–390 | 27.00 % |" in markets
    one = section(render_markdown({**base_tables, "cross_source": cross.iloc[2:]}), "## Markets", "## ")
    assert "| Year | Basis | Sources | Median (EUR bn) | Range (EUR bn) | Spread |" in one
    # The chart's caption: the market's one currency, or each claim's own.
    links = {"global-cdmo": "chart.png"}
    assert "Global CDMO market: projections by source (USD bn)" in render_markdown(base_tables, links)
    proj = base_tables["projections"].copy()
    first = proj["claim_id"] == proj.loc[proj["market_id"] == "global-cdmo", "claim_id"].iloc[0]
    proj["currency"] = proj["currency"].astype(str).where(~first, "EUR")
    mixed = render_markdown({**base_tables, "projections": proj}, links)
    assert "Global CDMO market: projections by source (bn, each claim's currency)" in mixed


def test_labels_the_font_cannot_draw_fall_back_to_ids(tables: dict[str, pd.DataFrame]) -> None:
    """A publisher or market label in a script the chart's font lacks would be drawn as empty
    boxes, with a warning per character on the user's terminal; the id stands in for it."""
    import io
    import warnings

    from matplotlib.figure import Figure

    from cdmo_pipeline.reporting.charts import drawable

    # must not fall back: Latin letters with accents, dashes, the ellipsis of a cut label
    for text in ("Précédence – Ltd (2024)", "Ölçüm Araştırma… (2023)", "BCC Research (2025)"):
        assert drawable(text, "the-id") == text
    # must fall back: a Japanese publisher
    assert drawable("株式会社矢野経済研究所 (2024)", "yano-2024") == "yano-2024"

    with warnings.catch_warnings(record=True) as control:
        warnings.simplefilter("always")
        fig = Figure()
        fig.text(0, 0, "矢野経済研究所")
        fig.savefig(io.BytesIO(), format="png")
    if not any("Glyph" in str(w.message) for w in control):
        pytest.skip("this machine's chart font draws Japanese")
    t = {**tables, "sources": tables["sources"].assign(publisher="株式会社矢野経済研究所")}
    t["markets"] = tables["markets"].assign(label="グローバルCDMO市場")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = projection_chart(t, "global-cdmo")
    assert png.startswith(PNG_MAGIC)
    assert [str(w.message) for w in caught if "Glyph" in str(w.message)] == []
