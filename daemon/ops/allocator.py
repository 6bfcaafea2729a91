"""The C allocator's setting for a process that handles a large attachment now and then.

glibc's malloc serves a request of at least its mmap threshold with a mapping of its own, given back
to the system whole when freed. By default that threshold moves up to the size of the largest such
block freed (up to 32 MB): once a 19 MB CV was decoded and dropped, the next large mail's buffers come
from the heap, which fragments and keeps their pages. Measured over 1,000 mails with two 26 MB ones at
concurrency 4, the daemon's resident size stayed 20 MB higher after the second, and peaked at 138 MB;
with the threshold fixed at 1 MB it came back down each time and peaked at 112 MB. The mail bodies of
a few hundred KB stay under it, served from the heap as before.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
LARGE_BLOCK_BYTES = 1024 * 1024


def give_back_large_blocks(threshold: int = LARGE_BLOCK_BYTES) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes (setting it also stops its moving up); whether
    it was set. Elsewhere (another C library, another system) nothing is changed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = bool(mallopt(M_MMAP_THRESHOLD, threshold))
    if not done:
        log.debug("allocator.unchanged", extra={"threshold": threshold})
    return done
