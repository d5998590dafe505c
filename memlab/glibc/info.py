"""What a heap reports: mallinfo2's record, malloc_stats' text, and chunk views for charts."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Mallinfo2", "ChunkView", "stats_text"]


@dataclass(frozen=True, slots=True)
class Mallinfo2:
    """glibc's struct mallinfo2, fields in glibc's order.

    >>> Mallinfo2(0, 1, 0, 0, 0, 0, 0, 0, 0, 0).ordblks
    1
    """

    arena: int
    ordblks: int
    smblks: int
    hblks: int
    hblkhd: int
    usmblks: int
    fsmblks: int
    uordblks: int
    fordblks: int
    keepcost: int


@dataclass(frozen=True, slots=True)
class ChunkView:
    """One chunk as a chart sees it: address, chunk size and where it is.

    >>> ChunkView(0x1000, 32, "in_use").size
    32
    """

    addr: int
    size: int
    state: str


def stats_text(mi: Mallinfo2, mmapped_mem: int, max_n_mmaps: int, max_mmapped_mem: int) -> str:
    """malloc_stats()'s text for one arena: four numbers printed as 32-bit unsigned.

    >>> print(stats_text(Mallinfo2(135168, 1, 0, 0, 0, 0, 0, 688, 134480, 134480), 0, 0, 0), end="")
    Arena 0:
    system bytes     =     135168
    in use bytes     =        688
    Total (incl. mmap):
    system bytes     =     135168
    in use bytes     =        688
    max mmap regions =          0
    max mmap bytes   =          0
    """
    u32 = 0xFFFFFFFF
    return (
        "Arena 0:\n"
        f"system bytes     = {mi.arena & u32:10d}\n"
        f"in use bytes     = {mi.uordblks & u32:10d}\n"
        "Total (incl. mmap):\n"
        f"system bytes     = {(mmapped_mem + mi.arena) & u32:10d}\n"
        f"in use bytes     = {(mmapped_mem + mi.uordblks) & u32:10d}\n"
        f"max mmap regions = {max_n_mmaps & u32:10d}\n"
        f"max mmap bytes   = {max_mmapped_mem:10d}\n")
