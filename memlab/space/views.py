"""What an AddressSpace shows: sizes, counters, mappings and page ranges (read-only views)."""

from __future__ import annotations

from types import MappingProxyType

from .overcommit import Overcommit
from .records import Event, Mapping, SpaceState

__all__ = ["SpaceViews"]


class SpaceViews:
    """Read-only views of an AddressSpace (its base class); they never change the space.

    Attributes the AddressSpace sets: _heap_start, _mmap_base, _brk, _heap_end, _maps, _mapped,
    _mem, _charge, _calls, _events, _released, _ram, _swap_size, _policy.

    >>> from memlab.space import AddressSpace
    >>> s = AddressSpace(); (s.vsz, s.rss, s.swap, s.commit_charge)
    (0, 0, 0, 0)
    """

    __slots__ = ()

    @property
    def heap_start(self) -> int:
        """The initial break (page aligned).

        >>> from memlab.space import AddressSpace
        >>> hex(AddressSpace().heap_start)
        '0x555555559000'
        """
        return self._heap_start

    @property
    def mmap_base(self) -> int:
        """The top of the mmap area: the first mapping ends here.

        >>> from memlab.space import AddressSpace
        >>> hex(AddressSpace().mmap_base)
        '0x7ffff7fff000'
        """
        return self._mmap_base

    @property
    def brk(self) -> int:
        """The current program break.

        >>> from memlab.space import AddressSpace
        >>> s = AddressSpace(); _ = s.sbrk(10); s.brk - s.heap_start
        10
        """
        return self._brk

    @property
    def vsz(self) -> int:
        """Mapped bytes (top's VIRT, heap and mmaps only).

        >>> from memlab.space import AddressSpace
        >>> AddressSpace().vsz
        0
        """
        return self._heap_end - self._heap_start + self._mapped

    @property
    def rss(self) -> int:
        """Resident bytes (top's RES), MADV_FREE pages included until reclaimed.

        >>> from memlab.space import AddressSpace
        >>> AddressSpace().rss
        0
        """
        return self._mem.rss

    @property
    def swap(self) -> int:
        """Bytes of this process in swap (top's SWAP).

        >>> from memlab.space import AddressSpace
        >>> AddressSpace().swap
        0
        """
        return self._mem.swap

    @property
    def lazy_free(self) -> int:
        """Resident bytes given MADV_FREE and not yet reclaimed.

        >>> from memlab.space import AddressSpace
        >>> AddressSpace().lazy_free
        0
        """
        return self._mem.lazy

    @property
    def ram(self) -> int | None:
        """RAM size in bytes (None: unlimited).

        >>> from memlab.space import AddressSpace
        >>> AddressSpace(ram=4096).ram
        4096
        """
        return self._ram

    @property
    def swap_size(self) -> int | None:
        """Swap size in bytes (None: unlimited).

        >>> from memlab.space import AddressSpace
        >>> AddressSpace().swap_size
        0
        """
        return self._swap_size

    @property
    def overcommit(self) -> Overcommit:
        """The overcommit settings (vm.overcommit_memory, _ratio, _kbytes).

        >>> from memlab.space import AddressSpace
        >>> AddressSpace(overcommit=2).overcommit.mode
        2
        """
        return self._policy

    @property
    def commit_charge(self) -> int:
        """Bytes charged against the commit limit (this process's share of Committed_AS).

        >>> from memlab.space import AddressSpace
        >>> s = AddressSpace(); _ = s.mmap(1); s.commit_charge
        4096
        """
        return self._charge

    @property
    def commit_limit(self) -> int | None:
        """CommitLimit: swap + RAM * ratio / 100 (or + kbytes); None if RAM or swap unlimited.

        >>> from memlab.space import AddressSpace
        >>> AddressSpace(ram=8 * 4096, swap=4096).commit_limit // 4096
        5
        """
        return self._policy.limit(self._ram, self._swap_size)

    @property
    def calls(self) -> MappingProxyType:
        """How many times each system call was made (failed calls included).

        >>> from memlab.space import AddressSpace
        >>> s = AddressSpace(); _ = s.sbrk(0); s.calls["sbrk"], s.calls["mmap"]
        (1, 0)
        """
        return MappingProxyType(dict(self._calls))

    @property
    def events(self) -> tuple[Event, ...]:
        """Every system call with its arguments and result or errno (empty when log=False).

        >>> from memlab.space import AddressSpace
        >>> s = AddressSpace(heap_start=0x10000, mmap_base=0x100000); _ = s.mmap(4096); [str(e) for e in s.events]
        ['mmap(4096) = 0xff000']
        """
        return tuple(self._events) if self._events is not None else ()

    @property
    def released_brk(self) -> int:
        """Cumulative bytes unmapped by lowering the break.

        >>> from memlab.space import AddressSpace
        >>> s = AddressSpace(); _ = s.sbrk(8192); _ = s.sbrk(-4096); s.released_brk
        4096
        """
        return self._released["brk"]

    @property
    def released_munmap(self) -> int:
        """Cumulative bytes unmapped by munmap and by mremap shrinking.

        >>> from memlab.space import AddressSpace
        >>> s = AddressSpace(); p = s.mmap(8192); s.munmap(p, 8192); s.released_munmap
        8192
        """
        return self._released["munmap"]

    @property
    def released_madvise(self) -> int:
        """Cumulative bytes given MADV_DONTNEED or MADV_FREE (resident or not).

        >>> from memlab.space import AddressSpace, MADV_DONTNEED
        >>> s = AddressSpace(); p = s.mmap(8192); s.madvise(p, 100, MADV_DONTNEED); s.released_madvise
        4096
        """
        return self._released["madvise"]

    @property
    def swapped_out(self) -> int:
        """Cumulative bytes written to swap.

        >>> from memlab.space import AddressSpace
        >>> AddressSpace().swapped_out
        0
        """
        return self._mem.counters[0]

    @property
    def swapped_in(self) -> int:
        """Cumulative bytes read back from swap by writes.

        >>> from memlab.space import AddressSpace
        >>> AddressSpace().swapped_in
        0
        """
        return self._mem.counters[1]

    @property
    def reclaimed_lazy(self) -> int:
        """Cumulative MADV_FREE bytes dropped under memory pressure.

        >>> from memlab.space import AddressSpace
        >>> AddressSpace().reclaimed_lazy
        0
        """
        return self._mem.counters[2]

    def mappings(self) -> tuple[Mapping, ...]:
        """The heap (if not empty) and the mmap regions, in address order.

        >>> from memlab.space import AddressSpace
        >>> s = AddressSpace(heap_start=0x10000, mmap_base=0x100000); _ = s.sbrk(1); _ = s.mmap(1)
        >>> [str(m) for m in s.mappings()]
        ['heap [0x10000, 0x11000) 4,096 B', 'mmap [0xff000, 0x100000) 4,096 B']
        """
        heap = ((Mapping(self._heap_start, self._heap_end, "heap"),)
                if self._heap_end > self._heap_start else ())
        return heap + tuple(Mapping(s, e, "mmap") for s, e in self._maps)

    def resident_ranges(self) -> list[tuple[int, int]]:
        """Resident byte ranges (page aligned, merged where adjacent).

        >>> from memlab.space import AddressSpace
        >>> s = AddressSpace(heap_start=0x10000, mmap_base=0x100000); p = s.mmap(8192); s.touch(p + 4096)
        >>> s.resident_ranges() == [(0xff000, 0x100000)]
        True
        """
        return self._mem.resident_ranges()

    def swapped_ranges(self) -> list[tuple[int, int]]:
        """Byte ranges whose pages are in swap.

        >>> from memlab.space import AddressSpace
        >>> AddressSpace().swapped_ranges()
        []
        """
        return self._mem.swapped_ranges()

    def lazy_ranges(self) -> list[tuple[int, int]]:
        """Byte ranges given MADV_FREE and still resident.

        >>> from memlab.space import AddressSpace
        >>> AddressSpace().lazy_ranges()
        []
        """
        return self._mem.lazy_ranges()

    def state(self) -> SpaceState:
        """Everything observable except the call log, as one frozen value.

        >>> from memlab.space import AddressSpace
        >>> s = AddressSpace(); before = s.state(); _ = s.sbrk(0); s.state() == before
        True
        """
        return SpaceState(self._brk, self.vsz, self.rss, self.swap, self.lazy_free, self._charge,
                          self.mappings(), tuple(self.resident_ranges()),
                          tuple(self.swapped_ranges()), tuple(self.lazy_ranges()),
                          self.released_brk, self.released_munmap, self.released_madvise)

    def __repr__(self) -> str:
        return (f"AddressSpace(brk={self._brk:#x}, vsz={self.vsz:,}, rss={self.rss:,}, "
                f"swap={self.swap:,})")
