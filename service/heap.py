"""Memory the process holds but no longer uses."""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD = -1
"""glibc's ``mallopt`` parameter: free memory at the top of a heap beyond this is given back at once."""
M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter: allocations of at least this many bytes get their own mapping."""
BUILD_MMAP_THRESHOLD = 1 << 20
"""While building, blocks of 1 MiB and more are mapped apart, so freeing one gives its pages back at once."""
SERVING_MMAP_THRESHOLD = 32 << 20
"""After a build: glibc's own ceiling for its sliding threshold, where that threshold stands once a build has freed
its large arrays (so serving reuses heap memory for its temporaries instead of mapping and faulting them anew)."""
TRIM_THRESHOLD = 2 * SERVING_MMAP_THRESHOLD
"""Set with either: where glibc's sliding trim threshold stands after a build (twice the mmap one). Fixing the mmap
threshold stops the sliding of both, and a trim threshold left where it started (128 KiB) would give back and take
again the top of the heap far more often than glibc does after a build."""

_building = 0
_building_lock = threading.Lock()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` from the symbols already loaded in this process, looked up once; None without it."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt``, looked up once; None without it."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


@contextmanager
def large_blocks_mapped() -> Iterator[None]:
    """While a build runs, allocate every block of 1 MiB or more in its own mapping (glibc ``mallopt``; nothing
    elsewhere), then set the threshold where glibc's sliding one would stand.

    Why: the vectorizer's per-chunk arrays are a few MiB each. Once the build has freed one large array, glibc
    raises its threshold and serves the later ones from the heap, where freeing leaves them resident. They stay
    there under the index arrays allocated next, so the build's peak held both. Measured on the text index's
    build: peak RSS 1,217-1,252 -> 917-926 MiB for 200,000 profiles, 5,134 -> 3,305 MiB for a million; the
    build took from the same time to a seventh longer. Nested and concurrent builds keep the low threshold until
    the last ends."""
    global _building
    mallopt = _mallopt()
    with _building_lock:
        _building += 1
        if mallopt is not None:
            mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
            mallopt(M_MMAP_THRESHOLD, BUILD_MMAP_THRESHOLD)
    try:
        yield
    finally:
        with _building_lock:
            _building -= 1
            if mallopt is not None and _building == 0:
                mallopt(M_MMAP_THRESHOLD, SERVING_MMAP_THRESHOLD)


def release_free_heap() -> bool:
    """Give the C heap's free pages back to the kernel (glibc's ``malloc_trim``); whether any went (False: no glibc).

    Building the index frees far more than it keeps; without this those free pages stay resident for as long as the
    process runs, and a supervisor's are inherited by every worker it forks (64 MiB at 10,000 specialists)."""
    trim = _malloc_trim()
    return trim is not None and bool(trim(0))
