"""Give freed memory back to the system between the steps of a long refresh."""

import contextlib
import ctypes
import gc

# Worth it only after a step that let go of many rows; a small refresh skips it.
RELEASE_MIN_ROWS = 20_000


def release_memory(rows: int) -> None:
    """Return freed memory to the system after a step that handled ``rows`` rows: pandas' and
    Arrow's many short-lived arrays fragment the C heap, and the process would otherwise keep
    the high-water mark of every step."""
    if rows < RELEASE_MIN_ROWS:
        return
    # The young generations only: a step's frames die by reference count (a full collection
    # found next to nothing to free in a refresh), and walking every object of a Dagster
    # process costs about 0.25 s each time.
    gc.collect(1)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
