"""A 32-bit Windows process's reservations: VirtualAlloc's view of the user address space.

Reservations start at multiples of the 64 KiB allocation granularity and are placed bottom-up:
the lowest free range that holds them (VirtualAlloc without MEM_TOP_DOWN). Commit is counted in
4 KiB pages inside a reservation. A model of the documented behaviour, not of Windows' code.

>>> from memlab.units import GiB, KiB
>>> s = Space(2 * GiB)
>>> a = s.reserve(4 * KiB, "virtual", "a"); b = s.reserve(4 * KiB, "virtual", "b")
>>> hex(a), hex(b)                    # each takes a whole 64 KiB granule
('0x10000', '0x20000')
>>> s.release(a); s.reserve(64 * KiB, "virtual", "c") == a
True
"""

from __future__ import annotations

from memlab.errors import MemlabError
from memlab.space.ranges import RangeSet
from memlab.units import align_up
from memlab.windows.facts import GRANULARITY, HIGH_GUARD, LOW_GUARD, PAGE
from memlab.windows.views import AddressMap, Region

__all__ = ["WinApiError", "Space"]


class WinApiError(MemlabError, ValueError):
    """A call the model refuses, as Windows would fail it: an address that is no region's base."""


class Space:
    """The user address space [64 KiB, user_space - 64 KiB) and the regions reserved in it."""

    def __init__(self, user_space: int) -> None:
        if user_space < 4 * GRANULARITY or user_space % GRANULARITY:
            raise WinApiError(f"user space must be a multiple of 64 KiB, got {user_space:,}")
        self.low = LOW_GUARD
        self.high = user_space - HIGH_GUARD
        self._used = RangeSet()
        self._regions: dict[int, list] = {}      # base -> [size, committed, kind, owner]

    def reserve(self, size: int, kind: str, owner: str, address: int | None = None) -> int | None:
        """Reserve ``size`` bytes (rounded up to pages; the region takes whole granules) at
        ``address`` or at the lowest granule where they fit; None when there is no room."""
        if size <= 0:
            raise WinApiError(f"cannot reserve {size:,} bytes")
        size = align_up(size, PAGE)
        span = align_up(size, GRANULARITY)
        if address is None:
            address = next((align_up(s, GRANULARITY) for s, e in self._used.gaps(self.low, self.high)
                            if align_up(s, GRANULARITY) + span <= e), None)
            if address is None:
                return None
        elif (address % GRANULARITY or address < self.low or address + span > self.high
              or self._used.overlap(address, address + span)):
            return None
        self._used.add(address, address + span)
        self._regions[address] = [size, 0, kind, owner]
        return address

    def commit(self, base: int, size: int) -> None:
        """Commit the first ``size`` bytes (rounded up to pages) of the region at ``base``."""
        region = self._region(base)
        region[1] = max(region[1], min(region[0], align_up(size, PAGE)))

    def release(self, base: int) -> None:
        """Give the whole region at ``base`` back (VirtualFree with MEM_RELEASE)."""
        size = self._region(base)[0]
        del self._regions[base]
        self._used.remove(base, base + align_up(size, GRANULARITY))

    def _region(self, base: int) -> list:
        if base not in self._regions:
            raise WinApiError(f"no region starts at {base:#x}")
        return self._regions[base]

    def size_of(self, base: int) -> int:
        return self._region(base)[0]

    def committed(self, base: int) -> int:
        return self._region(base)[1]

    def largest_free(self) -> int:
        """The longest free range (regions take whole granules, so free ranges are granules too)."""
        return max((e - s for s, e in self._used.gaps(self.low, self.high)), default=0)

    def view(self, heap_free: int = 0) -> AddressMap:
        """The map now (regions by address, free ranges) as a read-only value."""
        regions = tuple(Region(base, r[0], r[1], r[2], r[3])
                        for base, r in sorted(self._regions.items()))
        free = tuple((s, e) for s, e in self._used.gaps(self.low, self.high))
        return AddressMap(self.low, self.high, regions, free, heap_free)
