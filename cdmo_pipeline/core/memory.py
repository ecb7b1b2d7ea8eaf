"""Give freed memory back to the system between the steps of a long refresh."""

import contextlib
import ctypes
import gc
import threading
from collections.abc import Iterator

# Worth it only after a step that let go of many rows; a small refresh skips it.
RELEASE_MIN_ROWS = 20_000


def release_memory(rows: int) -> None:
    """Return freed memory to the system after a step that handled ``rows`` rows: pandas' and
    Arrow's many short-lived arrays fragment the C heap, and the process would otherwise keep
    the high-water mark of every step."""
    if rows < RELEASE_MIN_ROWS:
        return
    # A full collection, though it walks every object of a Dagster process (~0.25 s): there,
    # some of a chunk's frames are only freed with reference cycles (the million-claim job
    # peaked at 1.58 GB collecting young objects only, 1.40 GB with full collections).
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


_frozen = {"depth": 0, "host": False}
_frozen_lock = threading.Lock()


@contextlib.contextmanager
def collecting_new_objects_only() -> Iterator[None]:
    """Within (or decorating a function): full collections walk only the objects made since
    entering. Those alive before, a Dagster process's ~200,000 objects of code and
    definitions, are set aside (``gc.freeze``): a collection then costs a chunk's objects,
    not the process's (0.13 s each in a Dagster process, once per chunk). They are handed
    back to the collector when the outermost of nested or concurrent uses ends, and not at
    all if the host program had frozen objects itself (before forking, say)."""
    with _frozen_lock:
        if _frozen["depth"] == 0:
            _frozen["host"] = gc.get_freeze_count() > 0
        _frozen["depth"] += 1
        gc.freeze()
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen["depth"] -= 1
            if _frozen["depth"] == 0 and not _frozen["host"]:
                gc.unfreeze()
