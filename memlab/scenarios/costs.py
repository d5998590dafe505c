"""What small requests would cost if each went straight to the kernel, and what malloc pays."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterable

from memlab.glibc import DEFAULT_RELEASE, Malloc
from memlab.units import PAGE, align_up

__all__ = [
    "SYSCALLS",
    "MmapCost",
    "MallocCost",
    "odd_sizes",
    "mmap_every_request_cost",
    "malloc_cost",
]

SYSCALLS = ("brk", "sbrk", "mmap", "munmap", "mremap", "madvise")
"""The address-space calls that are system calls (``touch`` is a memory write, not a call)."""


@dataclass(frozen=True, slots=True)
class MmapCost:
    """The bill for serving every request with its own ``mmap`` and freeing it with ``munmap``.

    >>> c = MmapCost(requests=2, requested=100, mapped=8192, syscalls=4)
    >>> (c.wasted, c.wasted_per_request)
    (8092, 4046.0)
    """

    requests: int
    requested: int
    mapped: int
    syscalls: int

    @property
    def wasted(self) -> int:
        """Bytes mapped but never asked for: each request is rounded up to whole pages."""
        return self.mapped - self.requested

    @property
    def wasted_per_request(self) -> float:
        return self.wasted / self.requests if self.requests else 0.0


def _sizes(sizes: Iterable[int]) -> list[int]:
    out = list(sizes)
    for i, s in enumerate(out):
        if not isinstance(s, int) or isinstance(s, bool) or s < 1:
            raise ValueError(f"sizes[{i}] must be an int >= 1, got {s!r}")
    return out


def odd_sizes(n: int, seed: int = 0, largest: int = 200) -> tuple[int, ...]:
    """n request sizes between 1 and ``largest`` bytes, drawn with a seeded generator.

    The same seed always gives the same sizes, so a lesson's numbers can be checked.

    >>> odd_sizes(3, seed=1) == odd_sizes(3, seed=1)
    True
    >>> all(1 <= s <= 200 for s in odd_sizes(1000))
    True
    """
    if n < 0 or largest < 1:
        raise ValueError(f"need n >= 0 and largest >= 1, got n={n}, largest={largest}")
    rng = random.Random(seed)
    return tuple(rng.randint(1, largest) for _ in range(n))


def mmap_every_request_cost(sizes: Iterable[int]) -> MmapCost:
    """What serving each request with its own mapping costs: whole pages, two calls each.

    mmap hands out whole 4096-byte pages, so a 24-byte request maps one page and wastes
    4072 bytes; getting and giving back each block takes one mmap and one munmap.

    >>> c = mmap_every_request_cost([24, 4096, 5000])
    >>> (c.mapped, c.wasted, c.syscalls)
    (16384, 7264, 6)
    """
    sizes = _sizes(sizes)
    mapped = sum(align_up(s, PAGE) for s in sizes)
    return MmapCost(len(sizes), sum(sizes), mapped, 2 * len(sizes))


@dataclass(frozen=True, slots=True)
class MallocCost:
    """What the glibc model did for the same requests: memory taken from the kernel and calls.

    ``peak_heap`` is the most the heap and mappings held at once (arena + hblkhd),
    ``peak_used`` the most the allocated chunks covered (uordblks + hblkhd), and
    ``syscalls`` the system calls made while allocating and freeing everything.

    >>> c = MallocCost(requests=1, requested=1, peak_used=688, peak_heap=135168, syscalls=1)
    >>> c.overhead
    687
    """

    requests: int
    requested: int
    peak_used: int
    peak_heap: int
    syscalls: int

    @property
    def overhead(self) -> int:
        """Bytes of chunk headers, rounding and bookkeeping above what was asked for."""
        return self.peak_used - self.requested


def _syscall_count(space) -> int:
    calls = space.calls
    return sum(calls.get(name, 0) for name in SYSCALLS)


def malloc_cost(sizes: Iterable[int], glibc: str = DEFAULT_RELEASE) -> MallocCost:
    """Malloc every size on the model, write each block, then free them all; count the cost.

    >>> malloc_cost([1]).peak_heap
    135168
    """
    sizes = _sizes(sizes)
    m = Malloc(glibc=glibc)
    before = _syscall_count(m.space)
    peak_used = peak_heap = 0
    ptrs = []
    for s in sizes:
        p = m.malloc(s)
        m.space.touch(p, s)
        ptrs.append(p)
    info = m.mallinfo2()
    peak_used = info.uordblks + info.hblkhd
    peak_heap = info.arena + info.hblkhd
    for p in ptrs:
        m.free(p)
    return MallocCost(len(sizes), sum(sizes), peak_used, peak_heap,
                      _syscall_count(m.space) - before)
