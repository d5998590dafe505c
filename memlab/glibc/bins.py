"""Bin index functions and the containers of free chunks: unsorted, small and large bins.

Size classes of glibc 2.36 on x86-64 (chunk sizes; lower bound inclusive; i386's, with
small bins from 16 bytes and large bins from 1008, are in `memlab.glibc.arch`):

    bin 1           unsorted: any size, in arrival order
    bins 2..63      small: one size each, bin = size / 16 (32 -> 2, ..., 1008 -> 63)
    bins 64..96     large, 64 bytes wide:  bin = 48 + size / 64   [1024, 3136)
    bins 97..111    512 bytes wide:        bin = 91 + size / 512  [3136, 10752)
    bins 112..119   4096 bytes wide:       bin = 110 + size / 4096 [10752, 40960)
    bin 120         [40960, 65536)
    bins 121..123   32 KiB wide:           [65536, 163840)
    bin 124         [163840, 262144)
    bin 125         [262144, 524288)
    bin 126         [524288, ...)

Orders: the unsorted bin and small bins take new chunks at the head and give out
from the tail (oldest first); a large bin is sorted by size, largest first, and a
chunk of a size already present goes right after the first chunk of that size.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import OrderedDict

from .arch import X86_64, Arch

__all__ = [
    "UNSORTED", "N_BINS", "NSMALLBINS", "smallbin_index", "largebin_index", "bin_index",
    "LargeBin", "Bins",
]

UNSORTED = 1          #: index of the unsorted bin
N_BINS = 128          #: bin slots (0 unused, 127 never used)
NSMALLBINS = 64       #: bins below this index are small bins (one chunk size each)


def smallbin_index(size: int) -> int:
    """Small bin of a chunk size below 1024 (x86-64).

    >>> smallbin_index(32), smallbin_index(1008)
    (2, 63)
    """
    return X86_64.smallbin_index(size)


def largebin_index(size: int) -> int:
    """Large bin of a chunk size of 1024 or more (x86-64: glibc's largebin_index_64).

    >>> [largebin_index(s) for s in (1024, 1520, 2784, 3136, 4096, 10752, 40960, 65536, 524288)]
    [64, 71, 91, 97, 99, 112, 120, 121, 126]
    """
    return X86_64.largebin_index(size)


def bin_index(size: int) -> int:
    """Small or large bin of any chunk size (x86-64).

    >>> bin_index(48), bin_index(4096)
    (3, 99)
    """
    return X86_64.bin_index(size)


class LargeBin:
    """One large bin: chunks grouped by size, sizes kept sorted.

    Each size group is a list in glibc's list order: the group head (the first
    chunk of that size to arrive) then the others, newest first.

    >>> b = LargeBin()
    >>> b.insert(0x100, 2048); b.insert(0x900, 2048); b.insert(0x2000, 2064)
    >>> b.best_fit(2048), b.tail(), len(b)
    (2304, 2304, 3)
    """

    __slots__ = ("_sizes", "_groups", "_n")

    def __init__(self) -> None:
        self._sizes: list[int] = []               # ascending
        self._groups: dict[int, list[int]] = {}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def insert(self, addr: int, size: int) -> None:
        group = self._groups.get(size)
        if group is None:
            insort(self._sizes, size)
            self._groups[size] = [addr]
        else:
            group.insert(1, addr)
        self._n += 1

    def remove(self, addr: int, size: int) -> None:
        group = self._groups[size]
        group.remove(addr)
        if not group:
            del self._groups[size]
            del self._sizes[bisect_left(self._sizes, size)]
        self._n -= 1

    def best_fit(self, nb: int) -> int | None:
        """Chunk glibc picks for `nb` in its own bin: smallest size >= nb, the
        second chunk of that size if there is one, else the first."""
        j = bisect_left(self._sizes, nb)
        if j == len(self._sizes):
            return None
        group = self._groups[self._sizes[j]]
        return group[1] if len(group) > 1 else group[0]

    def tail(self) -> int:
        """The last chunk in list order: the smallest size's last chunk."""
        return self._groups[self._sizes[0]][-1]

    def __iter__(self):
        for size in reversed(self._sizes):
            yield from self._groups[size]


class Bins:
    """The unsorted bin, 62 small bins and 63 large bins of one arena.

    Tracks the number and total size of the chunks held, for mallinfo2.

    >>> b = Bins(X86_64)
    >>> b.push_unsorted(0x1000, 48); b.pop_unsorted_tail()
    (4096, 48)
    >>> b.place(0x1000, 48)
    3
    >>> b.next_nonempty(2), b.count, b.bytes
    (3, 1, 48)
    """

    __slots__ = ("unsorted", "_small", "_large", "_mask", "count", "bytes", "_min_large",
                 "_corr", "_large_index")

    def __init__(self, arch: Arch) -> None:
        self._min_large = arch.min_large_size
        self._corr = arch.smallbin_correction
        self._large_index = arch.largebin_index
        self.unsorted: OrderedDict[int, int] = OrderedDict()   # addr -> size; last = head
        self._small: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(NSMALLBINS)]
        self._large: list[LargeBin] = [LargeBin() for _ in range(N_BINS)]
        self._mask = 0            # bit i set <=> bin i (small or large) holds a chunk
        self.count = 0
        self.bytes = 0

    # unsorted ---------------------------------------------------------------
    def push_unsorted(self, addr: int, size: int) -> None:
        """Insert at the head of the unsorted list."""
        self.unsorted[addr] = size
        self.count += 1
        self.bytes += size

    def pop_unsorted_tail(self) -> tuple[int, int]:
        """Remove the oldest unsorted chunk (the next one the scan looks at); its address and size."""
        item = self.unsorted.popitem(last=False)
        self.count -= 1
        self.bytes -= item[1]
        return item

    # small and large --------------------------------------------------------
    def place(self, addr: int, size: int) -> int:
        """Put a chunk into its small or large bin; return the bin index."""
        if size < self._min_large:
            idx = (size >> 4) + self._corr       # smallbin_index, inline (hot)
            self._small[idx][addr] = None
        else:
            idx = self._large_index(size)
            self._large[idx].insert(addr, size)
        self._mask |= 1 << idx
        self.count += 1
        self.bytes += size
        return idx

    def remove(self, addr: int, size: int, in_unsorted: bool) -> None:
        """Unlink a chunk from wherever it is binned."""
        if in_unsorted:
            del self.unsorted[addr]
        elif size < self._min_large:
            idx = (size >> 4) + self._corr       # smallbin_index, inline (hot)
            b = self._small[idx]
            del b[addr]
            if not b:
                self._mask &= ~(1 << idx)
        else:
            idx = self._large_index(size)
            b = self._large[idx]
            b.remove(addr, size)
            if not b:
                self._mask &= ~(1 << idx)
        self.count -= 1
        self.bytes -= size

    def small_nonempty(self, idx: int) -> bool:
        return bool(self._small[idx])

    def take_small_tail(self, idx: int, size: int) -> int:
        """Remove and return the oldest chunk of small bin `idx`."""
        b = self._small[idx]
        addr = b.popitem(last=False)[0]
        if not b:
            self._mask &= ~(1 << idx)
        self.count -= 1
        self.bytes -= size
        return addr

    def large_best_fit(self, idx: int, nb: int) -> int | None:
        return self._large[idx].best_fit(nb)

    def next_nonempty(self, idx: int) -> int | None:
        """First non-empty bin with index > idx (glibc's binmap search)."""
        m = self._mask >> (idx + 1)
        if not m:
            return None
        return idx + (m & -m).bit_length()

    def tail(self, idx: int) -> int:
        """The chunk a bin search takes from bin `idx`: its last in list order."""
        if idx < NSMALLBINS:
            return next(iter(self._small[idx]))
        return self._large[idx].tail()

    def chunks(self, idx: int):
        """Addresses in bin `idx` (1 = unsorted), head first."""
        if idx == UNSORTED:
            return list(reversed(self.unsorted))
        if idx < NSMALLBINS:
            return list(reversed(self._small[idx]))
        return list(self._large[idx])

    def nonempty_mask(self) -> int:
        return self._mask
