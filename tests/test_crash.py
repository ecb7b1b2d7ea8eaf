"""Crashes: SIGKILL a refresh at many points; the warehouse holds publish A or publish B, never a mix.

Before every kill the warehouse holds publish A (the article alone). A child process refreshes
it to B (every reference source plus a generated bulk CSV of a few thousand claims) and is
killed with SIGKILL:

- at time offsets spread over the whole refresh (measured first, from its "start" line);
- right after it reports each publish step (read_history, write_candidate, verify_candidate,
  swap, verify_published) and at fractions of the candidate write;
- from inside, at exact points no outside timing can hit reliably: before a table's INSERT,
  before COMMIT, before and after CHECKPOINT of the candidate, before and after the rename.

After each kill the file must open read-only and hold exactly A or exactly B (every table's
rows compared, refresh records included). The next refresh sweeps the candidates the kills
left. Children are started one ahead (each imports the library while the previous one runs),
so the suite stays within its time budget; each refresh itself runs in a fresh interpreter.

    .venv/bin/python -m pytest tests/test_crash.py -q -s
"""

import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from cdmo_pipeline import pipeline
from cdmo_pipeline.warehouse import Warehouse
from tests.reliability_helpers import PYTHON, Child, candidates, classify, make_source_sets, restore, snapshot

pytestmark = pytest.mark.slow

N_BULK = 2000  # claims in the generated bulk CSV: a refresh of B takes about 1.5-3 s on an idle 2-core machine
STEPS = ("read_history", "write_candidate", "verify_candidate", "swap", "verify_published")

# The child: imports, says "ready", waits for a line on stdin, then refreshes, printing a
# time-stamped line at every step. ``mode`` arms an exact self-kill (see KILL PLAN below).
CHILD = r"""
import os, signal, sys, time
from pathlib import Path
src, db, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
from cdmo_pipeline import pipeline
import cdmo_pipeline.warehouse as wmod

def emit(event):
    print(f"{time.monotonic():.6f} {event}", flush=True)

def die(where):
    emit(f"selfkill {where}")
    os.kill(os.getpid(), signal.SIGKILL)

kind, _, arg = mode.partition(":")
if kind == "stmt":  # before/after a statement on the candidate connection
    when, _, prefix = arg.partition(":")
    real_connect = wmod.duckdb.connect

    class Candidate:
        def __init__(self, con):
            self._con = con
        def __getattr__(self, name):
            return getattr(self._con, name)
        def execute(self, sql, *args):
            hit = sql.startswith(prefix)
            if hit and when == "before":
                die(mode)
            out = self._con.execute(sql, *args)
            if hit and when == "after":
                die(mode)
            return out

    class Shim:
        def __getattr__(self, name):
            return getattr(sys.modules["duckdb"], name)
        def connect(self, path, *a, **k):
            con = real_connect(path, *a, **k)
            return Candidate(con) if str(path).endswith(".candidate") else con

    wmod.duckdb = Shim()
elif kind == "replace":  # just before / just after the atomic rename over the warehouse
    real_replace = os.replace
    def replace(a, b, *args, **kwargs):
        if Path(b) == db and arg == "before":
            die(mode)
        real_replace(a, b, *args, **kwargs)
        if Path(b) == db and arg == "after":
            die(mode)
    os.replace = replace

def on_step(name):
    emit(name)
    if kind == "step" and arg == name:
        die(mode)

emit("ready")
sys.stdin.readline()
emit("start")
prepared = pipeline.prepare(src)
emit("prepared")
receipt = pipeline.publish(prepared, wmod.Warehouse(db, lock_timeout=60), on_step=on_step)
emit("done")
"""

# Exact self-kills, and the outcome each must give.
SELF_KILLS = {
    "step:write_candidate": "A",
    'stmt:before:INSERT INTO "claims"': "A",
    'stmt:before:INSERT INTO "projections"': "A",
    "stmt:before:COMMIT": "A",
    "stmt:before:CHECKPOINT": "A",
    "stmt:after:CHECKPOINT": "A",
    "step:verify_candidate": "A",
    "step:swap": "A",
    "replace:before": "A",
    "replace:after": "B",
    "step:verify_published": "B",
}
N_TIME_OFFSETS = 10
WRITE_FRACTIONS = (0.2, 0.4, 0.6, 0.8)


def test_sigkill_anywhere_leaves_publish_a_or_b(tmp_path: Path) -> None:
    started = time.monotonic()
    src_a, src_b = make_source_sets(tmp_path, N_BULK)
    db = tmp_path / "wh" / "cdmo.duckdb"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    logs = tmp_path / "logs"
    logs.mkdir()

    # Publish A and keep the file: it is put back before every kill.
    pipeline.refresh(src_a, Warehouse(db))
    saved_a = tmp_path / "publish-a.duckdb"
    shutil.copyfile(db, saved_a)
    snap_a = snapshot(db)

    # KILL PLAN: (label, child mode, how the parent kills). The first run is not killed: it
    # measures the refresh and gives the reference publish B.
    plan: list[tuple[str, str, tuple]] = [("measure", "none", ("none",))]
    plan += [
        (f"t={i + 1}/{N_TIME_OFFSETS + 1}", "none", ("time", (i + 1) / (N_TIME_OFFSETS + 1)))
        for i in range(N_TIME_OFFSETS)
    ]
    plan += [(f"on {step}", "none", ("step", step)) for step in STEPS]
    plan += [(f"write+{int(f * 100)}%", "none", ("write", f)) for f in WRITE_FRACTIONS]
    plan += [(f"self {mode}", mode, ("self", expected)) for mode, expected in SELF_KILLS.items()]

    def spawn(k: int) -> Child:
        _, mode, _ = plan[k]
        return Child([PYTHON, str(script), str(src_b), str(db), mode], stderr_path=logs / f"child-{k}.stderr")

    outcomes: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    kills = completed = 0
    leftovers_seen = 0
    duration = write_time = 0.0
    snap_b = None
    results = []
    upcoming = spawn(0)
    for k, (label, _mode, how) in enumerate(plan):
        child = upcoming
        t0 = time.monotonic()
        child.wait_for("ready", timeout=120)
        print(f"[{time.monotonic() - started:6.1f}s] {label}: ready after {time.monotonic() - t0:.1f} s", flush=True)
        assert classify(db, snap_a, snap_b or snap_a) == "A"  # the state before every kill
        child.send("go")
        upcoming = spawn(k + 1) if k + 1 < len(plan) else None  # imports while this one runs
        t_start, _ = child.wait_for("start")
        kind = how[0]
        if kind == "none":
            stamps = {}
            for event in ("prepared", *STEPS, "done"):
                stamps[event], _ = child.wait_for(event)
            assert child.finish() == 0, child.stderr_tail()
            duration = stamps["done"] - t_start
            write_time = stamps["verify_candidate"] - stamps["write_candidate"]
            snap_b = snapshot(db)
            assert snap_b.digests != snap_a.digests
            assert all(snap_b.digests[t] != snap_a.digests[t] for t in ("claims", "figures", "projections"))
            print(
                f"\nmeasured refresh of B: {duration:.2f} s (prepare {stamps['prepared'] - t_start:.2f} s, "
                f"candidate write {write_time:.2f} s); rows {snap_b.counts}"
            )
            restore(saved_a, db)
            continue
        if kind == "time":
            time.sleep(max(0.0, t_start + how[1] * duration - time.monotonic()))
        elif kind == "step":
            child.wait_for(how[1])
        elif kind == "write":
            t_write, _ = child.wait_for("write_candidate")
            time.sleep(max(0.0, t_write + how[1] * write_time - time.monotonic()))
        elif kind == "self":
            child.wait_for("selfkill", timeout=60)
        killed = child.kill() if kind != "self" else child.proc.wait(timeout=30) == -9
        rc = child.close()
        seen = child.drain()
        last = seen[-1].split()[-1] if seen else "?"
        if not killed:
            assert rc == 0, f"{label}: the child failed (rc {rc}): {child.stderr_tail()}"
            completed += 1
        kills += killed
        assert snap_b is not None
        try:
            outcome = classify(db, snap_a, snap_b)
        except Exception as exc:  # a mix, or a file that does not open: the promise is broken
            pytest.fail(f"after kill {label!r} (last step seen: {last}): {type(exc).__name__}: {exc}")
        if kind == "self":
            assert outcome == how[1], f"{label}: expected publish {how[1]}, found {outcome}"
        leftovers = candidates(db)
        leftovers_seen += bool(leftovers)
        outcomes[outcome] += 1
        by_kind.setdefault(kind, Counter())[outcome] += 1
        results.append((label, "SIGKILL" if killed else "finished first", last, outcome, len(leftovers)))
        if outcome == "B":
            restore(saved_a, db)

    print(f"{'kill point':<42} {'signal':<15} {'last step seen':<18} outcome  candidates left")
    for label, signal, last, outcome, n_left in results:
        print(f"{label:<42} {signal:<15} {last:<18} {outcome:<8} {n_left}")

    # The next refresh sweeps what the kills left, and publishes B whole.
    restore(saved_a, db)
    receipt = pipeline.refresh(src_b, Warehouse(db))
    assert candidates(db) == [], f"candidates left after the next refresh: {candidates(db)}"
    assert classify(db, snap_a, snap_b) == "B"
    assert receipt.row_counts == {t: snap_b.counts[t] for t in receipt.row_counts}

    elapsed = time.monotonic() - started
    print(
        f"kills: {kills} SIGKILLs ({completed} runs finished before their kill); outcomes {dict(outcomes)}; "
        f"by kind {{{', '.join(f'{k}: {dict(v)}' for k, v in by_kind.items())}}}; "
        f"{leftovers_seen} kills left candidate files, all swept by the next refresh; "
        f"mixes or unreadable files: 0; {elapsed:.0f} s"
    )
    assert kills >= 24, f"only {kills} kills landed while the refresh ran"
    assert by_kind["time"]["A"] >= 1, "no time-offset kill landed before the swap"
    assert outcomes["B"] >= 2, "no kill landed after the swap"
