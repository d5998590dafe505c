"""Time the real C library: malloc/free against mmap/munmap, called through ctypes."""

from __future__ import annotations

import ctypes
import mmap as _mmap
import time
from dataclasses import dataclass

from memlab.errors import MemlabError
from memlab.native.runner import glibc_version

__all__ = ["RealTiming", "glibc_version", "time_allocators"]

_PROT_RW = _mmap.PROT_READ | _mmap.PROT_WRITE
_MAP_ANON_PRIVATE = _mmap.MAP_PRIVATE | _mmap.MAP_ANONYMOUS
_MAP_FAILED = 2**64 - 1


def _libc() -> ctypes.CDLL:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError as e:
        raise MemlabError(f"cannot load the C library libc.so.6: {e}") from None
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.restype = None
    libc.free.argtypes = [ctypes.c_void_p]
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.restype = ctypes.c_int
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.labs.restype = ctypes.c_long
    libc.labs.argtypes = [ctypes.c_long]
    return libc


@dataclass(frozen=True, slots=True)
class RealTiming:
    """Nanoseconds per loop iteration on the real machine, and what they say about each call.

    Every loop iteration makes three calls into C from Python. ``call_ns`` is a loop of three
    nearly empty C calls (the price of calling C from Python, about a microsecond);
    ``heap_loop_ns`` is malloc + a one-byte write + free; ``kernel_loop_ns`` is mmap + a
    one-byte write + munmap. Subtracting ``call_ns`` leaves the allocators' own cost.

    >>> t = RealTiming("2.36", 32, 1000, 3, call_ns=1000.0, heap_loop_ns=1250.0,
    ...                kernel_loop_ns=11000.0)
    >>> (t.malloc_ns, t.mmap_ns, t.ratio, t.loop_ratio)
    (250.0, 10000.0, 40.0, 8.8)
    """

    glibc: str
    size: int
    iterations: int
    repeats: int
    call_ns: float
    heap_loop_ns: float
    kernel_loop_ns: float

    @property
    def malloc_ns(self) -> float:
        """One malloc + write + free, less the cost of calling C (never below 0)."""
        return max(self.heap_loop_ns - self.call_ns, 0.0)

    @property
    def mmap_ns(self) -> float:
        """One mmap + write (a page fault) + munmap, less the cost of calling C."""
        return max(self.kernel_loop_ns - self.call_ns, 0.0)

    @property
    def ratio(self) -> float:
        """mmap_ns / malloc_ns, taking malloc_ns as at least 1 ns.

        A rough figure: malloc_ns is close to the timing noise of calling C from Python.
        """
        return self.mmap_ns / max(self.malloc_ns, 1.0)

    @property
    def loop_ratio(self) -> float:
        """How many times slower the whole mmap loop is than the malloc loop: a safe lower bound."""
        return self.kernel_loop_ns / self.heap_loop_ns

    def summary(self) -> str:
        """The measurement as a few lines of text, configuration first.

        >>> print(RealTiming("2.36", 32, 1000, 3, 1000.0, 1250.0, 11000.0).summary())
        glibc 2.36, 32-byte blocks, best of 3 runs of 1,000 rounds
        three do-nothing C calls    1,000 ns per round (the price of calling C from Python)
        malloc + write + free       1,250 ns per round: +250 ns
        mmap + write + munmap      11,000 ns per round: +10,000 ns
        one mmap round takes as long as 8.8 malloc rounds, Python's own overhead included
        """
        return "\n".join([
            f"glibc {self.glibc}, {self.size}-byte blocks, best of {self.repeats} runs of "
            f"{self.iterations:,} rounds",
            f"three do-nothing C calls {self.call_ns:>8,.0f} ns per round "
            "(the price of calling C from Python)",
            f"malloc + write + free    {self.heap_loop_ns:>8,.0f} ns per round: "
            f"+{self.malloc_ns:,.0f} ns",
            f"mmap + write + munmap    {self.kernel_loop_ns:>8,.0f} ns per round: "
            f"+{self.mmap_ns:,.0f} ns",
            f"one mmap round takes as long as {self.loop_ratio:.1f} malloc rounds, "
            "Python's own overhead included",
        ])


def time_allocators(size: int = 32, iterations: int = 2000, repeats: int = 9) -> RealTiming:
    """Time ``size``-byte malloc/free pairs against mmap/munmap pairs on this machine.

    Each pair also writes one byte into the block (a fresh mapping costs a page fault then).
    The three loops take turns ``repeats`` times and the fastest run of each is kept; the
    whole measurement makes ``3 * iterations * repeats`` iterations (well under a second for
    the defaults).

    >>> t = time_allocators(size=100, iterations=50, repeats=1)
    >>> (t.size, t.iterations, t.kernel_loop_ns > 0)
    (100, 50, True)
    """
    for name, value in (("size", size), ("iterations", iterations), ("repeats", repeats)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if iterations * repeats > 200_000:
        raise ValueError(f"iterations * repeats = {iterations * repeats} is over 200,000")
    libc = _libc()
    malloc, free, mmap, munmap, labs = libc.malloc, libc.free, libc.mmap, libc.munmap, libc.labs
    memset = ctypes.memset
    scratch = ctypes.create_string_buffer(16)
    spot = ctypes.addressof(scratch)

    def nothing(k: int) -> None:
        for _ in range(k):
            labs(size)
            memset(spot, 1, 1)
            free(None)

    def heap(k: int) -> None:
        for _ in range(k):
            p = malloc(size)
            memset(p, 1, 1)
            free(p)

    def kernel(k: int) -> None:
        for _ in range(k):
            p = mmap(None, size, _PROT_RW, _MAP_ANON_PRIVATE, -1, 0)
            if p is None or p == _MAP_FAILED:
                raise MemlabError(f"mmap({size}) failed: errno {ctypes.get_errno()}")
            memset(p, 1, 1)
            munmap(p, size)

    best = [float("inf")] * 3
    for _ in range(repeats):
        for i, loop in enumerate((nothing, heap, kernel)):
            start = time.perf_counter_ns()
            loop(iterations)
            best[i] = min(best[i], (time.perf_counter_ns() - start) / iterations)
    return RealTiming(glibc_version(), size, iterations, repeats, *best)
