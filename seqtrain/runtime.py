"""Process-level settings that make training faster without changing any result.

glibc's malloc returns large freed blocks to the kernel right away (blocks above its mmap threshold
are unmapped, and the heap top is trimmed). A training step allocates and frees the same activation
buffers every time, so each step pays hundreds of thousands of page faults for fresh zeroed pages:
measured 10–25 % of the CPU time of a 2-core BLSTM epoch (bench/anchor). Keeping freed memory in
the process removes that cost; peak memory stays the same because the same buffers are reused.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("seqtrain")

# mallopt parameter numbers from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's maximum for a dynamic threshold is 32 MiB on 64-bit
TRIM_THRESHOLD_BYTES = 2**31 - 1


def keep_freed_memory() -> bool:
    """Raises glibc's mmap and trim thresholds; returns False (and changes nothing) without glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl, macOS)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and ok
    if not ok:
        log.debug("mallopt refused the thresholds; malloc settings unchanged")
    return ok
