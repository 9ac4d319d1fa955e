"""Memory the process holds but no longer uses."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` from the symbols already loaded in this process, looked up once; None without it."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_free_heap() -> bool:
    """Give the C heap's free pages back to the kernel (glibc's ``malloc_trim``); whether any went (False: no glibc).

    Building the index frees far more than it keeps; without this those free pages stay resident for as long as the
    process runs, and a supervisor's are inherited by every worker it forks (64 MiB at 10,000 specialists)."""
    trim = _malloc_trim()
    return trim is not None and bool(trim(0))
