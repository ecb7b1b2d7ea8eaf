"""Audit a new article against the published warehouse, without changing it (``cdmo audit``).

Extract a draft source from the text, validate it, check and derive it like any source, then
set its figures beside the published sources of the same markets (cross-source ranges and
likely origins). Nothing is written to the warehouse: it is opened read-only.
"""

import re
import tempfile
from pathlib import Path

import pandas as pd

from cdmo_pipeline.core import reconcile, tables
from cdmo_pipeline.core.frames import plain
from cdmo_pipeline.extract import coverage, extract, to_yaml
from cdmo_pipeline.reporting.report import load_tables
from cdmo_pipeline.warehouse import Warehouse

AUDIT_PREFIX = "audit-"
# The published tables an audit reads to compare with (the rest are the draft's own).
COMPARED = ("sources", "markets", "claims", "figures", "projections")


def source_id_for(path: Path) -> str:
    """A slug for the draft, prefixed so it never collides with a published source."""
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "text"
    return f"{AUDIT_PREFIX}{slug}"[:60].rstrip("-")


def draft(text: str, source_id: str, published: str | None = None, title: str | None = None) -> dict:
    """The draft source document of a text (see ``cdmo_pipeline.extract``)."""
    return extract(text, source_id=source_id, published=published, title=title)


def audit_text(
    text: str, *, source_id: str, warehouse: Warehouse | None, published: str | None = None
) -> tuple[dict[str, pd.DataFrame], dict, list]:
    """The audit tables of one text, compared with the warehouse when there is one.

    Returns (tables for the report, the draft document, numbers the draft left unaccounted).
    Raises ``SourceValidationError`` when the draft cannot be read as a source.
    """
    doc = draft(text, source_id, published)
    published_tables = _published(warehouse)
    with tempfile.TemporaryDirectory(prefix="cdmo-audit-") as tmp:
        directory = Path(tmp)
        (directory / f"{source_id}.yaml").write_text(to_yaml(_with_published_markets(doc, published_tables)))
        corpus = tables.load_corpus(directory)
    own = dict(tables.build_tables(corpus).items())
    if published_tables:
        union = {name: _union(published_tables[name], own[name]) for name in COMPARED}
        # A market both declare is the published one (the draft's was aligned to it).
        union["markets"] = union["markets"].drop_duplicates("market_id", keep="first").reset_index(drop=True)
        compared = reconcile.cross_source(union)
        compared = compared.loc[
            compared["market_id"].isin(set(compared.loc[compared["source_id"] == source_id, "market_id"]))
        ]
        origins = reconcile.claim_origins(union, union["projections"])
        own["cross_source"] = compared.reset_index(drop=True)
        own["claim_origins"] = origins.loc[origins["source_id"] == source_id].reset_index(drop=True)
        # The report names every source it compares with: add their rows to ``sources``.
        others = published_tables["sources"]
        own["sources"] = _union(own["sources"], others.loc[others["source_id"].isin(compared["source_id"])])
        markets = published_tables["markets"]
        own["markets"] = _union(own["markets"], markets.loc[~markets["market_id"].isin(own["markets"]["market_id"])])
    return own, doc, coverage(text, doc)


def _published(warehouse: Warehouse | None) -> dict[str, pd.DataFrame] | None:
    if warehouse is None or not warehouse.path.exists():
        return None
    with warehouse.reader() as con:
        return load_tables(con)


def _with_published_markets(doc: dict, published: dict[str, pd.DataFrame] | None) -> dict:
    """Markets already published keep their published declaration (parents must agree)."""
    if not published:
        return doc
    known = published["markets"].set_index("market_id")
    markets = {}
    for market_id, decl in (doc.get("markets") or {}).items():
        if market_id in known.index:
            row = known.loc[market_id]
            decl = {"label": str(row["label"])}
            if isinstance(row["parent_market_id"], str):
                decl["parent"] = row["parent_market_id"]
        markets[market_id] = decl
    for market_id, decl in list(markets.items()):  # a published parent must be declared too
        parent = decl.get("parent")
        while parent and parent not in markets and parent in known.index:
            row = known.loc[parent]
            markets[parent] = {"label": str(row["label"])}
            if isinstance(row["parent_market_id"], str):
                markets[parent]["parent"] = row["parent_market_id"]
            parent = markets[parent].get("parent")
        del market_id
    return {**doc, "markets": markets}


def _union(published: pd.DataFrame, own: pd.DataFrame) -> pd.DataFrame:
    """Rows of both, in one shape (text as Python objects)."""
    frames = [plain(published[[c for c in own.columns if c in published.columns]]), plain(own)]
    return pd.concat([f for f in frames if not f.empty] or frames[:1], ignore_index=True)
