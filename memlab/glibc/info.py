"""What a heap reports: mallinfo2's record, malloc_stats' text, and chunk views for charts."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Mallinfo2", "make_mallinfo2", "ChunkView", "stats_text"]


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


_new = object.__new__
(_set_arena, _set_ordblks, _set_smblks, _set_hblks, _set_hblkhd, _set_usmblks, _set_fsmblks,
 _set_uordblks, _set_fordblks, _set_keepcost) = (getattr(Mallinfo2, f).__set__ for f in Mallinfo2.__slots__)


def make_mallinfo2(arena: int, ordblks: int, smblks: int, hblks: int, hblkhd: int, fsmblks: int,
                   uordblks: int, fordblks: int, keepcost: int) -> Mallinfo2:
    """Mallinfo2(...) with usmblks 0, built without the dataclass's keyword checks: a
    timeline asks for one after every operation.

    >>> make_mallinfo2(135168, 1, 0, 0, 0, 0, 688, 134480, 134480) == Mallinfo2(135168, 1, 0, 0, 0, 0, 0, 688, 134480, 134480)
    True
    """
    mi = _new(Mallinfo2)
    _set_arena(mi, arena)
    _set_ordblks(mi, ordblks)
    _set_smblks(mi, smblks)
    _set_hblks(mi, hblks)
    _set_hblkhd(mi, hblkhd)
    _set_usmblks(mi, 0)
    _set_fsmblks(mi, fsmblks)
    _set_uordblks(mi, uordblks)
    _set_fordblks(mi, fordblks)
    _set_keepcost(mi, keepcost)
    return mi


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
