"""The hardware floor: the same interval check and projection rows in plain DuckDB SQL.

Reads the bulk claims tables of a sources directory (DESIGN §3 tabular form), parses every
literal into its interval (decimals, ranges, qualifiers, scales), checks every stated CAGR
against the interval its endpoints imply, and writes the figures, the checks and the
projection rows (bases endpoints and stated_cagr) to a new DuckDB file. No validation, no
audit, no framework: what the refresh does, at the speed of the database.

    python bench/floor.py SOURCES_DIR OUT.duckdb
"""

import sys
import time
from pathlib import Path

import duckdb

POINT_COLUMNS = ("point_year", "point_value", "point_scale", "point_qualifier")  # optional in DESIGN §3


def read_raw(con: duckdb.DuckDBPyConnection, sources_dir: Path) -> None:
    """Every bulk table under the directory, found as the refresh finds them (CSV and Parquet,
    subdirectories, hidden paths skipped): all text, empty cells missing, the optional point
    columns present even when no file has them."""
    root = Path(sources_dir)
    found = sorted(
        p
        for p in root.rglob("*")
        if p.name.endswith((".claims.csv", ".claims.parquet"))
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    params = {
        "csv": [str(p) for p in found if p.name.endswith(".csv")],
        "parquet": [str(p) for p in found if p.name.endswith(".parquet")],
    }
    reads = {
        "csv": "SELECT * FROM read_csv($csv, all_varchar = true, header = true, union_by_name = true)",
        "parquet": "SELECT * FROM read_parquet($parquet, union_by_name = true)",
    }
    used = [k for k in reads if params[k]]
    if not used:
        raise SystemExit(f"{root}: no *.claims.csv or *.claims.parquet file")
    union = " UNION ALL BY NAME ".join(f"({reads[k]})" for k in used)
    con.execute(
        f"CREATE TABLE raw AS SELECT nullif(COLUMNS(*)::VARCHAR, '') FROM ({union})", {k: params[k] for k in used}
    )
    have = {name for (name, *_) in con.execute("DESCRIBE raw").fetchall()}
    for column in POINT_COLUMNS:
        if column not in have:
            con.execute(f"ALTER TABLE raw ADD COLUMN {column} VARCHAR")


# Each step is one statement; the literal grammar mirrors cdmo_pipeline.core.numbers.
STEPS = [
    (
        "values",
        """
        CREATE TABLE vals AS
        WITH long AS (
            SELECT source_id || '/' || claim_id AS claim_id, source_published, 'start' AS role,
                   start_year AS year, start_value AS lit, start_scale AS scale, start_qualifier AS q FROM raw
            WHERE coalesce(start_value, '') <> ''
            UNION ALL
            SELECT source_id || '/' || claim_id, source_published, 'point', point_year, point_value, point_scale,
                   point_qualifier FROM raw WHERE coalesce(point_value, '') <> ''
            UNION ALL
            SELECT source_id || '/' || claim_id, source_published, 'end', end_year, end_value, end_scale,
                   end_qualifier FROM raw WHERE coalesce(end_value, '') <> ''
        ),
        parts AS (
            SELECT *, regexp_extract(lit, '^([0-9,]+)(?:\\.([0-9]+))?(?:-([0-9,]+)(?:\\.([0-9]+))?)?$',
                                     ['ai', 'af', 'bi', 'bf']) AS p
            FROM long
        ),
        nums AS (
            SELECT claim_id, role, lit, coalesce(q, '') AS q,
                   CASE WHEN year = 'current' THEN CAST(left(source_published, 4) AS INTEGER) ELSE CAST(year AS INTEGER) END AS year,
                   CASE scale WHEN 'thousand' THEN 1e-6 WHEN 'million' THEN 1e-3 WHEN 'trillion' THEN 1e3 ELSE 1.0 END AS f,
                   CAST(replace(p.ai, ',', '') || '.' || coalesce(nullif(p.af, ''), '0') AS DOUBLE) AS a,
                   length(p.af) AS da,
                   CASE WHEN p.bi <> '' THEN CAST(replace(p.bi, ',', '') || '.' || coalesce(nullif(p.bf, ''), '0') AS DOUBLE) END AS b,
                   length(p.bf) AS db
            FROM parts
        )
        SELECT claim_id, role, lit, q, year,
               f * CASE WHEN b IS NOT NULL THEN (a + b) / 2 ELSE a END AS value,
               f * CASE WHEN b IS NOT NULL THEN a - 0.5 * pow(10, -da)
                        WHEN q IN ('over', 'more than', 'above', 'at least') THEN a
                        WHEN q IN ('nearly', 'almost', 'under', 'less than') THEN a - pow(10, -da)
                        ELSE a - 0.5 * pow(10, -da) END AS low,
               f * CASE WHEN b IS NOT NULL THEN b + 0.5 * pow(10, -db)
                        WHEN q IN ('over', 'more than', 'above', 'at least') THEN a + pow(10, -da)
                        WHEN q IN ('nearly', 'almost', 'under', 'less than') THEN a
                        ELSE a + 0.5 * pow(10, -da) END AS high
        FROM nums
        """,
    ),
    (
        "checks",
        """
        CREATE TABLE cagr_checks AS
        WITH c AS (
            SELECT source_id || '/' || claim_id AS claim_id,
                   CAST(rtrim(nullif(cagr, ''), '%') AS DOUBLE) AS stated,
                   length(split_part(rtrim(nullif(cagr, ''), '%'), '.', 2)) AS d,
                   CAST(nullif(cagr_from, '') AS INTEGER) AS p_from, CAST(nullif(cagr_to, '') AS INTEGER) AS p_to
            FROM raw
        ),
        span AS (SELECT claim_id, min(year) AS first_year, max(year) AS last_year, count(*) AS n FROM vals GROUP BY claim_id),
        chosen AS (
            SELECT c.*, s.first_year, s.last_year, s.n,
                   CASE WHEN ps.year IS NOT NULL AND pe.year IS NOT NULL THEN c.p_from ELSE s.first_year END AS t0,
                   CASE WHEN ps.year IS NOT NULL AND pe.year IS NOT NULL THEN c.p_to ELSE s.last_year END AS t1
            FROM c LEFT JOIN span AS s USING (claim_id)
            LEFT JOIN vals AS ps ON ps.claim_id = c.claim_id AND ps.year = c.p_from
            LEFT JOIN vals AS pe ON pe.claim_id = c.claim_id AND pe.year = c.p_to
        ),
        implied AS (
            SELECT ch.*, t1 - t0 AS n_years,
                   (pow(e.value / s.value, 1.0 / (t1 - t0)) - 1) * 100 AS implied,
                   (pow(e.low / s.high, 1.0 / (t1 - t0)) - 1) * 100 AS implied_low,
                   (pow(e.high / s.low, 1.0 / (t1 - t0)) - 1) * 100 AS implied_high,
                   stated - 0.5 * pow(10, -d) AS stated_low, stated + 0.5 * pow(10, -d) AS stated_high
            FROM chosen AS ch
            LEFT JOIN vals AS s ON s.claim_id = ch.claim_id AND s.year = ch.t0 AND ch.n >= 2
            LEFT JOIN vals AS e ON e.claim_id = ch.claim_id AND e.year = ch.t1 AND ch.n >= 2
        )
        SELECT *,
               CASE WHEN stated IS NULL OR implied IS NULL THEN 'unverifiable'
                    WHEN implied_high >= stated_low AND implied_low <= stated_high THEN 'consistent'
                    ELSE 'inconsistent' END AS verdict,
               CASE WHEN implied_high < stated_low THEN stated_low - implied_high
                    WHEN implied_low > stated_high THEN implied_low - stated_high END AS gap_pp
        FROM implied
        """,
    ),
    (
        "projections_endpoints",
        """
        CREATE TABLE projections AS
        WITH seg AS (
            SELECT claim_id, year AS a, value AS va, low AS la, high AS ha,
                   lead(year) OVER w AS b, lead(value) OVER w AS vb, lead(low) OVER w AS lb, lead(high) OVER w AS hb,
                   row_number() OVER w = count(*) OVER (PARTITION BY claim_id) - 1 AS last_segment
            FROM vals WINDOW w AS (PARTITION BY claim_id ORDER BY year)
        ),
        grid AS (
            SELECT claim_id, a, b, va, vb, la, lb, ha, hb, unnest(range(a, CASE WHEN last_segment THEN b + 1 ELSE b END)) AS year
            FROM seg WHERE b IS NOT NULL
        )
        SELECT claim_id, year, 'endpoints' AS basis,
               exp((1 - w) * ln(va) + w * ln(vb)) AS central,
               exp((1 - w) * ln(la) + w * ln(lb)) AS low,
               exp((1 - w) * ln(ha) + w * ln(hb)) AS high
        FROM (SELECT *, (year - a) / (b - a) AS w FROM grid)
        """,
    ),
    (
        "projections_stated_cagr",
        """
        INSERT INTO projections
        WITH base AS (
            SELECT ch.claim_id, ch.stated, ch.stated_low, ch.stated_high,
                   coalesce(least(ch.first_year, ch.p_from), ch.first_year) AS y0,
                   greatest(ch.last_year, coalesce(ch.p_to, ch.last_year)) AS y1,
                   coalesce(ps.year, ch.first_year) AS t0,
                   coalesce(ps.value, f.value) AS v, coalesce(ps.low, f.low) AS lo, coalesce(ps.high, f.high) AS hi
            FROM cagr_checks AS ch
            LEFT JOIN vals AS ps ON ps.claim_id = ch.claim_id AND ps.year = ch.p_from
            LEFT JOIN vals AS f ON f.claim_id = ch.claim_id AND f.year = ch.first_year
            WHERE ch.stated IS NOT NULL AND ch.first_year IS NOT NULL
        ),
        grid AS (SELECT *, unnest(range(y0, y1 + 1)) AS year FROM base)
        SELECT claim_id, year, 'stated_cagr',
               v * pow(1 + stated / 100, year - t0),
               lo * pow(1 + CASE WHEN year >= t0 THEN stated_low ELSE stated_high END / 100, year - t0),
               hi * pow(1 + CASE WHEN year >= t0 THEN stated_high ELSE stated_low END / 100, year - t0)
        FROM grid
        """,
    ),
    ("checkpoint", "CHECKPOINT"),
]


def run(sources_dir: Path, out: Path) -> dict[str, float]:
    out.unlink(missing_ok=True)
    con = duckdb.connect(str(out))
    con.execute("SET enable_progress_bar = false")
    timings = {}
    try:
        started = time.perf_counter()
        read_raw(con, sources_dir)
        timings["raw"] = time.perf_counter() - started
        for name, sql in STEPS:
            started = time.perf_counter()
            con.execute(sql)
            timings[name] = time.perf_counter() - started
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in ("vals", "cagr_checks", "projections")
        }
    finally:
        con.close()
    return timings | {f"rows_{t}": float(n) for t, n in counts.items()}


if __name__ == "__main__":
    started = time.perf_counter()
    result = run(Path(sys.argv[1]), Path(sys.argv[2]))
    result["total"] = time.perf_counter() - started
    print(" ".join(f"{k}={v:.3f}" for k, v in result.items()))
