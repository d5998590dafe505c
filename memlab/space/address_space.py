"""AddressSpace: the Linux kernel as one process sees it (brk, mmap, mremap, madvise, page writes)."""

from __future__ import annotations

import errno
import operator

from ..errors import MemlabError, SyscallError
from .maps import MapTable
from .memory import Memory
from .overcommit import OVERCOMMIT_ALWAYS, OVERCOMMIT_GUESS, OVERCOMMIT_NEVER, Overcommit
from .records import Event, Mapping, SpaceState
from .views import SpaceViews
from ..units import GiB, PAGE, align_down, align_up

__all__ = [
    "AddressSpace",
    "SegmentationFault",
    "MADV_DONTNEED",
    "MADV_FREE",
    "OVERCOMMIT_GUESS",
    "OVERCOMMIT_ALWAYS",
    "OVERCOMMIT_NEVER",
    "HEAP_START",
    "MMAP_BASE",
    "TASK_SIZE",
    "SYSCALLS",
    "Mapping",
    "Event",
    "SpaceState",
]

MADV_DONTNEED = 4
MADV_FREE = 8
HEAP_START = 0x5555_5555_9000
MMAP_BASE = 0x7FFF_F7FF_F000
SYSCALLS = ("sbrk", "mmap", "munmap", "mremap", "madvise")
#: The top of x86-64's 47-bit user address space (Linux's TASK_SIZE_MAX): no mapping reaches above.
TASK_SIZE = (1 << 47) - PAGE
_WORD = 1 << 64          # arguments are 64-bit registers
_SIGNED = 1 << 63


class SegmentationFault(MemlabError):
    """A write (or read) touched an address no mapping covers; `.addr` is the first such byte.

    >>> str(SegmentationFault(0x1000))
    'segmentation fault: write of unmapped address 0x1000'
    """

    def __init__(self, addr: int, access: str = "write") -> None:
        super().__init__(f"segmentation fault: {access} of unmapped address {addr:#x}")
        self.addr = addr


def _int(call: str, name: str, value) -> int:
    """An int argument (any integer type but bool); TypeError for anything else.

    >>> _int("mmap", "length", 3.0)
    Traceback (most recent call last):
    ...
    TypeError: mmap: length must be an int, not float (3.0)
    """
    if value.__class__ is int:
        return value
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    raise TypeError(f"{call}: {name} must be an int, not {type(value).__name__} ({shown})")


def _word(call: str, name: str, value) -> int:
    """An address or length as the kernel sees it: an int from -2**63 to 2**64 - 1, read as
    an unsigned 64-bit register (so -4096 is 2**64 - 4096); ValueError outside that range.

    >>> _word("munmap", "addr", -4096) == 2**64 - 4096
    True
    """
    value = _int(call, name, value)
    if not -_SIGNED <= value < _WORD:
        raise ValueError(f"{call}: {name} {value:#x} does not fit a 64-bit argument")
    return value % _WORD


def _size(name: str, value: int | None, minimum: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be None or an int >= {minimum} (bytes), got {value!r}")
    return align_down(value)


class AddressSpace(SpaceViews):
    """One x86-64 Linux process's memory: the break, anonymous mappings, resident pages.

    Contract (PAGE = 4096; all addresses and lengths are ints, results are bytes):
      Arguments: ints (any integer type but bool, else TypeError) that fit a 64-bit register
          (-2**63 .. 2**64 - 1, else ValueError); addresses and lengths are read as unsigned, as
          the kernel reads them (-4096 is 2**64 - 4096), sbrk's delta as signed. These two
          refusals come before anything changes, call counts and event log included.
      sbrk(delta) -> old break. The heap mapping is [heap_start, align_up(brk)).
          ENOMEM: below heap_start, into the page below the next mapping, or refused
          by the overcommit policy. Pages above the new page-rounded break are dropped.
      mmap(length) -> address. length 0: EINVAL; rounded up to pages (more than
          TASK_SIZE: ENOMEM); placed top-down: the highest gap below mmap_base (and above
          the heap end) that fits, else, given `mmap_below=(low, high)` (a 32-bit process:
          the room below its program), the highest gap there. With a `hint` (an address the
          caller would like, no MAP_FIXED), the mapping starts there if the page-rounded range
          is free and inside one of those two areas. ENOMEM: no gap, or refused by the
          overcommit policy.
      munmap(addr, length): EINVAL unless addr is page aligned, 0 < length and
          addr + length <= TASK_SIZE; unmaps whatever is mapped in the page-rounded range,
          splitting mappings; unmapped parts are no error. The heap is shrunk with sbrk
          only (EINVAL if the range meets it).
      mremap(old, old_len, new_len, may_move=False) -> address. EINVAL: old unaligned,
          a page-rounded length 0 or above TASK_SIZE, or the heap; EFAULT: [old,
          old+old_len) not inside one mapping.
          Shrinks in place; grows in place when the mapping ends at old+old_len and the
          space after it is free; else moves (top-down) if may_move, else ENOMEM.
      madvise(addr, length, advice): advice MADV_DONTNEED (4) or MADV_FREE (8), else
          EINVAL; addr unaligned, or the page-rounded range running past the end of the
          64-bit address space: EINVAL; length 0: nothing; any page of the range
          unmapped: ENOMEM.
      touch(addr, length=1): a write; its pages become resident (SegmentationFault if
          a byte is unmapped; OutOfMemoryKill if RAM + swap cannot hold them).
      read(addr, length=1): only checks the bytes are mapped.
    A failed call raises SyscallError and changes nothing but the call counts and the event log.
    Memory: RSS counts written pages (MADV_FREE ones too, until reclaimed). Past `ram`,
    MADV_FREE pages are dropped first, then the least recently written runs of pages go
    to swap; a write that RAM + swap cannot hold raises OutOfMemoryKill.
    Commit charge: every mapping here is private, writable and anonymous, so Linux
    charges all of it: mmap, brk growth and mremap growth charge, unmapping uncharges.

    >>> space = AddressSpace()
    >>> old = space.sbrk(5000); space.brk - old, space.vsz, space.rss
    (5000, 8192, 0)
    >>> p = space.mmap(10_000); space.touch(p, 5000); space.vsz, space.rss
    (20480, 8192)
    >>> p + 12288 == space.mmap_base
    True
    """

    def __init__(self, ram: int | None = 8 * GiB, swap: int | None = 0, overcommit: int = 0,
                 overcommit_ratio: int = 50, *, overcommit_kbytes: int | None = None,
                 admin_reserve: int = 0, user_reserve: int = 0,
                 heap_start: int = HEAP_START, mmap_base: int = MMAP_BASE,
                 log: bool = True, mmap_below: tuple[int, int] | None = None) -> None:
        self._ram = _size("ram", ram, PAGE)
        self._swap_size = _size("swap", swap, 0)
        self._policy = Overcommit(overcommit, overcommit_ratio, overcommit_kbytes,
                                  admin_reserve, user_reserve)
        for name, value in (("heap_start", heap_start), ("mmap_base", mmap_base)):
            if not isinstance(value, int) or value <= 0 or value % PAGE:
                raise ValueError(f"{name} must be a positive multiple of {PAGE}, got {value!r}")
        if heap_start >= mmap_base:
            raise ValueError(f"heap_start {heap_start:#x} must lie below mmap_base {mmap_base:#x}")
        if mmap_base > TASK_SIZE:
            raise ValueError(f"mmap_base {mmap_base:#x} lies beyond the 47-bit user address space "
                             f"(at most TASK_SIZE = {TASK_SIZE:#x})")
        if mmap_below is not None:
            low, high = mmap_below
            if not (isinstance(low, int) and isinstance(high, int) and 0 < low < high <= heap_start
                    and not low % PAGE and not high % PAGE):
                raise ValueError(f"mmap_below must be page-aligned (low, high) with 0 < low < high "
                                 f"<= heap_start, got {mmap_below!r}")
        self._heap_start = heap_start
        self._mmap_base = mmap_base
        self._below = mmap_below
        self._brk = heap_start
        self._heap_end = heap_start
        self._maps = MapTable()
        self._mapped = 0
        self._mem = Memory(self._ram, self._swap_size)
        self._charge = 0
        self._calls = dict.fromkeys(SYSCALLS, 0)
        self._events: list[Event] | None = [] if log else None
        self._seq = 0
        self._released = {"brk": 0, "munmap": 0, "madvise": 0}
        self._hot_lo = self._hot_hi = 0   # a most recent, resident, not lazy page range

    # --- the five system calls --------------------------------------------------------
    def sbrk(self, delta: int) -> int:
        """Move the break by delta bytes and return the old break.

        >>> s = AddressSpace(heap_start=0x10000, mmap_base=0x100000)
        >>> hex(s.sbrk(100)), hex(s.brk), s.vsz
        ('0x10000', '0x10064', 4096)
        >>> hex(s.sbrk(-100)), hex(s.brk), s.vsz
        ('0x10064', '0x10000', 0)
        """
        delta = _int("sbrk", "delta", delta)
        if not -_SIGNED <= delta < _SIGNED:
            raise ValueError(f"sbrk: delta {delta:#x} does not fit a 64-bit signed argument")
        self._calls["sbrk"] += 1
        args = (delta,)
        old = self._brk
        new = old + delta
        if new < self._heap_start:
            self._fail("sbrk", args, errno.ENOMEM,
                       f"sbrk({delta}): the break cannot go below heap_start {self._heap_start:#x}")
        new_end = align_up(new)
        if new_end > self._heap_end:
            grow = new_end - self._heap_end
            above = self._maps.next_start(self._heap_end)
            ceiling = self._mmap_base if above is None else above
            if new_end + PAGE > ceiling:
                self._fail("sbrk", args, errno.ENOMEM,
                           f"sbrk({delta}): the heap would come within a page of {ceiling:#x}")
            self._commit("sbrk", args, grow)
        elif new_end < self._heap_end:
            self._mem.drop(new_end, self._heap_end)
            shrink = self._heap_end - new_end
            self._charge -= shrink
            self._released["brk"] += shrink
            self._hot_lo = self._hot_hi = 0
        self._brk = new
        self._heap_end = new_end
        self._log("sbrk", args, old)
        return old

    def mmap(self, length: int, hint: int | None = None) -> int:
        """Map length bytes (page-rounded) of zeroed private memory; return its address
        (`hint`'s, page-rounded, when that range is free: the kernel's rule for an address hint).

        >>> s = AddressSpace(heap_start=0x10000, mmap_base=0x100000)
        >>> hex(s.mmap(1)), hex(s.mmap(8192)), s.vsz
        ('0xff000', '0xfd000', 12288)
        >>> hex(s.mmap(4096, hint=0x20000)), hex(s.mmap(4096, hint=0xfd000))   # taken: placed
        ('0x20000', '0xfc000')
        """
        length = _word("mmap", "length", length)
        if hint is not None:
            hint = _word("mmap", "hint", hint)
        self._calls["mmap"] += 1
        args = (length,)
        if length == 0:
            self._fail("mmap", args, errno.EINVAL, "mmap(0): length must be > 0")
        size = align_up(length)
        if size > TASK_SIZE:
            self._fail("mmap", args, errno.ENOMEM, f"mmap({length}): more than the user address space")
        addr = self._hinted(hint, size) if hint is not None else None
        if addr is None:
            addr = self._place(size)
        if addr is None:
            self._fail("mmap", args, errno.ENOMEM, f"mmap({length}): no free gap of {size:,} bytes")
        self._commit("mmap", args, size)
        self._maps.add(addr, addr + size)
        self._mapped += size
        self._log("mmap", args, addr)
        return addr

    def munmap(self, addr: int, length: int) -> None:
        """Unmap the pages of [addr, addr + length) that are mapped.

        >>> s = AddressSpace(heap_start=0x10000, mmap_base=0x100000); p = s.mmap(3 * 4096)
        >>> s.munmap(p + 4096, 4096); [(hex(m.start), hex(m.end)) for m in s.mappings()]
        [('0xfd000', '0xfe000'), ('0xff000', '0x100000')]
        """
        addr = _word("munmap", "addr", addr)
        length = _word("munmap", "length", length)
        self._calls["munmap"] += 1
        args = (addr, length)
        if addr % PAGE or length == 0 or addr > TASK_SIZE or length > TASK_SIZE - addr:
            self._fail("munmap", args, errno.EINVAL,
                       f"munmap({addr:#x}, {length}): address must be page aligned, length > 0, "
                       f"the range inside the user address space")
        end = addr + align_up(length)
        self._refuse_heap("munmap", args, addr, end)
        removed = self._maps.remove(addr, end)
        self._mem.drop(addr, end)
        self._mapped -= removed
        self._charge -= removed
        self._released["munmap"] += removed
        self._hot_lo = self._hot_hi = 0
        self._log("munmap", args, 0)

    def mremap(self, old: int, old_len: int, new_len: int, may_move: bool = False) -> int:
        """Resize the mapping piece [old, old + old_len) to new_len; return its (new) address.

        >>> s = AddressSpace(heap_start=0x10000, mmap_base=0x100000); p = s.mmap(4096); q = s.mmap(4096)
        >>> s.mremap(p, 4096, 8192, may_move=True) == 0x100000 - 4 * 4096, s.vsz
        (True, 12288)
        """
        old = _word("mremap", "old", old)
        old_len = _word("mremap", "old_len", old_len)
        new_len = _word("mremap", "new_len", new_len)
        may_move = _int("mremap", "may_move", may_move) if may_move.__class__ is not bool else may_move
        self._calls["mremap"] += 1
        args = (old, old_len, new_len, int(bool(may_move)))
        old_size, new_size = align_up(old_len) % _WORD, align_up(new_len) % _WORD
        if old % PAGE or not 0 < old_size <= TASK_SIZE or not 0 < new_size <= TASK_SIZE:
            self._fail("mremap", args, errno.EINVAL,
                       f"mremap({old:#x}, {old_len}, {new_len}): address must be page aligned, "
                       "lengths > 0 and within the user address space")
        old_end = old + old_size
        self._refuse_heap("mremap", args, old, old_end)
        region = self._maps.region_at(old)
        if region is None or old_end > region[1]:
            self._fail("mremap", args, errno.EFAULT,
                       f"mremap: [{old:#x}, {old_end:#x}) is not inside one mapping")
        if new_size <= old_size:
            self._maps.remove(old + new_size, old_end)
            self._mem.drop(old + new_size, old_end)
            self._mapped -= old_size - new_size
            self._charge -= old_size - new_size
            self._released["munmap"] += old_size - new_size
            self._hot_lo = self._hot_hi = 0
            self._log("mremap", args, old)
            return old
        grow = new_size - old_size
        ceiling = self._mmap_base if old >= self._heap_end else self._below[1]
        if (old_end == region[1] and old_end + grow <= ceiling
                and self._maps.is_free(old_end, old_end + grow)):
            self._commit("mremap", args, grow)
            self._maps.extend(region[0], old_end + grow)
            self._mapped += grow
            self._log("mremap", args, old)
            return old
        if not may_move:
            self._fail("mremap", args, errno.ENOMEM,
                       f"mremap: no room to grow [{old:#x}, {old_end:#x}) in place")
        new = self._place(new_size)
        if new is None:
            self._fail("mremap", args, errno.ENOMEM, f"mremap: no free gap of {new_size:,} bytes")
        self._commit("mremap", args, grow)
        self._maps.remove(old, old_end)
        self._maps.add(new, new + new_size)
        self._mem.move(old, old_end, new - old)
        self._mapped += grow
        self._hot_lo = self._hot_hi = 0
        self._log("mremap", args, new)
        return new

    def _hinted(self, hint: int, size: int) -> int | None:
        """`hint` page-rounded, if [hint, hint + size) is free and where `_place` may map."""
        hint = align_up(hint)
        end = hint + size
        areas = [(self._heap_end, self._mmap_base)] + ([self._below] if self._below else [])
        if any(lo <= hint and end <= hi for lo, hi in areas) and self._maps.is_free(hint, end):
            return hint
        return None

    def _place(self, size: int) -> int | None:
        """Where a new mapping of `size` bytes goes: the top of the highest gap above the heap
        and below mmap_base that holds it, else (with `mmap_below`) of the highest gap there."""
        addr = self._maps.place(size, self._heap_end, self._mmap_base)
        if addr is None and self._below is not None:
            addr = self._maps.place(size, *self._below)
        return addr

    def madvise(self, addr: int, length: int, advice: int) -> None:
        """Give advice on mapped pages: MADV_DONTNEED drops them now, MADV_FREE lazily.

        >>> s = AddressSpace(heap_start=0x10000, mmap_base=0x100000); p = s.mmap(8192); s.touch(p, 8192)
        >>> s.madvise(p, 4096, MADV_FREE); s.rss, s.lazy_free
        (8192, 4096)
        >>> s.madvise(p, 8192, MADV_DONTNEED); s.rss
        0
        """
        addr = _word("madvise", "addr", addr)
        length = _word("madvise", "length", length)
        advice = _int("madvise", "advice", advice)
        self._calls["madvise"] += 1
        args = (addr, length, advice)
        if advice not in (MADV_DONTNEED, MADV_FREE):
            self._fail("madvise", args, errno.EINVAL, f"madvise: unknown advice {advice!r}")
        end = addr + align_up(length)
        if addr % PAGE or (length and end >= _WORD):
            self._fail("madvise", args, errno.EINVAL,
                       f"madvise({addr:#x}, {length}): address must be page aligned, and the range "
                       "must not run past the end of the address space")
        hole = self._first_unmapped(addr, end)
        if hole is not None:
            self._fail("madvise", args, errno.ENOMEM, f"madvise: address {hole:#x} is not mapped")
        if advice == MADV_DONTNEED:
            self._mem.drop(addr, end)
        else:
            self._mem.lazy_free(addr, end)
        self._released["madvise"] += end - addr
        self._hot_lo = self._hot_hi = 0
        self._log("madvise", args, 0)

    # --- page writes --------------------------------------------------------------------
    def touch(self, addr: int, length: int = 1) -> None:
        """Write length bytes at addr: their pages become resident and most recently used.

        >>> s = AddressSpace(heap_start=0x10000, mmap_base=0x100000); p = s.mmap(8192)
        >>> s.touch(p + 4000, 200); s.rss
        8192
        """
        if addr.__class__ is int and length.__class__ is int:      # the usual call: no conversions
            if self._hot_lo <= addr < addr + length <= self._hot_hi:
                return
            if 0 <= addr < _WORD:
                self._write(addr, length)
                return
        self._write(_word("touch", "addr", addr), _int("touch", "length", length))

    def _write(self, addr: int, length: int) -> None:
        if length <= 0:
            if length == 0:
                return
            raise ValueError(f"touch: length must be >= 0, got {length}")
        start, end = addr & -PAGE, (addr + length + PAGE - 1) & -PAGE   # align_down/up, inline (hot)
        hot = self._mem.refresh(start, end)   # resident pages are mapped: no checks needed
        if hot is not None:
            self._hot_lo, self._hot_hi = hot
            return
        if start == self._hot_hi and self._in_mapping_of(start - 1, end):
            hot = self._mem.extend(start, end)   # the common first write just past the last one
            if hot is not None:
                self._hot_lo, self._hot_hi = hot
                return
        pieces = self._pieces(start, end, addr, "write")
        if len(pieces) > 1:   # check room for all pieces first, so a failure changes nothing
            self._mem.make_room(tuple((a, b) for a, b, _, _ in pieces))
        hot = None
        for a, b, lo, hi in pieces:
            hot = self._mem.write(a, b, lo, hi)
        self._hot_lo, self._hot_hi = hot if hot is not None else (0, 0)

    def read(self, addr: int, length: int = 1) -> None:
        """Check that length bytes at addr are mapped (reads do not make pages resident).

        >>> s = AddressSpace(heap_start=0x10000, mmap_base=0x100000); s.read(0x10)
        Traceback (most recent call last):
        ...
        memlab.space.address_space.SegmentationFault: segmentation fault: read of unmapped address 0x10
        """
        addr, length = _word("read", "addr", addr), _int("read", "length", length)
        if length < 0:
            raise ValueError(f"read: length must be >= 0, got {length}")
        if length:
            self._pieces(align_down(addr), align_up(addr + length), addr, "read")

    # --- invariants -------------------------------------------------------------------------
    def check(self) -> None:
        """Raise AssertionError naming the first broken invariant.

        >>> s = AddressSpace(); p = s.mmap(4096); s.touch(p); s.check()
        """
        self._maps.check()
        assert self._brk >= self._heap_start, "heap: brk below heap_start"
        assert self._heap_end == align_up(self._brk), "heap: mapping is not [heap_start, page_up(brk))"
        total = 0
        for s, e in self._maps:
            assert s % PAGE == 0 and e % PAGE == 0, f"mappings: [{s:#x}, {e:#x}) not page aligned"
            below = self._below is not None and self._below[0] <= s and e <= self._below[1]
            assert below or (self._heap_end <= s and e <= self._mmap_base), \
                f"mappings: [{s:#x}, {e:#x}) outside [heap end, mmap_base) and mmap_below"
            total += e - s
        assert total == self._mapped, f"vsz: mmap bytes {self._mapped} != sum of mappings {total}"
        self._mem.check()
        assert self.rss <= self.vsz, f"RSS {self.rss} > VSZ {self.vsz}"
        for kind, ranges in (("resident", self.resident_ranges()),
                             ("swapped", self.swapped_ranges()), ("lazy", self.lazy_ranges())):
            for s, e in ranges:
                hole = self._first_unmapped(s, e)
                assert hole is None, f"{kind} page {hole:#x} lies in no mapping"
        assert self._charge == self.vsz, \
            f"commit charge {self._charge} != committed bytes {self.vsz} (all private writable)"
        if self._events is not None:
            assert len(self._events) == sum(self._calls.values()), "events: log and call counts differ"
        assert min(self._released.values()) >= 0, "counters: a released counter is negative"
        if self._hot_lo < self._hot_hi:
            assert self._mem.rss and not any(
                s < self._hot_hi and self._hot_lo < e for s, e in self.lazy_ranges()), \
                "touch cache: cached range holds lazy pages"

    # --- internals ---------------------------------------------------------------------------
    def _pieces(self, start: int, end: int, addr: int, access: str) -> list[tuple[int, int, int, int]]:
        """(start, end, mapping start, mapping end) per mapping covering [start, end), else fault."""
        out = []
        if self._heap_start < self._heap_end and start < self._heap_end and end > self._heap_start:
            out.append((max(start, self._heap_start), min(end, self._heap_end),
                        self._heap_start, self._heap_end))
        out += self._maps.pieces(start, end)
        at = start
        for a, b, _, _ in out:
            if a > at:
                raise SegmentationFault(max(at, addr), access)
            at = b
        if at < end:
            raise SegmentationFault(max(at, addr), access)
        return out

    def _in_mapping_of(self, addr: int, end: int) -> bool:
        """True when [addr, end) lies inside one mapping."""
        if self._heap_start <= addr and end <= self._heap_end:
            return True
        region = self._maps.region_at(addr)
        return region is not None and end <= region[1]

    def _first_unmapped(self, start: int, end: int) -> int | None:
        try:
            self._pieces(start, end, start, "check")
        except SegmentationFault as fault:
            return fault.addr
        return None

    def _refuse_heap(self, call: str, args: tuple[int, ...], start: int, end: int) -> None:
        if start < self._heap_end and end > self._heap_start and self._heap_end > self._heap_start:
            self._fail(call, args, errno.EINVAL,
                       f"{call}: the range meets the heap; the model changes the heap with sbrk only")

    def _commit(self, call: str, args: tuple[int, ...], size: int) -> None:
        why = self._policy.refusal(size, self._charge, self.vsz, self._ram, self._swap_size)
        if why is not None:
            self._fail(call, args, errno.ENOMEM, f"{call}: overcommit refused: {why}")
        self._charge += size

    def _log(self, call: str, args: tuple[int, ...], result: int | None) -> None:
        self._seq += 1
        if self._events is not None:
            self._events.append(Event(self._seq, call, args, result, None))

    def _fail(self, call: str, args: tuple[int, ...], err: int, message: str) -> None:
        self._seq += 1
        if self._events is not None:
            self._events.append(Event(self._seq, call, args, None, err))
        raise SyscallError(err, message)
