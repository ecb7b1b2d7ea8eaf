"""Measure the extractor against sentences with known figures: precision and recall.

A corpus is a YAML list of cases, each ``{id, text, published?, figures: [...]}`` where a
figure is ``{role, value, year?, scale?, currency?, qualifier?, period?, population?}``
(role: start | point | end | cagr | share; ``period`` "2025-2032"). A figure counts as found
when its value literal, year (a CAGR's period), scale and qualifier all match an extracted one.

    python -m cdmo_pipeline.extract.evaluate tests/extract/corpus.yaml [--verbose]
"""

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cdmo_pipeline.extract.extract import extract

# What "found" means: value as written, year (period for a CAGR), scale and qualifier.
MATCH_KEYS = ("value", "year", "scale", "qualifier")


def figures(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every figure of a draft, flat: one dict per value, CAGR or share."""
    out: list[dict[str, Any]] = []
    for claim in doc.get("claims", []):
        base = {"claim": claim["id"], "market": claim.get("market"), "currency": claim.get("currency")}
        if claim["kind"] == "share":
            out.append(
                {
                    **base,
                    "role": "share",
                    "value": claim["value"],
                    "year": claim.get("year"),
                    "scale": None,
                    "qualifier": claim.get("qualifier"),
                    "population": claim.get("population"),
                    "paragraph": claim["locator"]["paragraph"],
                }
            )
            continue
        values = [("start", claim.get("start"))] + [("point", p) for p in claim.get("points", [])]
        values.append(("end", claim.get("end")))
        for role, v in values:
            if v is not None:
                out.append(
                    {
                        **base,
                        "role": role,
                        "value": v["value"],
                        "year": v["year"],
                        "scale": v["scale"],
                        "qualifier": v.get("qualifier"),
                        "paragraph": v["locator"]["paragraph"],
                    }
                )
        if "cagr" in claim:
            c = claim["cagr"]
            period = c.get("period")
            out.append(
                {
                    **base,
                    "currency": None,
                    "role": "cagr",
                    "value": c["value"],
                    "year": f"{period['from']}-{period['to']}" if period else None,
                    "scale": None,
                    "qualifier": c.get("qualifier"),
                    "paragraph": c["locator"]["paragraph"],
                }
            )
    return out


def expected_figures(case: dict[str, Any]) -> list[dict[str, Any]]:
    """A case's expected figures in the shape of :func:`figures` (CAGR period as year)."""
    out = []
    for f in case.get("figures") or []:
        f = dict(f)
        if f["role"] == "cagr":
            f["year"] = f.pop("period", None)
        for k in ("year", "scale", "qualifier", "currency"):
            f.setdefault(k, None)
        if f["role"] in ("cagr", "share"):
            f["currency"] = None
        out.append(f)
    return out


def key(f: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(f.get(k) for k in MATCH_KEYS)


@dataclass
class Score:
    expected: int = 0
    found: int = 0
    true_positive: int = 0
    misses: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    inventions: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_positive / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.expected if self.expected else 1.0


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    return extract(case["text"], source_id="case", published=str(case.get("published", "2025")))


def score(cases: list[dict[str, Any]], run: Callable[[dict[str, Any]], dict[str, Any]] = run_case) -> Score:
    """Precision and recall over all the cases' figures (multiset match on :data:`MATCH_KEYS`)."""
    s = Score()
    for case in cases:
        want = Counter(key(f) for f in expected_figures(case))
        got = Counter(key(f) for f in figures(run(case)))
        hit = want & got
        s.expected += sum(want.values())
        s.found += sum(got.values())
        s.true_positive += sum(hit.values())
        s.misses += [(case["id"], k) for k in (want - got).elements()]
        s.inventions += [(case["id"], k) for k in (got - want).elements()]
    return s


def load(path: Path) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="+", type=Path)
    parser.add_argument("--verbose", action="store_true", help="list every missed and invented figure")
    args = parser.parse_args(argv)
    for path in args.corpus:
        cases = load(path)
        s = score(cases)
        print(
            f"{path}: {len(cases)} cases, {s.expected} expected figures, {s.found} found; "
            f"precision {s.precision:.3f}, recall {s.recall:.3f}"
        )
        if args.verbose:
            for case_id, k in s.misses:
                print(f"  missed   {case_id}: {dict(zip(MATCH_KEYS, k, strict=True))}")
            for case_id, k in s.inventions:
                print(f"  invented {case_id}: {dict(zip(MATCH_KEYS, k, strict=True))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
