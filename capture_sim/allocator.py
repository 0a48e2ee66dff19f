"""The C heap policy for rendering: frame-sized temporaries are recycled instead of mapped afresh.

glibc serves an allocation above its mmap threshold (dynamic, at most 32 MiB) with a fresh mmap that the kernel
zero-fills page by page on first touch and unmaps on free. One float32 plane of a 1920x1080 frame at supersample 2
is 33 MiB, so every temporary of a 1080p render paid that; at 1280x720 (15 MiB planes) the dynamic threshold
already kept them in the heap. Serving allocations up to 1 GiB from the heap, and not trimming it, reuses the
freed buffers: the peak resident size is unchanged (the renderer reaches it on every capture), the resident size
just stays at that peak between captures.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_HEAP_LIMIT = 1 << 30


@lru_cache(maxsize=1)
def recycle_frame_buffers() -> bool:
    """Apply the policy once per process (glibc only; elsewhere nothing changes). True when it is in force."""
    name = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(name), "mallopt", None) if name else None
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _HEAP_LIMIT)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 * _HEAP_LIMIT - 1))
