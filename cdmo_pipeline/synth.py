"""A deterministic synthetic corpus in the bulk form of DESIGN §3, for scale tests and benchmarks.

Realistic on purpose: mixed scales (billion, million, trillion), qualifiers (over, nearly,
about), ranges, an intermediate point, missing CAGRs and missing starts, CAGR periods that
start a year after the first value, ``current`` years, markets with parents, and about one
claim in ten whose stated CAGR does not follow from its endpoints. The stated CAGRs of the
others are computed from the written literals, so their verdicts are known by construction.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from cdmo_pipeline.core.source_format import BULK_COLUMNS

PUBLISHERS = (
    "Meridian Market Insights", "Northgate Research", "Apex Industry Analytics", "Bluewater Reports",
    "Cobalt Intelligence", "Delta Forecasting", "Evergreen Data", "Fulcrum Analysts", "Granite Research",
    "Harbor Market Studies", "Ironwood Insights", "Juniper Economics", "Keystone Reports", "Lumen Analytics",
    "Monarch Research", "Nimbus Market Data", "Orchid Intelligence", "Pinnacle Forecasts", "Quartz Analysts",
    "Redwood Research",
)  # fmt: skip
MODALITIES = ("biologics", "small molecules", "peptides", "ADCs", "cell and gene therapy", "vaccines")
REGIONS = ("Global", "North America", "Europe", "Asia Pacific", "India", "China")
CLAIMS_PER_SOURCE = 20
CLAIMS_PER_FILE = 250_000


@dataclass(frozen=True)
class Corpus:
    claims: pd.DataFrame
    markets: dict[str, dict[str, str]]
    expected_inconsistent: np.ndarray


def _fmt(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """Each value written with its own number of decimals (one format per decimals group)."""
    out = np.empty(len(values), dtype=object)
    for d in np.unique(decimals):
        sel = decimals == d
        out[sel] = np.char.mod(f"%.{int(d)}f", values[sel])
    return out


def _round(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    scale = np.power(10.0, decimals)
    return np.round(values * scale) / scale


def _round_down(values: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    step = np.power(10.0, -decimals)
    return np.floor(values / step) * step


def generate(n_claims: int, seed: int = 0) -> Corpus:
    rng = np.random.default_rng(seed)
    n = n_claims
    # Markets: a few parents, each with segments (region x modality).
    n_parents = max(2, min(40, n // 500 + 2))
    parents = [f"syn-market-{i:03d}" for i in range(n_parents)]
    markets: dict[str, dict[str, str]] = {}
    for i, m in enumerate(parents):
        markets[m] = {"label": f"Synthetic market {i}", "region": REGIONS[i % len(REGIONS)]}
    segments = []
    for i, p in enumerate(parents):
        for j, modality in enumerate(MODALITIES[: 2 + i % 4]):
            sid = f"{p}-seg-{j}"
            markets[sid] = {"label": f"Synthetic market {i}, {modality}", "parent": p, "modality": modality}
            segments.append(sid)
    market_ids = np.array(parents + segments, dtype=object)
    is_segment = np.array([False] * len(parents) + [True] * len(segments))

    source_idx = np.arange(n) // CLAIMS_PER_SOURCE
    n_sources = int(source_idx.max()) + 1 if n else 0
    published = rng.integers(2019, 2027, n_sources)
    pub = published[source_idx]
    market = rng.integers(0, len(market_ids), n)
    seg = is_segment[market]

    start_year = pub - rng.integers(0, 3, n)
    span = rng.integers(5, 11, n)
    end_year = start_year + span
    start_value = np.exp(rng.uniform(np.log(0.5), np.log(600.0), n)) * np.where(seg, 0.2, 1.0)
    growth = np.clip(rng.normal(0.08, 0.05, n), -0.08, 0.35)
    end_true = start_value * (1 + growth) ** span

    # Scales: most values in billions, a quarter in millions, large ones sometimes in trillions.
    scale_pick = rng.random(n)
    start_scale = np.where(scale_pick < 0.25, "million", "billion").astype(object)
    end_scale = np.where((scale_pick > 0.97) & (end_true > 100), "trillion", start_scale).astype(object)
    factor = {"million": 1e3, "billion": 1.0, "trillion": 1e-3}
    s_written = start_value * np.vectorize(factor.get)(start_scale)
    e_written = end_true * np.vectorize(factor.get)(end_scale)
    s_dec = rng.integers(0, 3, n)
    e_dec = np.where(end_scale == "trillion", 3, rng.integers(0, 3, n))
    s_dec = np.where(start_scale == "million", rng.integers(0, 2, n), s_dec)
    # At least two significant digits, so no value is written as "0".
    s_dec = np.maximum(s_dec, np.ceil(-np.log10(s_written)).astype(int) + 1)
    e_dec = np.maximum(e_dec, np.ceil(-np.log10(e_written)).astype(int) + 1)

    qual_pick = rng.random(n)
    end_qualifier = np.select(
        [qual_pick < 0.06, qual_pick < 0.10, qual_pick < 0.14], ["over", "nearly", "about"], ""
    ).astype(object)
    # "over x" means just above x: write the value rounded down; "nearly x", rounded up.
    step = np.power(10.0, -e_dec)
    e_lit_val = np.where(
        end_qualifier == "over",
        _round_down(e_written, e_dec),
        np.where(end_qualifier == "nearly", _round_down(e_written, e_dec) + step, e_written),
    )
    start_literal = _fmt(s_written, s_dec)
    end_literal = _fmt(e_lit_val, e_dec)
    # A few end values as ranges "a-b" around the value (hedged or plain).
    is_range = (rng.random(n) < 0.03) & (end_qualifier != "over") & (end_qualifier != "nearly") & (e_written > 20)
    lo = np.floor(e_written * 0.95)
    hi = np.maximum(np.ceil(e_written * 1.05), lo + 1)
    end_literal = np.where(is_range, _fmt(lo, np.zeros(n, int)) + "-" + _fmt(hi, np.zeros(n, int)), end_literal)

    # The stated CAGR, from the written literals as the check reads them (central values).
    def central(literal: np.ndarray, scale: np.ndarray) -> np.ndarray:
        text = pd.Series(literal).str.split("-")
        a = text.str[0].astype(float).to_numpy()
        b = text.str[-1].astype(float).to_numpy()
        return (a + b) / 2 / np.vectorize(factor.get)(scale)

    no_start = rng.random(n) < 0.08
    s_c = central(start_literal, start_scale)
    e_c = central(end_literal, end_scale)
    # Period: the values' own years, or (a third of the time) a year after the first value,
    # as publishers often state it: then the check runs over the values' years.
    shifted = (rng.random(n) < 0.3) & ~no_start
    period_from = np.where(shifted, start_year + 1, start_year)
    implied = ((e_c / s_c) ** (1.0 / span) - 1) * 100
    c_dec = rng.integers(1, 3, n)
    stated = _round(implied, c_dec)
    # Inconsistent by construction: about one claim in ten, off by 1.5-5 points.
    bad = (rng.random(n) < 0.10) & ~no_start
    stated = np.where(bad, stated + rng.choice([-1, 1], n) * rng.uniform(1.5, 5.0, n), stated)
    stated = _round(stated, c_dec)
    no_cagr = (rng.random(n) < 0.12) & ~bad & ~no_start
    # Claims without a start keep their CAGR (and a stated period) to be verifiable never.
    with_pct = rng.random(n) < 0.5
    cagr_literal = _fmt(stated, c_dec) + np.where(with_pct, "%", "")
    cagr_literal = np.where(no_cagr, "", cagr_literal)
    has_period = (rng.random(n) < 0.7) | shifted | no_start
    current = (rng.random(n) < 0.03) & (start_year == pub) & ~no_start & ~shifted

    start_year_text = np.where(current, "current", start_year.astype(str)).astype(object)
    # An intermediate point for a fifth of the claims (a report's 2024, 2025, 2032).
    with_point = (rng.random(n) < 0.2) & (span >= 3) & ~no_start & ~current & ~shifted
    point_year = start_year + 1
    point_val = s_written * (1 + growth)
    point_literal = _fmt(point_val, s_dec)

    sid = np.char.add("syn-", np.char.zfill(source_idx.astype(str), 6))
    frame = pd.DataFrame(
        {
            "source_id": sid,
            "source_title": np.char.add("Synthetic market report ", source_idx.astype(str)),
            "source_publisher": np.array(PUBLISHERS, dtype=object)[source_idx % len(PUBLISHERS)],
            "source_published": pub.astype(str),
            "claim_id": np.char.add("c-", np.char.zfill((np.arange(n) % CLAIMS_PER_SOURCE).astype(str), 3)),
            "kind": "trajectory",
            "market": market_ids[market],
            "parent_market": np.array([markets[m].get("parent", "") for m in market_ids], dtype=object)[market],
            "currency": "USD",
            "start_year": np.where(no_start, "", start_year_text),
            "start_value": np.where(no_start, "", start_literal),
            "start_scale": np.where(no_start, "", start_scale),
            "start_qualifier": "",
            "end_year": end_year.astype(str),
            "end_value": end_literal,
            "end_scale": end_scale,
            "end_qualifier": np.where(is_range, np.where(end_qualifier == "about", "about", ""), end_qualifier),
            "cagr": cagr_literal,
            "cagr_from": np.where(has_period & ~no_cagr, period_from.astype(str), ""),
            "cagr_to": np.where(has_period & ~no_cagr, end_year.astype(str), ""),
            "point_year": np.where(with_point, point_year.astype(str), ""),
            "point_value": np.where(with_point, point_literal, ""),
            "point_scale": np.where(with_point, start_scale, ""),
            "point_qualifier": "",
        }
    )
    return Corpus(frame[[*BULK_COLUMNS, "point_year", "point_value", "point_scale", "point_qualifier"]], markets, bad)


def write(corpus: Corpus, out_dir: Path, fmt: str = "csv") -> list[Path]:
    """Write ``markets.yaml`` and the claims in files of at most CLAIMS_PER_FILE rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "markets.yaml").write_text(
        "# Synthetic markets (cdmo synth)\n" + yaml.safe_dump({"markets": corpus.markets}, sort_keys=True)
    )
    paths = []
    claims = corpus.claims
    for i, start in enumerate(range(0, len(claims), CLAIMS_PER_FILE)):
        chunk = pa.Table.from_pandas(claims.iloc[start : start + CLAIMS_PER_FILE].astype(str), preserve_index=False)
        path = out_dir / f"synthetic-{i:03d}.claims.{fmt}"
        if fmt == "parquet":
            pq.write_table(chunk, path)
        else:
            pacsv.write_csv(chunk, path)
        paths.append(path)
    return paths
