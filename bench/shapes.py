"""Other shapes of the same claims, for ``python -m bench --corpus``: a corpus generated
elsewhere need not be split in files the way ``cdmo synth`` splits it.

    python -m bench.shapes SYNTH_DIR OUT_DIR

writes, from a ``cdmo synth`` corpus, three sources directories under OUT_DIR:

- ``one-csv-file``: every claim in one ``all.claims.csv``;
- ``one-parquet-file``: the same rows in one ``all.claims.parquet``;
- ``many-sources``: one CSV file where every four claims are a source of their own (a
  million claims become 250,000 sources).

Each keeps the corpus' ``markets.yaml``. Plain DuckDB, no cdmo_pipeline code.
"""

import shutil
import sys
from pathlib import Path

import duckdb


def write(synth_dir: Path, out_dir: Path) -> list[Path]:
    csvs = sorted(str(p) for p in synth_dir.glob("*.claims.csv"))
    if not csvs:
        raise SystemExit(f"{synth_dir}: no *.claims.csv file (make one with `cdmo synth`)")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("CREATE TABLE claims AS SELECT * FROM read_csv($f, all_varchar = true, header = true)", {"f": csvs})
    made = []
    # A new source takes its publisher and date from its first row, so its rows agree.
    renumbered = """
        SELECT printf('s-%07d', s) AS source_id, 'Report ' || s AS source_title,
               first_value(source_publisher) OVER w AS source_publisher,
               first_value(source_published) OVER w AS source_published,
               printf('c-%d', (n - 1) % 4) AS claim_id,
               * EXCLUDE (source_id, source_title, source_publisher, source_published, claim_id, n, s)
        FROM (
            SELECT *, (n - 1) // 4 AS s
            FROM (SELECT *, row_number() OVER (ORDER BY source_id, claim_id) AS n FROM claims)
        )
        WINDOW w AS (PARTITION BY s ORDER BY n)
        ORDER BY n
    """
    for name, query, file, options in (
        ("one-csv-file", "SELECT * FROM claims", "all.claims.csv", "HEADER"),
        ("one-parquet-file", "SELECT * FROM claims", "all.claims.parquet", "FORMAT parquet"),
        ("many-sources", renumbered, "all.claims.csv", "HEADER"),
    ):
        target = out_dir / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.copy(synth_dir / "markets.yaml", target)
        con.execute(f"COPY ({query}) TO '{target / file}' ({options})")
        made.append(target)
    con.close()
    return made


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]), Path(sys.argv[2])):
        print(path)
