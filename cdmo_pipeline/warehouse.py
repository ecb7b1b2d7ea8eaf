"""Save: the DuckDB warehouse, written, audited and published as one snapshot (DESIGN §7).

A refresh never writes into the file readers hold. It builds a complete candidate database
beside it (every table in one transaction, typed from the pandera models), reads it back to
confirm the publish (refresh id and row counts), checkpoints it, and atomically renames it
over the warehouse. So:

- readers (DuckDB CLI opened read-only, notebooks, the Dagster UI, ``cdmo sql``) never block
  a refresh and never see half of one: an open connection keeps the snapshot it opened, a
  new connection sees the new one;
- a refresh killed at any point leaves the previous complete publish (a half-built candidate
  is a separate file, swept by the next refresh);
- refreshes are serialised by an advisory lock beside the file; a conflict (another refresh,
  or a process holding the warehouse open for *writing*) is retried for a bounded time, then
  ends in :class:`WarehouseBusyError`, a clear message.

No SQL here is built from user strings: table and column names come from the models in
code, and values are bound parameters or registered frames.
"""

import contextlib
import datetime as dt
import fcntl
import json
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from cdmo_pipeline.core.errors import AuditError, CdmoError, WarehouseBusyError
from cdmo_pipeline.core.schemas import MODELS
from cdmo_pipeline.core.views import VIEWS, View

# Each published table's DuckDB types, from its pandera model (a shape that cannot drift).
_DUCKDB_TYPES = {
    "str": "VARCHAR",
    "string[pyarrow]": "VARCHAR",
    "category": "VARCHAR",
    "int64": "BIGINT",
    "Int64": "BIGINT",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
}
REFRESHES = "refreshes"
REFRESH_TABLES = "refresh_tables"
MANAGED = {REFRESHES, REFRESH_TABLES}
DEFAULT_LOCK_TIMEOUT = 30.0
# The published tables of the attached warehouse (not those of other attached databases).
TABLES_SQL = "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'"
_RETRY_PAUSE = 0.2
# Writers keep DuckDB's own memory bounded (it spills to a temp folder beside the file), so a
# million-claim refresh fits in a laptop's memory beside pandas' working set. Writers only
# append and rename, so a small buffer pool costs no time (measured in bench/NOTES.md).
_WRITER_CONFIG = {"memory_limit": "128MB"}
# Staging appends commit one by one (a single transaction would hold them in memory), but
# checkpoint only at the end: DuckDB's default of one every 16 MB of WAL re-checkpointed the
# growing tables again and again, a third of a million-claim refresh.
_STAGING_CONFIG = {**_WRITER_CONFIG, "checkpoint_threshold": "1GB"}
# Staged rows handed to the writer thread and not yet written: about one chunk's tables (a
# 25,000-claim chunk is ~55 MB of Arrow), so the next chunk is computed while DuckDB writes
# the last one, and at most one chunk is held beyond the one being built.
MAX_PENDING_BYTES = 80 * 2**20


@dataclass(frozen=True)
class TableSpec:
    """A published table: its name and typed columns (name, DuckDB type)."""

    name: str
    columns: tuple[tuple[str, str], ...]
    description: str = ""

    def ddl(self) -> str:
        cols = ", ".join(f'"{c}" {t}' for c, t in self.columns)
        return f'CREATE TABLE "{self.name}" ({cols})'

    def insert_from(self, relation: str) -> str:
        cols = ", ".join(f'"{c}"' for c, _ in self.columns)
        casts = ", ".join(f'CAST("{c}" AS {t})' for c, t in self.columns)
        return f'INSERT INTO "{self.name}" ({cols}) SELECT {casts} FROM {relation}'


def spec_from_model(name: str) -> TableSpec:
    schema = MODELS[name].to_schema()
    cols = []
    for col, c in schema.columns.items():
        key = str(c.dtype)
        if key not in _DUCKDB_TYPES:
            raise TypeError(f"{name}.{col}: no DuckDB type for {key}")
        cols.append((col, _DUCKDB_TYPES[key]))
    return TableSpec(name, tuple(cols), schema.description or "")


@dataclass
class Receipt:
    """What a publish wrote, read back from the published file."""

    refresh_id: str
    path: Path
    published_at: str
    row_counts: dict[str, int]
    table_hashes: dict[str, str] = field(default_factory=dict)


def new_refresh_id() -> str:
    now = dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"


def table_hash(df: pd.DataFrame) -> str:
    """An order-independent content hash of a small frame (the source fingerprint)."""
    if df.empty:
        return "0" * 16
    hashed = pd.util.hash_pandas_object(df, index=False).to_numpy()
    return f"{int(hashed.sum(dtype='uint64')):016x}"


def _content_hash(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """An order-independent hash of a published table's rows, computed by DuckDB."""
    (value,) = con.execute(f'SELECT sum(hash(t)::HUGEINT) % 18446744073709551616 FROM "{name}" AS t').fetchall()[0]
    return f"{int(value or 0):016x}"


class Warehouse:
    """The published DuckDB file at ``path``."""

    def __init__(self, path: Path | str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout

    # Reading -------------------------------------------------------------------------

    @contextlib.contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the current snapshot (retried while a writer holds it)."""
        if not self.path.exists():
            raise CdmoError(f"no warehouse at {self.path}: run a refresh first (`make run` or `cdmo refresh`)")
        con = self._connect(self.path, read_only=True)
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with self.reader() as con:
            return con.execute(sql, params or []).df()

    def latest_refresh(self) -> dict | None:
        if not self.path.exists():
            return None
        with self.reader() as con:
            if not _has_table(con, REFRESHES):
                return None
            rows = con.execute(f'SELECT * FROM "{REFRESHES}" ORDER BY published_at DESC, refresh_id DESC LIMIT 1').df()
        return None if rows.empty else rows.iloc[0].to_dict()

    def export_parquet(self, target: str, refresh_id: str) -> list[str]:
        """Copy every published table to Parquet under ``target`` (a directory, or an object
        store URI pyarrow knows, such as s3://bucket/prefix): ``<target>/<refresh_id>/<table>.parquet``,
        then ``<target>/latest.json`` naming that refresh, written last, so a reader of the
        pointer never sees half an export."""
        import pyarrow.fs as pafs
        import pyarrow.parquet as pq

        fs, root = (
            pafs.FileSystem.from_uri(target)
            if "://" in target
            else (pafs.LocalFileSystem(), str(Path(target).resolve()))
        )
        folder = f"{root.rstrip('/')}/{refresh_id}"
        fs.create_dir(folder, recursive=True)
        written = []
        with self.reader() as con:
            names = [n for (n,) in con.execute(TABLES_SQL + " ORDER BY table_name").fetchall()]
            for name in names:
                reader = con.sql(f'SELECT * FROM "{name}"').to_arrow_reader()
                path = f"{folder}/{name}.parquet"
                with fs.open_output_stream(path) as out, pq.ParquetWriter(out, reader.schema) as writer:
                    for batch in reader:
                        writer.write_batch(batch)
                written.append(path)
        with fs.open_output_stream(f"{root.rstrip('/')}/latest.json") as out:
            out.write(json.dumps({"refresh_id": refresh_id, "tables": names}).encode())
        return written

    def _connect(self, path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        """Connect, retrying a lock conflict until ``lock_timeout``, then a clear error.

        Read-only connections attach the file to a private in-memory database: DuckDB shares
        one instance per path within a process, so a plain connection could see the snapshot
        another connection of this process opened before the last swap.

        DuckDB opens the file by name twice while attaching it (once for the headers, once
        for the catalog), so a swap landing between the two would pair one snapshot's header
        with the other's blocks: an error, never a silent mix (RELIABILITY.md). An open during
        which the file under the name changed is therefore discarded and retried.
        """
        deadline = time.monotonic() + self.lock_timeout
        while True:
            before = _identity(path) if read_only else None
            con, error = None, None
            try:
                con = duckdb.connect(str(path)) if not read_only else self._attach(path)
            except duckdb.Error as exc:
                error = exc
            if read_only and _identity(path) != before:
                # Opened across a swap: whether it failed or not, it may hold either snapshot.
                if con is not None:
                    con.close()
                if time.monotonic() < deadline:
                    continue
                raise CdmoError(f"the warehouse {path} kept being replaced while it was opened") from error
            if con is not None:
                return con
            if not isinstance(error, duckdb.IOException) or "lock" not in str(error).lower():
                raise CdmoError(f"cannot open the warehouse {path}: {error}") from error
            if time.monotonic() >= deadline:
                raise WarehouseBusyError(
                    f"the warehouse {path} is held open for writing by another process "
                    f"(waited {self.lock_timeout:g} s): {_lock_holder(error)}"
                ) from error
            time.sleep(_RETRY_PAUSE)

    @staticmethod
    def _attach(path: Path) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        try:
            con.execute("ATTACH ? AS warehouse (READ_ONLY)", [str(path)])
            con.execute("USE warehouse")
        except BaseException:
            con.close()
            raise
        return con

    # Publishing ----------------------------------------------------------------------

    @contextlib.contextmanager
    def refresh_lock(self) -> Iterator[None]:
        """Serialise refreshes: an advisory lock file beside the warehouse, bounded wait."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+") as handle:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError as exc:
                    if time.monotonic() >= deadline:
                        handle.seek(0)
                        holder = handle.read().strip() or "unknown"
                        raise WarehouseBusyError(
                            f"another refresh of {self.path} is running ({holder}); waited {self.lock_timeout:g} s"
                        ) from exc
                    time.sleep(_RETRY_PAUSE)
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}")
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)

    def publish(
        self,
        tables: Mapping[str, pd.DataFrame],
        *,
        sources: pd.DataFrame,
        views: tuple[View, ...] = VIEWS,
        run_id: str | None = None,
        refresh_id: str | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> Receipt:
        """Publish every table at once, or nothing: write, audit, then swap the snapshot."""
        with self.snapshot(views=views, run_id=run_id, refresh_id=refresh_id, on_step=on_step) as snap:
            for name, df in tables.items():
                snap.append(name, df)
            return snap.commit(sources)

    @contextlib.contextmanager
    def snapshot(
        self,
        *,
        views: tuple[View, ...] = VIEWS,
        run_id: str | None = None,
        refresh_id: str | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> Iterator["Snapshot"]:
        """A new snapshot to write table by table (chunk by chunk); published by ``commit``.

        Leaving the block without ``commit`` (an error, a failed audit) publishes nothing
        and removes the candidate.
        """
        step = on_step or (lambda _name: None)
        refresh_id = refresh_id or new_refresh_id()
        with self.refresh_lock():
            self._sweep_candidates()
            step("read_history")
            history, history_tables = self._history()
            candidate = self.path.with_name(f".{self.path.name}.{refresh_id}.candidate")
            step("write_candidate")
            snap = Snapshot(self, candidate, refresh_id, run_id, views, history, history_tables, step)
            try:
                yield snap
            finally:
                snap.close()
                # Swapped in, or discarded.
                for leftover in (candidate, candidate.with_name(candidate.name + ".wal")):
                    leftover.unlink(missing_ok=True)

    def _sweep_candidates(self) -> None:
        """Remove candidates left by refreshes that were killed (we hold the lock)."""
        for pattern in (f".{self.path.name}.*.candidate*", f".{self.path.name}.*.staging*"):
            for stale in self.path.parent.glob(pattern):
                stale.unlink(missing_ok=True)

    def _history(self) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        """Previous refresh records, carried into the new snapshot."""
        if not self.path.exists():
            return None, None
        con = self._connect(self.path, read_only=True)
        try:
            names = set(con.execute(TABLES_SQL).fetchall())
            names = {n for (n,) in names}
            if names and REFRESHES not in names:
                raise CdmoError(
                    f"{self.path} is a DuckDB database but not a cdmo-pipeline warehouse (it has no "
                    f"`{REFRESHES}` table); refusing to replace it. Point CDMO_DUCKDB_PATH elsewhere."
                )
            history = con.execute(f'SELECT * FROM "{REFRESHES}"').df() if REFRESHES in names else None
            history_tables = con.execute(f'SELECT * FROM "{REFRESH_TABLES}"').df() if REFRESH_TABLES in names else None
        except duckdb.Error as exc:
            raise CdmoError(f"cannot read the current warehouse {self.path}: {exc}") from exc
        finally:
            con.close()
        return history, history_tables

    def _verify(self, path: Path, refresh_id: str, counts: Mapping[str, int]) -> None:
        """Read back the refresh id and every row count; anything else is not a publish."""
        con = self._connect(path, read_only=True)
        try:
            latest = con.execute(
                f'SELECT refresh_id FROM "{REFRESHES}" ORDER BY published_at DESC, refresh_id DESC LIMIT 1'
            ).fetchall()
            if not latest or latest[0][0] != refresh_id:
                raise AuditError(f"{path}: expected refresh {refresh_id}, found {latest[0][0] if latest else 'none'}")
            for name, expected in counts.items():
                (found,) = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0]
                if found != expected:
                    raise AuditError(f"{path}: table {name} has {found} rows, expected {expected}")
        finally:
            con.close()

    def _swap(self, candidate: Path) -> None:
        """Atomically replace the warehouse with the candidate (same directory, one rename)."""
        _fsync(candidate)
        stale_wal = self.path.with_name(self.path.name + ".wal")
        if stale_wal.exists():
            # Nobody holds the old file for writing (we just read it), so its WAL is stale and
            # must not be replayed into the new snapshot.
            stale_wal.rename(stale_wal.with_name(stale_wal.name + f".stale-{int(time.time())}"))
        os.replace(candidate, self.path)
        _fsync_dir(self.path.parent)


STAGED_PREFIX = "_staged_"


class Snapshot:
    """A refresh being written: tables staged chunk by chunk, then published in one transaction.

    ``append`` adds rows to staging tables (``_staged_<name>``) in the candidate file beside
    the warehouse, committed as it goes so memory stays flat, by a writer thread that works
    while the caller builds the next rows. ``commit`` waits for it, then, in one DuckDB
    transaction, renames every staged table to its published name and adds the refresh
    record and the views; checkpoints; reads back the refresh id and every row count; swaps
    the candidate in and reads them back again. Renaming instead of copying writes each row
    once. Tables are typed from their pandera models.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        candidate: Path,
        refresh_id: str,
        run_id: str | None,
        views: tuple[View, ...],
        history: pd.DataFrame | None,
        history_tables: pd.DataFrame | None,
        step: Callable[[str], None],
    ) -> None:
        self.warehouse, self.candidate, self.refresh_id, self.run_id = warehouse, candidate, refresh_id, run_id
        self.views, self.history, self.history_tables, self.step = views, history, history_tables, step
        self.counts: dict[str, int] = {}
        self.con: duckdb.DuckDBPyConnection | None = duckdb.connect(str(self.candidate), config=_STAGING_CONFIG)
        self.con.execute("SET enable_progress_bar = false")
        # One writer thread, so statements run in the order given. DuckDB releases the GIL
        # while it writes: the caller computes the next chunk meanwhile.
        self._writer: ThreadPoolExecutor | None = ThreadPoolExecutor(1, thread_name_prefix="cdmo-staging")
        self._pending: deque[tuple[str, Future[None], int]] = deque()

    def append(self, name: str, df: pd.DataFrame) -> None:
        """Add rows to a table's staging table (created, typed from its model, on first use).

        The rows are written by the writer thread; a failed write is raised by a later
        ``append`` or by ``commit``, so nothing is published either way. Arrow shares the
        frame's numeric buffers, so the caller must not change the frame in place afterwards
        (the refresh only reads a chunk's tables once they are staged)."""
        spec = replace(spec_from_model(name), name=STAGED_PREFIX + name)
        if name not in self.counts:
            self._submit(name, 0, self._execute, spec.ddl())
            self.counts[name] = 0
        if len(df):
            # Through Arrow: Arrow-backed text and categoricals scan without Python objects.
            frame = pa.Table.from_pandas(df[[c for c, _ in spec.columns]], preserve_index=False)
            self._submit(name, frame.nbytes, self._insert, spec, frame)
        self.counts[name] += len(df)

    def flush(self) -> None:
        """Wait until every staged row is written; raise the first failed write."""
        while self._pending:
            self._wait_oldest()

    def _submit(self, name: str, nbytes: int, fn: Callable[..., None], *args: object) -> None:
        if self._writer is None:
            raise AuditError(f"staging table {name}: the snapshot is closed")
        # Bounded: wait while the writer holds too much, and surface failures early.
        while self._pending and (
            self._pending[0][1].done() or sum(p[2] for p in self._pending) + nbytes > MAX_PENDING_BYTES
        ):
            self._wait_oldest()
        self._pending.append((name, self._writer.submit(fn, *args), nbytes))

    def _wait_oldest(self) -> None:
        name, future, _ = self._pending.popleft()
        try:
            future.result()
        except duckdb.Error as exc:
            raise AuditError(f"staging table {name} failed: {exc}") from exc

    def _execute(self, sql: str) -> None:
        assert self.con is not None
        self.con.execute(sql)

    def _insert(self, spec: TableSpec, frame: pa.Table) -> None:
        assert self.con is not None
        self.con.register("_frame", frame)
        try:
            self.con.execute(spec.insert_from("_frame"))
        finally:
            self.con.unregister("_frame")

    def commit(self, sources: pd.DataFrame) -> Receipt:
        """Publish: every table, the record and the views in one transaction; verify; swap."""
        for name in MODELS:  # every published table exists, even when empty
            if name not in self.counts:
                self.append(name, pd.DataFrame({c: [] for c, _ in spec_from_model(name).columns}))
        self.flush()
        self.close()
        published_at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        record = _refresh_record(self.refresh_id, published_at, self.run_id, sources, self.counts)
        self.step("publish_transaction")
        con = duckdb.connect(str(self.candidate), config=_WRITER_CONFIG)
        try:
            con.execute("SET enable_progress_bar = false")
            # One statement per execute: DuckDB runs a multi-statement string non-atomically,
            # and a COMMIT after a failed statement silently rolls back; each is checked alone.
            # Only renames and new objects here: no table is dropped in the transaction.
            con.execute("BEGIN TRANSACTION")
            try:
                for name in self.counts:
                    spec = spec_from_model(name)
                    con.execute(f'ALTER TABLE main."{STAGED_PREFIX}{name}" RENAME TO "{name}"')
                    if spec.description:
                        con.execute(f"COMMENT ON TABLE main.\"{name}\" IS '{_sql_literal(spec.description)}'")
                hashes = {name: _content_hash(con, name) for name in self.counts}
                _write_refreshes(con, self.history, self.history_tables, record, hashes, self.counts)
                for view in self.views:
                    con.execute(f'CREATE VIEW main."{view.name}" AS {view.sql}')
                    con.execute(f"COMMENT ON VIEW main.\"{view.name}\" IS '{_sql_literal(view.description)}'")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            raise AuditError(f"writing the new warehouse snapshot failed: {exc}") from exc
        finally:
            con.close()
        self.step("verify_candidate")
        self.warehouse._verify(self.candidate, self.refresh_id, self.counts)
        self.step("swap")
        self.warehouse._swap(self.candidate)
        self.step("verify_published")
        self.warehouse._verify(self.warehouse.path, self.refresh_id, self.counts)
        return Receipt(self.refresh_id, self.warehouse.path, published_at, dict(self.counts), hashes)

    def close(self) -> None:
        """Stop the writer (dropping what it has not started) and close the staging file."""
        if self._writer is not None:
            self._writer.shutdown(wait=True, cancel_futures=True)
            self._writer = None
        self._pending.clear()
        if self.con is not None:
            self.con.close()
            self.con = None


def _refresh_record(
    refresh_id: str, published_at: str, run_id: str | None, sources: pd.DataFrame, counts: Mapping[str, int]
) -> dict:
    files = dict(zip(sources["file"].astype(str), sources["sha256"].astype(str), strict=True))
    fingerprint = table_hash(pd.DataFrame(sorted(files.items()), columns=["file", "sha256"]))
    return {
        "refresh_id": refresh_id,
        "published_at": published_at,
        "run_id": run_id,
        "n_sources": len(sources),
        "sources_fingerprint": fingerprint,
        "source_files": json.dumps(files, sort_keys=True),
        "row_counts": json.dumps(dict(counts), sort_keys=True),
    }


_REFRESHES_SPEC = TableSpec(
    REFRESHES,
    (
        ("refresh_id", "VARCHAR"),
        ("published_at", "VARCHAR"),
        ("run_id", "VARCHAR"),
        ("n_sources", "BIGINT"),
        ("sources_fingerprint", "VARCHAR"),
        ("source_files", "VARCHAR"),
        ("row_counts", "VARCHAR"),
    ),
    "One row per publish: when, from which source files (and their hashes), how many rows",
)
_REFRESH_TABLES_SPEC = TableSpec(
    REFRESH_TABLES,
    (("refresh_id", "VARCHAR"), ("table_name", "VARCHAR"), ("n_rows", "BIGINT"), ("content_hash", "VARCHAR")),
    "One row per publish and table: row count and content hash",
)


def _write_refreshes(
    con: duckdb.DuckDBPyConnection,
    history: pd.DataFrame | None,
    history_tables: pd.DataFrame | None,
    record: dict,
    hashes: Mapping[str, str],
    counts: Mapping[str, int],
) -> None:
    rows = pd.DataFrame([record])
    if history is not None and not history.empty:
        rows = pd.concat([history[[c for c, _ in _REFRESHES_SPEC.columns]], rows], ignore_index=True)
    per_table = pd.DataFrame(
        [
            {"refresh_id": record["refresh_id"], "table_name": n, "n_rows": counts[n], "content_hash": hashes[n]}
            for n in counts
        ]
    )
    if history_tables is not None and not history_tables.empty:
        per_table = pd.concat(
            [history_tables[[c for c, _ in _REFRESH_TABLES_SPEC.columns]], per_table], ignore_index=True
        )
    for spec, frame in ((_REFRESHES_SPEC, rows), (_REFRESH_TABLES_SPEC, per_table)):
        con.execute(spec.ddl())
        con.register("_frame", frame)
        try:
            con.execute(spec.insert_from("_frame"))
        finally:
            con.unregister("_frame")
        con.execute(f"COMMENT ON TABLE \"{spec.name}\" IS '{_sql_literal(spec.description)}'")


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables()"
        " WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?",
        [name],
    ).fetchall()
    return rows[0][0] > 0


def _sql_literal(text: str) -> str:
    """Escape a fixed, code-owned description for COMMENT ON (which takes no parameters)."""
    return text.replace("'", "''")


def _lock_holder(exc: Exception) -> str:
    text = str(exc)
    marker = "Conflicting lock is held in"
    return text[text.index(marker) :].split(". See also")[0] if marker in text else text


def _identity(path: Path) -> tuple[int, ...] | None:
    """What file is under ``path`` now: a swap changes the inode and its times."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
