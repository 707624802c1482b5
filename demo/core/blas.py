"""NumPy's BLAS on one thread while any segmenter is open.

NumPy's OpenBLAS runs a product of more than a few thousand values on a thread per core, and its threads
spin for a while after each product in case another follows. Masks are made by such products every
frame (YOLO's coefficients times its prototypes, the paste's two small products per instance), so those
threads spun on the very cores inference runs on. Through the Python API, YOLO11n-seg INT8 on a 2-core
machine made 29.8 FPS at 66 ms of CPU a frame; with one BLAS thread, 40.7 FPS at 47 ms. The products are
small, and one thread does them as fast.

threadpoolctl (the scikit-learn team's library, which scikit-learn uses the same way) sets the limit on
whichever BLAS NumPy loaded. The first open segmenter sets it; the last one to close gives back the number
of threads there was before, so a script's own NumPy work outside the segmenters' lifetime is untouched.
"""
from __future__ import annotations

import threading

from threadpoolctl import threadpool_limits

_lock = threading.Lock()
_holders = 0
_limits: threadpool_limits | None = None


class OneBlasThread:
    """Keeps NumPy's BLAS to one thread until :meth:`release` (once; more calls do nothing)."""

    def __init__(self) -> None:
        global _holders, _limits
        with _lock:
            if _holders == 0:
                _limits = threadpool_limits(limits=1, user_api="blas")
            _holders += 1
        self._held = True

    def release(self) -> None:
        global _holders, _limits
        with _lock:
            if not self._held:
                return
            self._held = False
            _holders -= 1
            if _holders == 0 and _limits is not None:
                _limits.restore_original_limits()
                _limits = None
