"""Other shapes of the same claims, for ``python -m bench --corpus``: a corpus generated
elsewhere need not be split in files the way ``cdmo synth`` splits it.

    python -m bench.shapes SYNTH_DIR OUT_DIR

writes, from a ``cdmo synth`` corpus, three sources directories under OUT_DIR:

- ``one-csv-file``: every claim in one ``all.claims.csv``;
- ``one-parquet-file``: the same rows in one ``all.claims.parquet``;
- ``many-sources``: one CSV file where every four claims are a source of their own (a
  million claims become 250,000 sources);
- ``one-source``: one CSV file where every claim is of one source (a source far larger than
  a chunk);
- ``cut-by-rows``: the rows of ``one-csv-file`` cut in three CSV files by row count, so that
  sources run on from one file into the next.

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
    # One source, published when the earliest did: every `current` year still comes before
    # the end year of its claim. Claim ids keep their old source to stay unique.
    one_source = """
        SELECT 'one-report' AS source_id, 'One report' AS source_title, 'Synthetic' AS source_publisher,
               (SELECT min(source_published) FROM claims) AS source_published,
               source_id || '-' || claim_id AS claim_id,
               * EXCLUDE (source_id, source_title, source_publisher, source_published, claim_id)
        FROM claims
    """
    n = con.execute("SELECT count(*) FROM claims").fetchone()[0]
    per_file = n // 3 + 1  # not a multiple of the 20 claims of a synthetic source
    numbered = "(SELECT *, row_number() OVER () - 1 AS n FROM claims)"
    cuts = [
        (f"SELECT * EXCLUDE (n) FROM {numbered} WHERE n // {per_file} = {i} ORDER BY n", f"part-{i}.claims.csv")
        for i in range(3)
    ]
    for name, parts, options in (
        ("one-csv-file", [("SELECT * FROM claims", "all.claims.csv")], "HEADER"),
        ("one-parquet-file", [("SELECT * FROM claims", "all.claims.parquet")], "FORMAT parquet"),
        ("many-sources", [(renumbered, "all.claims.csv")], "HEADER"),
        ("one-source", [(one_source, "all.claims.csv")], "HEADER"),
        ("cut-by-rows", cuts, "HEADER"),
    ):
        target = out_dir / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.copy(synth_dir / "markets.yaml", target)
        for query, file in parts:
            con.execute(f"COPY ({query}) TO '{target / file}' ({options})")
        made.append(target)
    con.close()
    return made


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]), Path(sys.argv[2])):
        print(path)
