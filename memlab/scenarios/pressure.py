"""Memory pressure on the model: too little RAM sends the least recently written pages to swap,
and pages given MADV_FREE are dropped before anything is swapped.

These are the model's rules (memlab.space.memory); no test holds them against a kernel, whose
reclaim also weighs other processes, the page cache and its own LRU lists.

>>> [s.label for s in squeezed("list", 4096, 50)]
['start', 'filled', 'cleared', 'destroyed']
>>> steps = lazy_free_steps(8 * PAGE, ram=12 * PAGE)
>>> [(s.label, s.rss // PAGE, s.lazy // PAGE) for s in steps][:3]
[('written', 8, 0), ('MADV_FREE', 8, 8), ('MADV_DONTNEED', 0, 0)]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from memlab.scenarios.programs import Stage, model_stages
from memlab.space import MADV_DONTNEED, MADV_FREE, AddressSpace
from memlab.units import PAGE, align_up, fmt_bytes

__all__ = ["peak", "squeezed", "ram_for", "LazyStep", "lazy_free_steps"]


@lru_cache(maxsize=64)
def peak(kind: str, n: int) -> int:
    """The largest RES of ``containers KIND N``'s stages on the model with RAM to spare
    (remembered: a dashboard asks for it at every move).

    >>> peak("list", 1024) // 1024
    40
    """
    return max(s.rss for s in model_stages(kind, n))


def squeezed(kind: str, n: int, ram_percent: int) -> list[Stage]:
    """The program's stages when this process may have only ``ram_percent`` % of its peak
    RES in RAM (whole pages, at least one); swap is as big as the peak.

    >>> s = squeezed("list", 4096, 50); s[1].rss + s[1].swap == peak("list", 4096)
    True
    """
    return model_stages(kind, n, ram=ram_for(kind, n, ram_percent), swap=align_up(peak(kind, n)))


def ram_for(kind: str, n: int, ram_percent: int) -> int:
    """The RAM (bytes) ``squeezed`` gives the program: ``ram_percent`` % of its peak RES, in
    whole pages, at least one. Pages swapped out while the program grew stay in swap until
    touched, so a stage's RES may sit well below it.

    >>> ram_for("list", 1024, 50) == peak("list", 1024) // 2 // PAGE * PAGE
    True
    """
    if not 1 <= ram_percent <= 100:
        raise ValueError(f"ram_percent must be 1..100, got {ram_percent}")
    return max(PAGE, peak(kind, n) * ram_percent // 100 // PAGE * PAGE)


@dataclass(frozen=True, slots=True)
class LazyStep:
    """The process after one step of the MADV_FREE story.

    >>> LazyStep("x", 4096, 4096, 0, 0).label
    'x'
    """

    label: str
    rss: int
    lazy: int
    swap: int
    reclaimed: int

    def __str__(self) -> str:
        return (f"{self.label + ':':<28}RES {fmt_bytes(self.rss):>9}, of it MADV_FREE "
                f"{fmt_bytes(self.lazy):>9}; dropped so far {fmt_bytes(self.reclaimed)}")


def lazy_free_steps(size: int, ram: int) -> list[LazyStep]:
    """The MADV_FREE story on the model, one LazyStep after each part: a mapped block of
    ``size`` written; given MADV_FREE (still resident, marked lazy); given MADV_DONTNEED (gone
    at once); written again and given MADV_FREE; then a second block of ``size`` written while
    RAM holds only ``ram``: the lazy pages are dropped first, without going to swap.
    """
    space = AddressSpace(ram=ram, swap=size, log=False)
    out = []

    def note(label: str) -> None:
        out.append(LazyStep(label, space.rss, space.lazy_free, space.swap, space.reclaimed_lazy))

    a = space.mmap(size)
    space.touch(a, size)
    note("written")
    space.madvise(a, size, MADV_FREE)
    note("MADV_FREE")
    space.madvise(a, size, MADV_DONTNEED)
    note("MADV_DONTNEED")
    space.touch(a, size)
    space.madvise(a, size, MADV_FREE)
    note("written, MADV_FREE again")
    b = space.mmap(size)
    space.touch(b, size)
    note("another block written")
    return out
