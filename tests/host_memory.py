"""Peak host memory of a piece of torch code on the CPU, for tests that check a memory estimate against
what the code really allocates.

:func:`peak_bytes` reads glibc's count of bytes in use (``mallinfo2``: every arena and every mmapped
block, which is where torch's CPU allocator takes its tensors) after every aten op the code runs (a
``TorchDispatchMode``), and returns the largest rise over the count at the start. Every tensor a kernel
returns is counted while it lives; a buffer a kernel makes and frees inside itself is not (none of the
engine's ops does that at these sizes). Python's own objects come from its arenas (mmap, not malloc),
so the noise is a few KB. Linux with glibc >= 2.33 only: elsewhere :func:`available` is false.
"""
from __future__ import annotations

import ctypes
import ctypes.util

from torch.utils._python_dispatch import TorchDispatchMode


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


def available() -> bool:
    return _LIBC is not None


def in_use() -> int:
    """Bytes glibc has handed out and not had back: small blocks (uordblks) and mmapped ones (hblkhd)."""
    info = _LIBC.mallinfo2()
    return info.uordblks + info.hblkhd


class _Peak(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.start = in_use()
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.peak = max(self.peak, in_use() - self.start)
        return out


def peak_bytes(fn, *args, **kwargs) -> tuple[int, object]:
    """(the peak rise of host bytes in use while ``fn(*args, **kwargs)`` runs, its result)."""
    with _Peak() as mode:
        result = fn(*args, **kwargs)
    return mode.peak, result
