"""Memory the process holds but no longer uses."""

from __future__ import annotations

import ctypes
import ctypes.util


def release_free_heap() -> bool:
    """Hand the C heap's free pages back to the kernel (glibc's ``malloc_trim``); False where there is none.

    Building the index frees far more than it keeps; without this those free pages stay resident for as long as the
    process runs, and a supervisor's are inherited by every worker it forks (64 MiB at 10,000 specialists)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))
