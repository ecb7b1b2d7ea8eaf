"""``cdmo ui``'s supervisor: asked to stop, it ends every process it started, in bounded time.

Each case runs ``run_supervised`` in a child Python (it installs signal handlers) over a
small shell tree, signals that child by its PID alone, as ``kill PID`` does, and checks the
supervisor's exit, its time and that no process of the tree is left.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ui_helpers import session_members

SUPERVISOR = r"""
import sys
from cdmo_pipeline.supervise import run_supervised
print("code", run_supervised(sys.argv[2:], grace=float(sys.argv[1])), flush=True)
"""
ROOT = Path(__file__).resolve().parent.parent

# The trees: a shell leader (exec'd python, like dagster dev) and children of its own.
POLITE = "sleep 300 & sleep 300 & wait"  # SIGTERM ends every process at once
# A child that ignores SIGTERM, as a wedged run worker would.
STUBBORN = "sh -c 'trap \"\" TERM; while true; do sleep 0.1; done' & sleep 300 & wait"
# A leader that loses the first SIGTERM (dagster dev at stop 11) but obeys the second.
DEAF_ONCE = r"""
import os, signal, subprocess, sys, time
child = subprocess.Popen(["sleep", "300"])
seen = []
signal.signal(signal.SIGTERM, lambda *_: seen.append(1))
while len(seen) < 2:
    time.sleep(0.05)
child.terminate(); child.wait()
"""
EXITS = "sleep 300 & exit 3"  # the leader exits by itself, leaving a child behind


def _supervise(argv: list[str], grace: float, *, wait_for: int = 3) -> subprocess.Popen:
    """The supervisor over ``argv``, once ``wait_for`` processes of its session run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, str(grace), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while len(session_members(proc.pid)) < wait_for:
        assert time.monotonic() < deadline, "the supervised tree did not start"
        time.sleep(0.1)
    return proc


def _stop(proc: subprocess.Popen) -> tuple[float, str, str]:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    return time.monotonic() - started, out, err


# Must stop without force -------------------------------------------------------------------


def test_a_tree_that_obeys_sigterm_stops_at_once_and_exits_zero() -> None:
    proc = _supervise(["sh", "-c", POLITE], grace=20)
    seconds, out, err = _stop(proc)
    assert proc.returncode == 0 and "code 0" in out, (out, err)
    assert seconds < 10, seconds
    assert "killing" not in err, err
    assert session_members(proc.pid) == []


def test_a_leader_that_loses_the_first_sigterm_is_reminded_before_anything_is_killed() -> None:
    proc = _supervise([sys.executable, "-c", DEAF_ONCE], grace=6)
    seconds, out, err = _stop(proc)
    assert "sending SIGTERM again" in err, err
    assert "killing" not in err, err
    assert 3 <= seconds < 6, seconds  # reminded at grace / 2, stopped before grace
    assert "code 0" in out
    assert session_members(proc.pid) == []


# Must stop by force, in bounded time -------------------------------------------------------


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_and_named() -> None:
    proc = _supervise(["sh", "-c", STUBBORN], grace=3)
    seconds, out, err = _stop(proc)
    assert re.search(r"still running after [34] s; killing: \d+ sh -c trap", err), err  # named
    assert 3 <= seconds < 15, seconds
    assert "code 0" in out
    assert session_members(proc.pid) == []


def test_a_second_signal_kills_without_waiting() -> None:
    proc = _supervise(["sh", "-c", STUBBORN], grace=60)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert time.monotonic() - started < 15
    assert "code 0" in out
    assert session_members(proc.pid) == []


def test_a_leader_that_exits_by_itself_gives_its_code_and_leaves_nothing_behind() -> None:
    proc = _supervise(["sh", "-c", EXITS], grace=5, wait_for=1)
    out, err = proc.communicate(timeout=30)
    assert "code 3" in out, (out, err)
    assert session_members(proc.pid) == []  # the orphaned `sleep 300` was stopped too


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_ctrl_c_and_hangup_stop_it_like_sigterm(signum: int) -> None:
    proc = _supervise(["sh", "-c", POLITE], grace=20)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert "code 0" in out, (out, err)
    assert f"signal {signal.Signals(signum).name}" in err
    assert session_members(proc.pid) == []


def test_the_ui_gets_default_ctrl_c_handling_even_when_started_with_it_ignored() -> None:
    """Started as a background job (`cdmo ui &` in a script, some CI runners), a process
    inherits SIGINT ignored; Python then keeps it ignored, and Dagster maps SIGTERM to the
    SIGINT handler, so `dagster dev` ignored SIGTERM too. The supervisor catches SIGINT
    itself, so what it starts gets the default back."""
    probe = "import signal; print('child SIGINT', signal.getsignal(signal.SIGINT).__name__, flush=True)"
    script = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n" + SUPERVISOR
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script, "5", sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    assert "child SIGINT default_int_handler" in out, out
    assert "code 0" in out
