"""Read-only values the Windows model hands out: one region of the map, and the whole map."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Region", "AddressMap"]


@dataclass(frozen=True, slots=True)
class Region:
    """One reservation: where, how big, how much of it is committed, what it is and whose.

    ``kind`` is "image", "stack", "heap" (a heap segment), "large" (a heap block with its own
    region) or "virtual" (a program's own VirtualAlloc).

    >>> r = Region(0x10000, 0x10000, 4096, "virtual", "buffer")
    >>> r.end == 0x20000, r.committed
    (True, 4096)
    """

    base: int
    size: int
    committed: int
    kind: str
    owner: str

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass(frozen=True, slots=True)
class AddressMap:
    """The user address space at one moment: regions, free ranges and the two numbers that matter.

    ``heap_free`` is what the heaps hold free inside their segments: reusable by small blocks
    of those heaps, by nothing else.

    >>> m = AddressMap(0x10000, 0x40000, (), ((0x10000, 0x20000), (0x30000, 0x40000)), 100)
    >>> m.free_total, m.largest_free, m.fits(0x10000), m.fits(0x20000)
    (131072, 65536, True, False)
    """

    low: int
    high: int
    regions: tuple[Region, ...]
    free: tuple[tuple[int, int], ...]
    heap_free: int

    @property
    def free_total(self) -> int:
        """Bytes of address space in no region."""
        return sum(end - start for start, end in self.free)

    @property
    def largest_free(self) -> int:
        """The longest free range: the biggest reservation that can still succeed."""
        return max((end - start for start, end in self.free), default=0)

    def fits(self, size: int) -> bool:
        """Whether a reservation of ``size`` bytes finds room."""
        return self.largest_free >= size
