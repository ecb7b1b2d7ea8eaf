"""Settings from the environment: where sources are read and where the warehouse is written.

| variable                  | default                 | meaning                                   |
|---------------------------|-------------------------|-------------------------------------------|
| CDMO_SOURCES_DIR          | data/sources            | directory of source files                 |
| CDMO_DUCKDB_PATH          | data/cdmo.duckdb        | the published warehouse (one DuckDB file) |
| CDMO_REPORTS_DIR          | data/reports            | audit report and charts                   |
| CDMO_PROJECTION_HORIZON   | (none)                  | last year to extrapolate projections to   |
| CDMO_LOCK_TIMEOUT         | 30                      | seconds to wait for a busy warehouse      |
| CDMO_CHUNK_CLAIMS         | 25000                   | claims per chunk (memory follows it)      |
| CDMO_EXECUTOR             | in_process              | Dagster executor of the refresh job       |
| CDMO_PARQUET_DIR          | (none)                  | also export every table as Parquet there  |

Defaults are relative to the project root; values given in the environment are taken as
given (relative to the working directory, as a shell user expects).
"""

import os
from dataclasses import dataclass
from pathlib import Path

from cdmo_pipeline.core.errors import CdmoError

# Claims processed at a time: memory follows the chunk, not the corpus. Halving it from
# 50,000 took about 200 MB off a million-claim `make run`'s peak, for about 3 % more time
# (measured in bench/NOTES.md).
CHUNK_CLAIMS = 25_000

PACKAGE_DIR = Path(__file__).resolve().parent
# The checkout (an editable install) when there is one, else the working directory.
PROJECT_ROOT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").exists() else Path.cwd()


def _path(var: str, default: str) -> Path:
    value = os.environ.get(var, "").strip()
    return Path(value).expanduser().resolve() if value else PROJECT_ROOT / default


@dataclass(frozen=True)
class Settings:
    sources_dir: Path
    duckdb_path: Path
    reports_dir: Path
    horizon: int | None
    lock_timeout: float
    chunk_claims: int = CHUNK_CLAIMS
    executor: str = "in_process"
    parquet_dir: str | None = None

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            sources_dir=_path("CDMO_SOURCES_DIR", "data/sources"),
            duckdb_path=_path("CDMO_DUCKDB_PATH", "data/cdmo.duckdb"),
            reports_dir=_path("CDMO_REPORTS_DIR", "data/reports"),
            horizon=_horizon(os.environ.get("CDMO_PROJECTION_HORIZON", "")),
            lock_timeout=_positive_float("CDMO_LOCK_TIMEOUT", os.environ.get("CDMO_LOCK_TIMEOUT", ""), 30.0),
            chunk_claims=int(
                _positive_float("CDMO_CHUNK_CLAIMS", os.environ.get("CDMO_CHUNK_CLAIMS", ""), CHUNK_CLAIMS) or 1
            ),
            executor=_choice("CDMO_EXECUTOR", EXECUTORS),
            parquet_dir=os.environ.get("CDMO_PARQUET_DIR", "").strip() or None,
        )


# Executors the refresh job may run on; the default runs every step in this process.
EXECUTORS = ("in_process", "multiprocess")


def _choice(var: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(var, "").strip() or choices[0]
    if value not in choices:
        raise CdmoError(f"{var} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _horizon(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not (text.isdigit() and 1900 <= int(text) <= 2200):
        raise CdmoError(f"CDMO_PROJECTION_HORIZON must be a year such as 2035, not {text!r}")
    return int(text)


def _positive_float(var: str, text: str, default: float) -> float:
    text = text.strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise CdmoError(f"{var} must be a number of seconds, not {text!r}")
    return value


def dagster_home() -> Path:
    """The project-local Dagster home (run history persists there), unless DAGSTER_HOME is set."""
    return Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster_home")
