"""Run a tree of processes that stops when asked: ``cdmo ui`` runs ``dagster dev`` under it.

``dagster dev`` starts a webserver, a daemon, code servers and, when the sensor or schedule
fires, run workers. Sent SIGTERM together they usually stop in seconds, but not always:

- Started with SIGINT ignored (a background job of a script, some CI runners), Python keeps
  it ignored and Dagster maps SIGTERM to the SIGINT handler, so ``dagster dev`` ignored SIGTERM
  altogether. Its webserver and daemon stopped, then waited forever on their shutdown pipes
  (py-spy, at stop 11). The supervisor catches SIGINT itself, so what it starts gets the
  default back.
- On a loaded machine, with a run being launched, stopping sometimes took longer than 30 s
  (CI at stop 11).

So the UI runs in a process group of its own, and the supervisor, on the first SIGINT,
SIGTERM or SIGHUP:

1. sends SIGTERM to that whole group (Dagster's own clean shutdown);
2. after ``grace / 2`` seconds, if ``dagster dev`` is still running, sends it SIGTERM again
   (measured on a loaded machine: in 4 of 6 stops it was still running at 10 s; all 6 then
   ended by 17.5 s, none needed SIGKILL);
3. after ``grace`` seconds, sends SIGKILL to whatever is left, names it, and waits until the
   group is gone.

A second signal skips the wait. ``kill PID`` (or Ctrl-C) thus always ends the UI and
everything it started. A refresh killed on the way is safe: its candidate is swept and the
last publish stays (RELIABILITY.md).
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
DEFAULT_GRACE = 20.0
_POLL = 0.2
_KILL_WAIT = 10.0
_PS = shutil.which("ps") or "/bin/ps"


def group_members(pgid: int) -> list[str]:
    """Live processes (zombies excluded: they are only waiting to be reaped) of a process group."""
    listing = subprocess.run([_PS, "-eo", "pid=,pgid=,stat=,args="], capture_output=True, text=True, check=False)  # noqa: S603
    members = []
    for line in listing.stdout.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3 and parts[1] == str(pgid) and not parts[2].startswith("Z"):
            members.append(f"{parts[0]} {parts[3] if len(parts) > 3 else ''}".strip())
    return members


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _log(message: str) -> None:
    print(f"cdmo ui: {message}", file=sys.stderr, flush=True)


def run_supervised(argv: Sequence[str], *, grace: float = DEFAULT_GRACE) -> int:
    """Run ``argv`` in a new process group until it exits or this process is asked to stop.

    Returns 0 for a requested stop, else the child's own exit code.
    """
    received: list[int] = []
    started: list[subprocess.Popen] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) > 1 and started:  # asked twice: do not wait
            _signal_group(started[0].pid, signal.SIGKILL)

    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s in STOP_SIGNALS:
        signal.signal(s, on_signal)
    try:
        # A group of its own: only this process gets the terminal's Ctrl-C, and decides.
        # No stdin: a background group that reads the terminal would be stopped.
        child = subprocess.Popen(list(argv), process_group=0, stdin=subprocess.DEVNULL)  # noqa: S603 (our own argv)
        started.append(child)
        while child.poll() is None and not received:
            time.sleep(_POLL)
        if received:
            _log(f"stopping (signal {signal.Signals(received[0]).name}); waiting up to {grace:g} s")
        # Also after the child exits by itself: its code servers and run workers may remain.
        _signal_group(child.pid, signal.SIGTERM)
        start = time.monotonic()
        reminded = False
        while group_members(child.pid) and time.monotonic() < start + grace and len(received) < 2:
            if not reminded and child.poll() is None and time.monotonic() > start + grace / 2:
                reminded = True  # slow, or the first one was lost (see above)
                _log("dagster dev is still running; sending SIGTERM again")
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(signal.SIGTERM)
            child.poll()
            time.sleep(_POLL)
        left = group_members(child.pid)
        if left:
            names = "; ".join(m[:120] for m in left)
            _log(f"{len(left)} process(es) still running after {time.monotonic() - start:.0f} s; killing: {names}")
            _signal_group(child.pid, signal.SIGKILL)
            deadline = time.monotonic() + _KILL_WAIT
            while group_members(child.pid) and time.monotonic() < deadline:
                time.sleep(_POLL)
        code = child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0 if received else code
