"""Give freed memory back to the system between the steps of a long refresh."""

import contextlib
import ctypes
import gc


def release_memory() -> None:
    """Return freed memory to the system: pandas' and Arrow's many short-lived arrays fragment
    the C heap, and the process would otherwise keep the high-water mark of every step."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
