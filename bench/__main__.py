"""Run the benchmarks, each beside its floor measured in the same run, and write BENCHMARKS.md.

    python -m bench [--sizes 100000,1000000] [--repeat 5] [--corpus DIR ...] [--no-write]

- the default refresh (``make run``'s job, in-process) against a Dagster job materialising
  one trivial asset: the framework's own floor;
- N synthetic claims (``cdmo synth``), full refresh, against ``bench/floor.py``: the same
  interval check and projection rows in plain DuckDB SQL, the hardware floor;
- the import of the definitions module against importing dagster, pandas, pandera, duckdb;
- with ``--corpus DIR``, any sources directory (a corpus generated independently, in the
  DESIGN §3 tabular form) refreshed the same way against the same floor.

Every measurement runs in a fresh process (its time and peak memory are its own); results go
to ``bench/results/latest.json`` and ``BENCHMARKS.md``. Targets are reported, never asserted.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable

TARGETS = {
    "article_vs_dagster_floor": 1.2,
    "million_vs_duckdb_floor": 2.5,
    "million_peak_mb": 1536.0,
    "tenfold_time_ratio": 11.0,
}


def child(mode: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run one measurement in a fresh process; its JSON result."""
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    done = subprocess.run(
        [PYTHON, "-m", "bench.child", mode, *args], cwd=ROOT, env=full_env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: {mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def isolated_env(tmp: Path, sources: Path) -> dict[str, str]:
    home = tmp / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {
        "DAGSTER_HOME": str(home),
        "CDMO_SOURCES_DIR": str(sources),
        "CDMO_DUCKDB_PATH": str(tmp / "warehouse.duckdb"),
        "CDMO_REPORTS_DIR": str(tmp / "reports"),
    }


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(
            next(
                line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
            ).split()[1]
        )
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    names = ("dagster", "pandas", "pandera", "duckdb", "pyarrow")
    probe = f"import {', '.join(names)}; print({', '.join(n + '.__version__' for n in names)})"
    versions = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, check=False).stdout.split()
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": ", ".join(f"{n} {v}" for n, v in zip(names, versions, strict=False)),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def framework(repeat: int) -> dict:
    """make run's job on the default sources against a one-asset Dagster job (in-process)."""
    with tempfile.TemporaryDirectory(prefix="cdmo-bench-") as tmp:
        env = isolated_env(Path(tmp), ROOT / "data" / "sources")
        floor = child("dagster-floor", str(repeat + 1), env=env)
        shape = child("dagster-shape", str(repeat + 1), env=env)
        ours = child("refresh-job", str(repeat + 1), env=env)
    # The first run of each warms caches (imports of code paths, the instance's storage).
    floor_t, shape_t, ours_t = (statistics.median(r["times"][1:]) for r in (floor, shape, ours))
    return {
        "dagster_floor_s": floor_t,
        "shape_s": shape_t,
        "refresh_s": ours_t,
        "ratio": ours_t / floor_t,
        "shape_ratio": shape_t / floor_t,
        "runs": repeat,
    }


def imports(repeat: int) -> dict:
    base = [child("import", "stack")["times"][0] for _ in range(repeat)]
    ours = [child("import", "definitions")["times"][0] for _ in range(repeat)]
    b, o = statistics.median(base), statistics.median(ours)
    return {"stack_s": b, "definitions_s": o, "ratio": o / b}


def corpus(n: int) -> Path:
    """The synthetic corpus of n claims (seed 0), generated once and kept under bench/data."""
    path = DATA / f"synth-{n}"
    if not (path / "markets.yaml").exists():
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run(
            [str(Path(PYTHON).with_name("cdmo")), "synth", "-n", str(n), "--seed", "0", "-o", str(path)], check=True
        )
    return path


def scale(n: int) -> dict:
    return measure(corpus(n))


def measure(sources: Path) -> dict:
    """The `refresh` job on a sources directory against the DuckDB floor on the same files."""
    with tempfile.TemporaryDirectory(prefix="cdmo-bench-") as tmp:
        env = isolated_env(Path(tmp), sources)
        floor = child("floor-sql", str(sources), str(Path(tmp) / "floor.duckdb"))
        job = child("refresh-job", "1", env=env)
        written = json.loads(
            subprocess.run(
                [PYTHON, "-c", "import duckdb, json, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
                 "print(json.dumps(dict(c.execute('SELECT table_name, n_rows FROM refresh_tables').fetchall())))",
                 env["CDMO_DUCKDB_PATH"]],
                capture_output=True, text=True, check=True,
            ).stdout
        )  # fmt: skip
    rows = sum(written.values())
    t = job["times"][0]
    n = written["claims"]
    return {
        "claims": n,
        "refresh_s": t,
        "refresh_peak_mb": job["peak_mb"],
        "rows_written": rows,
        "claims_per_s": n / t,
        "rows_per_s": rows / t,
        "floor_s": floor["times"][0],
        "floor_peak_mb": floor["peak_mb"],
        "floor_rows": floor["rows"],
        "floor_steps": {k: v for k, v in floor["steps"].items() if not k.startswith("rows_")},
        "ratio": t / floor["times"][0],
        "tables": written,
    }


def render(results: dict) -> str:
    m, fw, imp = results["machine"], results["framework"], results["imports"]
    sizes = results["scale"]
    lines = [
        "# Benchmarks",
        "",
        "Measured by `make bench` (`python -m bench`): every figure beside its floor, measured in the",
        "same run on the same machine, each in a fresh process. Targets are reported here, never",
        "asserted in tests. Raw results: `bench/results/latest.json`.",
        "",
        f"Run {results['when']}, on {m['cpu']} ({m['cores']} cores, {m['memory']}), {m['os']}, Python {m['python']};",
        f"{m['packages']}. Load average before the run: {m['load_before']}.",
        "",
        "## The default refresh against the Dagster floor",
        "",
        "`make run`'s job (`refresh`, in-process, the article and the 42 reference reports: read, validate,",
        "check, derive, project, reconcile, audit, publish, then the audit report and charts) against",
        "a job materialising one trivial asset, on the same kind of Dagster instance (median of",
        f"{fw['runs']} runs after one warm-up).",
        "",
        "| job | seconds |",
        "|---|---:|",
        f"| one trivial asset (floor) | {fw['dagster_floor_s']:.2f} |",
        *(
            [f"| `refresh`'s graph, bodies that do nothing | {fw['shape_s']:.2f} ({fw['shape_ratio']:.2f}×) |"]
            if "shape_s" in fw
            else []
        ),
        f"| `refresh` | {fw['refresh_s']:.2f} |",
        f"| **ratio** | **{fw['ratio']:.2f}×** (target ≤ {TARGETS['article_vs_dagster_floor']}×) |",
        "",
        "The second row is the `refresh` job's own assets, checks and reports step, built from the",
        "same specs, with bodies that yield their results and compute nothing: Dagster's",
        "bookkeeping for this graph (its events, each a SQLite commit) before any work of ours.",
        "",
        "## Synthetic corpora against the DuckDB floor",
        "",
        "`cdmo synth -n N --seed 0` (bulk CSV, DESIGN §3), refreshed by the same `refresh` job against",
        "`bench/floor.py`, plain DuckDB SQL doing the same interval check and writing the same",
        "projection rows (no validation, no audit, no framework).",
        "",
        "| claims | refresh s | peak MB | rows written | rows/s | floor s | floor peak MB | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sizes:
        lines.append(
            f"| {s['claims']:,} | {s['refresh_s']:.1f} | {s['refresh_peak_mb']:.0f} | {s['rows_written']:,} | "
            f"{s['rows_per_s']:,.0f} | {s['floor_s']:.1f} | {s['floor_peak_mb']:.0f} | {s['ratio']:.2f}× |"
        )
    if len(sizes) >= 2:
        a, b = sizes[-2], sizes[-1]
        growth = b["refresh_s"] / a["refresh_s"]
        lines += [
            "",
            f"{b['claims'] // a['claims']}× the claims cost {growth:.1f}× the time"
            f" (target ≤ {TARGETS['tenfold_time_ratio']:.0f}×).",
        ]
    others = results.get("corpora", [])
    if others:
        lines += [
            "",
            "## Other corpora against the DuckDB floor",
            "",
            "Given with `python -m bench --corpus DIR`: the same `refresh` job and the same floor,",
            "on a sources directory made elsewhere.",
            "",
            "| corpus | claims | refresh s | peak MB | rows written | floor s | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| `{c['corpus']}` | {c['claims']:,} | {c['refresh_s']:.1f} | {c['refresh_peak_mb']:.0f} | "
            f"{c['rows_written']:,} | {c['floor_s']:.1f} | {c['ratio']:.2f}× |"
            for c in others
        ]
    lines += [
        "",
        "## Import time",
        "",
        "| import | seconds |",
        "|---|---:|",
        f"| dagster, pandas, pandera, duckdb | {imp['stack_s']:.2f} |",
        f"| `cdmo_pipeline.definitions` | {imp['definitions_s']:.2f} |",
        f"| **ratio** | **{imp['ratio']:.2f}×** |",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---:|---|",
    ]
    big = next((s for s in sizes if s["claims"] == 1_000_000), None)
    checks = [
        (
            "default refresh ≤ 1.2× the Dagster floor",
            f"{fw['ratio']:.2f}×",
            fw["ratio"] <= TARGETS["article_vs_dagster_floor"],
        )
    ]
    if big:
        checks += [
            (
                "1 000 000 claims ≤ 2.5× the DuckDB floor",
                f"{big['ratio']:.2f}×",
                big["ratio"] <= TARGETS["million_vs_duckdb_floor"],
            ),
            (
                "1 000 000 claims under 1.5 GB peak",
                f"{big['refresh_peak_mb']:,.0f} MB",
                big["refresh_peak_mb"] < TARGETS["million_peak_mb"],
            ),
        ]
    if len(sizes) >= 2:
        growth = sizes[-1]["refresh_s"] / sizes[-2]["refresh_s"]
        checks.append(
            ("ten times the claims ≤ 11× the time", f"{growth:.1f}×", growth <= TARGETS["tenfold_time_ratio"])
        )
    lines += [f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, value, ok in checks]
    lines += ["", (ROOT / "bench" / "NOTES.md").read_text().strip(), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="claims per synthetic corpus, comma-separated")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--corpus", action="append", type=Path, default=[], help="also refresh this sources directory (repeatable)"
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not write BENCHMARKS.md")
    args = parser.parse_args()
    results: dict = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine()}
    print("framework floor ...", flush=True)
    results["framework"] = framework(args.repeat)
    print(json.dumps(results["framework"]), flush=True)
    print("imports ...", flush=True)
    results["imports"] = imports(args.repeat)
    print(json.dumps(results["imports"]), flush=True)
    results["scale"] = []
    for n in (int(x) for x in args.sizes.split(",") if x):
        print(f"{n:,} claims ...", flush=True)
        results["scale"].append(scale(n))
        print(json.dumps({k: v for k, v in results["scale"][-1].items() if k != "tables"}), flush=True)
    results["corpora"] = []
    for path in args.corpus:
        print(f"{path} ...", flush=True)
        if not path.is_dir():
            raise SystemExit(f"bench: --corpus {path}: not a directory")
        results["corpora"].append(measure(path.resolve()) | {"corpus": str(path)})
        print(json.dumps({k: v for k, v in results["corpora"][-1].items() if k != "tables"}), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    text = render(results)
    if args.no_write:
        print(text)
    else:
        (ROOT / "BENCHMARKS.md").write_text(text)
        print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
