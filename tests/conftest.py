"""Shared fixtures: write small source files, build tables, run refreshes in isolation."""

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdmo_pipeline.core.tables import Tables, build

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = ROOT / "data" / "sources" / "cdmo-article-2025.yaml"
SHARED = ROOT.parent / "shared"
# The seed article's text is not part of the project (figures only, never its prose): tests
# that read it run where ../shared sits beside the checkout, and say so where it does not.
SEED_ARTICLE = SHARED / "seeds" / "cdmo-article.txt"
needs_seed = pytest.mark.skipif(
    not SEED_ARTICLE.exists(), reason=f"the seed article is not beside the checkout ({SEED_ARTICLE})"
)

MARKETS = {
    "global-cdmo": {"label": "Global CDMO market", "region": "Global"},
    "biologics-cdmo": {"label": "Biologics CDMO", "parent": "global-cdmo", "modality": "biologics"},
    "india-pharma": {"label": "India pharma", "region": "India"},
    "m": {"label": "Test market"},
}


def source_doc(claims: list[dict[str, Any]], *, source_id: str = "t", published: str = "2025") -> dict[str, Any]:
    """A source document (DESIGN §3) around the given claims."""
    return {
        "source": {"id": source_id, "title": "Test", "publisher": "Tests", "published": published, "kind": "report"},
        "markets": MARKETS,
        "claims": claims,
    }


def value(year: str, literal: str, scale: str = "billion", qualifier: str | None = None) -> dict[str, str]:
    out = {"year": year, "value": literal, "scale": scale}
    if qualifier:
        out["qualifier"] = qualifier
    return out


def trajectory(
    claim_id: str,
    values: list[dict[str, str]],
    cagr: str | None = None,
    *,
    period: tuple[str, str] | None = None,
    cagr_qualifier: str | None = None,
    market: str = "m",
) -> dict[str, Any]:
    """A trajectory: the first value is `start`, the last `end`, any between are `points`."""
    claim: dict[str, Any] = {"id": claim_id, "kind": "trajectory", "market": market, "currency": "USD"}
    if len(values) == 1:
        claim["end"] = values[0]
    elif values:
        claim["start"], claim["end"] = values[0], values[-1]
        if len(values) > 2:
            claim["points"] = values[1:-1]
    if cagr is not None:
        claim["cagr"] = {"value": cagr}
        if period:
            claim["cagr"]["period"] = {"from": period[0], "to": period[1]}
        if cagr_qualifier:
            claim["cagr"]["qualifier"] = cagr_qualifier
    return claim


@pytest.fixture
def write_sources(tmp_path: Path) -> Callable[..., Path]:
    """Write {file name: document or raw text} into a fresh sources directory."""

    def _write(files: dict[str, dict[str, Any] | str | bytes]) -> Path:
        directory = tmp_path / "sources"
        directory.mkdir(exist_ok=True)
        for name, doc in files.items():
            path = directory / name
            if isinstance(doc, bytes):
                path.write_bytes(doc)
            elif isinstance(doc, str):
                path.write_text(doc)
            else:
                path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        return directory

    return _write


@pytest.fixture
def build_claims(write_sources: Callable[..., Path]) -> Callable[..., Tables]:
    """Build every table from one source holding the given claims."""

    def _build(claims: list[dict[str, Any]], published: str = "2025", horizon: int | None = None) -> Tables:
        return build(write_sources({"t.yaml": source_doc(claims, published=published)}), horizon)

    return _build


@pytest.fixture
def article_dir(tmp_path: Path) -> Path:
    """A sources directory holding only the article."""
    directory = tmp_path / "article"
    directory.mkdir()
    shutil.copy(ARTICLE, directory / ARTICLE.name)
    return directory


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for a refresh that touches nothing outside tmp_path."""
    env = {
        "CDMO_DUCKDB_PATH": str(tmp_path / "warehouse" / "cdmo.duckdb"),
        "CDMO_REPORTS_DIR": str(tmp_path / "reports"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    Path(env["DAGSTER_HOME"]).mkdir()
    (Path(env["DAGSTER_HOME"]) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("CDMO_PROJECTION_HORIZON", raising=False)
    return {**os.environ, **env}
