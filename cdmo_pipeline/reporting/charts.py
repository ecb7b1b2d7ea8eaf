"""Projection charts: per market, every source's path, band and stated figures, as PNG.

Drawn on matplotlib's Agg canvas through ``Figure`` objects, never through pyplot: no global
backend or figure registry is touched, so this is safe in a Dagster worker, a thread, or a
notebook that uses another backend. PNGs are written without the "Software" text chunk, the
only thing that could vary between runs: the same tables give the same bytes.
"""

import functools
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, fontManager, get_font
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from cdmo_pipeline.reporting.report import (
    TablesLike,
    as_tables,
    is_primary,
    ordered_sources,
    source_label,
    source_labels,
    unit_label,
)

VALUE_ROLES = ("start", "point", "end")
PRIMARY_COLOUR = "#111111"  # the audited article, in black, above the reports
DPI = 110


# Bounds that keep charts readable (and a million-claim refresh's reports step short).
MAX_SOURCES_PER_CHART = 20
MAX_CHARTS = 24
MAX_NOT_DRAWN = 6  # lone values named under a chart; the rest are counted


def _palette(n: int) -> list[str]:
    """Distinct colours for the reports: tab20's strong tones, then its light ones, without its
    greys (too close to the article's black)."""
    tab20 = [to_hex(c) for c in colormaps["tab20"].colors]  # type: ignore[attr-defined]
    base = [c for i, c in enumerate(tab20[0::2] + tab20[1::2]) if i not in (7, 17)]
    return [base[i % len(base)] for i in range(n)]


@functools.cache
def _fonts() -> tuple[object, ...]:
    """The fonts text is drawn in: rcParams' families, each one's fallbacks included."""
    by_props = getattr(fontManager, "_find_fonts_by_props", None)  # matplotlib's own fallback list
    paths = by_props(FontProperties()) if by_props else [findfont(FontProperties())]
    return tuple(get_font(path) for path in paths)


def drawable(text: str, fallback: str) -> str:
    """``text`` when the chart's fonts have a glyph for each of its characters, else
    ``fallback`` (an id: lowercase ASCII). A publisher written in a script the fonts lack
    would be drawn as empty boxes, with a warning per character; its id says which source."""
    fonts = _fonts()
    ok = all(any(f.get_char_index(ord(c)) for f in fonts) for c in text if not c.isspace())
    return text if ok else fallback


def _drawable_labels(labels: pd.Series) -> pd.Series:
    """Source labels (by source id) the font can draw; the id stands in for the others."""
    return pd.Series([drawable(str(v), str(k)) for k, v in labels.items()], index=labels.index, dtype=object)


def chart_file_name(market_id: str) -> str:
    return f"projections_{market_id}.png"


def projection_chart(tables: TablesLike, market_id: str) -> bytes:
    """PNG of one market's projections: each claim's central path (solid on the stated values,
    dashed on the stated CAGR), its low–high band shaded, the stated figures as points (ranges
    as error bars; ▲ for "over", ▼ for "nearly"), each source its own colour."""
    t = as_tables(tables)
    proj = t["projections"]
    proj = proj.loc[proj["market_id"] == market_id]
    if proj.empty:
        raise ValueError(f"no projections for market {market_id!r}")
    markets = t["markets"].set_index("market_id")
    label = drawable(str(markets["label"].get(market_id, market_id)), market_id)
    sources = t["sources"]
    sources = ordered_sources(sources.loc[sources["source_id"].isin(proj["source_id"].unique())])
    n_sources = len(sources)
    if n_sources > MAX_SOURCES_PER_CHART:
        # A chart of thousands of paths shows nothing: the articles first, then the reports in
        # order, up to the cap; the title says how many are left out.
        sources = sources.head(MAX_SOURCES_PER_CHART)
        proj = proj.loc[proj["source_id"].isin(sources["source_id"])]
    names = _drawable_labels(source_label(sources))
    primary = is_primary(sources).to_numpy()
    colours = dict(
        zip(
            sources["source_id"],
            np.where(primary, PRIMARY_COLOUR, _palette(len(sources))),
            strict=True,
        )
    )

    fig = Figure(figsize=(11.5, 6.2), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.065, 0.13, 0.6, 0.78))
    proj = proj.sort_values(["claim_id", "basis", "year"])
    _draw_paths(ax, proj, colours)
    ax.autoscale_view()

    figs = _stated_values(t, proj["claim_id"].unique())
    for sid, g in figs.groupby("source_id", sort=True):
        colour = colours.get(sid, PRIMARY_COLOUR)
        _points(ax, g, colour, 6 if colour == PRIMARY_COLOUR else 4)

    shown = "" if n_sources == len(sources) else f" ({len(sources)} of {n_sources} sources)"
    ax.set_title(f"{label}: projections by source{shown}", fontsize=12, loc="left", pad=10)
    currencies = proj["currency"].dropna().unique()
    ax.set_ylabel(unit_label(currencies, several="bn (currency of each claim)"))
    ax.set_xlabel("Year")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    handles = [Line2D([], [], color=colours[s], lw=2.5) for s in sources["source_id"]]
    src_legend = ax.legend(
        handles,
        [names[s] for s in sources["source_id"]],
        title="Source",
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize=7,
        title_fontsize=8,
        frameon=False,
    )
    src_legend._legend_box.align = "left"  # titles flush with the entries
    ax.add_artist(src_legend)
    # The key lists only what this chart draws.
    grey = "#555555"
    kinds = _point_kinds(figs)
    key = [
        (proj["basis"].eq("endpoints").any(), Line2D([], [], color=grey, lw=1.6), "path on the stated values"),
        (proj["basis"].eq("stated_cagr").any(), Line2D([], [], color=grey, lw=1.3, ls="--"), "path on the stated CAGR"),
        (proj["is_extrapolated"].any(), Line2D([], [], color=grey, lw=1.3, ls=":"), "extrapolated"),
        (True, Patch(color=grey, alpha=0.25, lw=0), "low–high band"),
        (kinds["plain"].any(), Line2D([], [], color=grey, marker="o", ls="", ms=5), "stated value"),
        (kinds["floor"].any(), Line2D([], [], color=grey, marker="^", ls="", ms=5), "stated floor (over, at least)"),
        (kinds["ceiling"].any(), Line2D([], [], color=grey, marker="v", ls="", ms=5), "stated ceiling (nearly, under)"),
        (kinds["range"].any(), Line2D([], [], color=grey, marker="s", ls="", ms=4), "stated range"),
    ]
    shown = [(h, txt) for cond, h, txt in key if cond]
    ax.legend(
        [h for h, _ in shown],
        [txt for _, txt in shown],
        loc="lower left",
        bbox_to_anchor=(1.02, 0.0),
        fontsize=7,
        frameon=False,
    )

    missing = _not_drawn(t, market_id, set(proj["claim_id"]))
    if missing:
        fig.text(0.065, 0.015, "Not drawn (a single value, no growth rate): " + missing, fontsize=7, color=grey)

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _draw_paths(ax: object, proj: pd.DataFrame, colours: dict[str, str]) -> None:
    """Every claim's central path and band, one collection per layer rather than one artist per
    claim (a market of a large corpus has thousands of paths). ``proj`` is sorted by claim,
    basis and year, so each path is a run of rows.

    A path is solid on the stated values, dashed on the stated CAGR, dotted where extrapolated
    (from its last own year, so the line is continuous). The stated-CAGR band is drawn only
    when it is the claim's only path: two bands per claim would bury the chart."""
    key = proj["claim_id"].astype(str).to_numpy() + "|" + proj["basis"].astype(str).to_numpy()
    n = len(key)
    first = np.r_[True, key[1:] != key[:-1]] if n else np.zeros(0, bool)
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    x = proj["year"].to_numpy(float)
    central, low, high = (proj[c].to_numpy(float) for c in ("central", "low", "high"))
    extrap = proj["is_extrapolated"].to_numpy(bool)
    endpoints = (proj["basis"] == "endpoints").to_numpy()
    colour = proj["source_id"].map(colours).to_numpy(object)[starts]
    article = colour == PRIMARY_COLOUR
    claims_with_endpoints = proj.loc[endpoints, "claim_id"].unique()
    banded = endpoints[starts] | ~proj["claim_id"].iloc[starts].isin(claims_with_endpoints).to_numpy()

    # Own years, and the dotted tail: extrapolated years plus the last own year before them.
    row = np.arange(n)
    last_own = np.maximum.reduceat(np.where(extrap, -1, row), starts) if n else np.zeros(0, int)
    tail = extrap.copy()
    joins = last_own[(last_own >= 0) & np.logical_or.reduceat(extrap, starts)] if n else last_own
    tail[joins] = True
    layers = [(~extrap, np.where(endpoints[starts], "-", "--")), (tail, np.full(len(starts), ":"))]

    for is_article, z, width in ((False, 2, 1.3), (True, 3, 2.0)):
        pick = article == is_article
        # Bands: each polygon runs forward along the high ends and back along the low ends.
        g = np.flatnonzero(pick & banded)
        rows = np.flatnonzero(np.isin(group, g))
        if len(rows):
            order = np.lexsort((np.r_[row[rows], -row[rows]], np.r_[np.zeros(len(rows)), np.ones(len(rows))],
                                np.r_[group[rows], group[rows]]))  # fmt: skip
            verts = np.column_stack([np.r_[x[rows], x[rows]], np.r_[high[rows], low[rows]]])[order]
            cuts = np.flatnonzero(np.diff(np.r_[group[rows], group[rows]][order])) + 1
            ax.add_collection(  # type: ignore[attr-defined]
                PolyCollection(np.split(verts, cuts), facecolors=colour[g], alpha=0.13, lw=0, zorder=z)
            )
        for rows_mask, styles in layers:
            rows = np.flatnonzero(rows_mask & pick[group])
            if not len(rows):
                continue
            cuts = np.flatnonzero(np.diff(group[rows])) + 1
            g = group[rows][np.r_[0, cuts]]
            segments = np.split(np.column_stack([x[rows], central[rows]]), cuts)
            ax.add_collection(  # type: ignore[attr-defined]
                LineCollection(
                    segments, colors=colour[g], linestyles=list(styles[g]), linewidths=width, alpha=0.95, zorder=z
                )
            )


def _stated_values(t: dict[str, pd.DataFrame], claim_ids: np.ndarray) -> pd.DataFrame:
    f = t["figures"]
    f = f.loc[f["claim_id"].isin(claim_ids) & f["role"].isin(VALUE_ROLES) & f["year"].notna()]
    return f.assign(year=f["year"].astype(int))


def _point_kinds(g: pd.DataFrame) -> dict[str, np.ndarray]:
    """How each stated value is marked: a range, a floor ("over"), a ceiling ("nearly"), or plain."""
    is_range = g["is_range"].to_numpy(bool)
    floor = ~is_range & (g["low_open"].to_numpy(bool) | (g["qualifier"] == "at least").to_numpy(bool))
    ceiling = ~is_range & ~floor & g["high_open"].to_numpy(bool)
    return {"range": is_range, "floor": floor, "ceiling": ceiling, "plain": ~(is_range | floor | ceiling)}


def _points(ax: object, g: pd.DataFrame, colour: str, z: int) -> None:
    """A source's stated values: ranges as error bars, one-sided qualifiers as ▲/▼."""
    k = _point_kinds(g)
    is_range, floor, ceiling, plain = k["range"], k["floor"], k["ceiling"], k["plain"]
    x, v = g["year"].to_numpy(int), g["value"].to_numpy(float)
    kw = {"color": colour, "zorder": z, "markeredgecolor": "white", "markeredgewidth": 0.6, "ls": ""}
    for mask, marker, size in ((plain, "o", 5.5), (floor, "^", 6.5), (ceiling, "v", 6.5)):
        if mask.any():
            ax.plot(x[mask], v[mask], marker=marker, ms=size, **kw)  # type: ignore[attr-defined]
    if is_range.any():
        err = np.vstack([v - g["low"].to_numpy(float), g["high"].to_numpy(float) - v])[:, is_range]
        ax.errorbar(  # type: ignore[attr-defined]
            x[is_range], v[is_range], yerr=err, fmt="s", ms=4.5, color=colour, capsize=3, lw=1.2, zorder=z
        )


def _not_drawn(t: dict[str, pd.DataFrame], market_id: str, drawn: set[str]) -> str:
    """Claims of the market with no projection (a lone value), named so the chart hides nothing."""
    claims = t["claims"]
    rest = claims.loc[(claims["market_id"] == market_id) & ~claims["claim_id"].isin(drawn)]
    f = t["figures"]
    f = f.loc[f["claim_id"].isin(rest["claim_id"]) & f["role"].isin(VALUE_ROLES)]
    if f.empty:
        return ""
    year = f["year"].astype("string").fillna("?")
    names = _drawable_labels(source_labels(t).loc[lambda s: s.index.isin(f["source_id"])])
    text = sorted(
        (
            f["source_id"].map(names) + ", " + year + ": " + f["literal"].astype(str) + " " + f["unit"].astype(str)
        ).tolist()
    )
    more = f" and {len(text) - MAX_NOT_DRAWN:,} more" if len(text) > MAX_NOT_DRAWN else ""
    return "; ".join(text[:MAX_NOT_DRAWN]) + more


def chart_markets(tables: TablesLike, limit: int = MAX_CHARTS) -> list[str]:
    """The markets worth a chart: those the articles speak of, then the most covered, to ``limit``."""
    t = as_tables(tables)
    proj = t["projections"]
    covered = proj.groupby("market_id")["source_id"].nunique().sort_values(ascending=False, kind="stable")
    primary = set(t["sources"].loc[is_primary(t["sources"]), "source_id"])
    first = sorted(set(proj.loc[proj["source_id"].isin(primary), "market_id"].dropna()))
    rest = [m for m in covered.index if m not in first]
    return (first + rest)[: max(limit, len(first))]


def write_charts(tables: TablesLike, out_dir: Path, markets: list[str] | None = None) -> dict[str, Path]:
    """Write ``projections_<market_id>.png`` for each market (default: every market with
    projections); returns {market_id: path}."""
    t = as_tables(tables)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    wanted = markets if markets is not None else t["projections"]["market_id"].dropna().unique()
    for market_id in sorted(wanted):
        path = out_dir / chart_file_name(market_id)
        # A chart is drawn again only when what it shows changed: a daily refresh of unchanged
        # sources reuses it (rendering is most of the reports step's time).
        stamp = path.with_name(f".{path.name}.inputs")
        key = _inputs_key(t, market_id)
        if not (path.exists() and stamp.exists() and stamp.read_text() == key):
            png = projection_chart(t, market_id)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(png)
            tmp.replace(path)  # atomic: a reader never sees half a PNG
            stamp.write_text(key)
        out[market_id] = path
    return out


def _inputs_key(t: dict[str, pd.DataFrame], market_id: str) -> str:
    """A hash of everything a market's chart draws (rows, labels) and of the drawing code."""
    proj = t["projections"].loc[t["projections"]["market_id"] == market_id]
    figs = _stated_values(t, proj["claim_id"].unique())
    srcs = t["sources"].loc[t["sources"]["source_id"].isin(proj["source_id"])]
    digest = hashlib.sha256(Path(__file__).read_bytes())
    labels = t["markets"].loc[t["markets"]["market_id"] == market_id]
    for frame in (proj, figs, srcs, labels):
        digest.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
    return digest.hexdigest()
