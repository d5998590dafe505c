"""Random sequences of system calls and writes: invariants hold, and a page-by-page model agrees.

The reference model below keeps one Python set entry per page and places mappings by
trying every page address from the top down: slow, obvious, and independent of the
range-based code it checks.
"""

import errno

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from memlab.errors import OutOfMemoryKill, SyscallError
from memlab.space import MADV_DONTNEED, MADV_FREE, AddressSpace, SegmentationFault
from memlab.units import PAGE, align_up

from strategies import BASE, HEAP, addresses, advice, deltas, lengths, space_limits


WORD = 1 << 64                 # the kernel reads addresses and lengths as unsigned 64-bit
TASK_SIZE = (1 << 47) - PAGE   # the top of the user address space


class PageModel:
    """The Linux rules the AddressSpace follows, one page at a time (no memory pressure)."""

    def __init__(self):
        self.brk = HEAP
        self.maps = []            # [start, end) records, separate even when adjacent
        self.alive = set()        # written pages not dropped since
        self.lazy = set()         # pages given MADV_FREE and not written since

    @property
    def heap_end(self):
        return align_up(self.brk)

    def mapped(self, page):
        return HEAP <= page < self.heap_end or any(s <= page < e for s, e in self.maps)

    def free_page(self, page):
        return not any(s <= page < e for s, e in self.maps)

    def drop(self, a, b):
        for page in range(a, b, PAGE):
            self.alive.discard(page)
            self.lazy.discard(page)

    def unmap(self, a, b):
        out = []
        for s, e in self.maps:
            if e <= a or s >= b:
                out.append((s, e))
                continue
            if s < a:
                out.append((s, a))
            if e > b:
                out.append((b, e))
        self.maps = sorted(out)
        self.drop(a, b)

    def place(self, size):
        addr = BASE - size
        while addr >= self.heap_end:
            if all(self.free_page(p) for p in range(addr, addr + size, PAGE)):
                return addr
            addr -= PAGE
        return None

    def sbrk(self, delta):
        new = self.brk + delta
        if new < HEAP:
            return -errno.ENOMEM
        above = min([s for s, e in self.maps if s >= self.heap_end], default=BASE)
        if align_up(new) > self.heap_end and align_up(new) + PAGE > above:
            return -errno.ENOMEM
        old = self.brk
        self.drop(align_up(new), self.heap_end)
        self.brk = new
        return old

    def mmap(self, length):
        length %= WORD
        if length == 0:
            return -errno.EINVAL
        if align_up(length) > TASK_SIZE:
            return -errno.ENOMEM
        addr = self.place(align_up(length))
        if addr is None:
            return -errno.ENOMEM
        self.maps = sorted(self.maps + [(addr, addr + align_up(length))])
        return addr

    def meets_heap(self, a, b):
        return a < self.heap_end and b > HEAP and self.heap_end > HEAP

    def munmap(self, addr, length):
        addr, length = addr % WORD, length % WORD
        if addr % PAGE or length == 0 or addr > TASK_SIZE or length > TASK_SIZE - addr:
            return -errno.EINVAL
        if self.meets_heap(addr, addr + align_up(length)):
            return -errno.EINVAL
        self.unmap(addr, addr + align_up(length))
        return 0

    def mremap(self, old, old_len, new_len, may_move):
        old = old % WORD
        old_size, new_size = align_up(old_len % WORD) % WORD, align_up(new_len % WORD) % WORD
        if old % PAGE or not 0 < old_size <= TASK_SIZE or not 0 < new_size <= TASK_SIZE:
            return -errno.EINVAL
        if self.meets_heap(old, old + old_size):
            return -errno.EINVAL
        region = [(s, e) for s, e in self.maps if s <= old < e]
        if not region or old + old_size > region[0][1]:
            return -errno.EFAULT
        s, e = region[0]
        if new_size <= old_size:
            self.unmap(old + new_size, old + old_size)
            return old
        end = old + old_size
        if end == e and end + new_size - old_size <= BASE and all(
                self.free_page(p) for p in range(end, old + new_size, PAGE)):
            self.maps = sorted([r for r in self.maps if r != (s, e)] + [(s, old + new_size)])
            return old
        if not may_move:
            return -errno.ENOMEM
        new = self.place(new_size)
        if new is None:
            return -errno.ENOMEM
        moved = {p for p in self.alive if old <= p < end}
        lazy = {p for p in self.lazy if old <= p < end}
        self.unmap(old, end)
        self.maps = sorted(self.maps + [(new, new + new_size)])
        self.alive |= {p - old + new for p in moved}
        self.lazy |= {p - old + new for p in lazy}
        return new

    def madvise(self, addr, length, adv):
        addr, length = addr % WORD, length % WORD
        end = addr + align_up(length)
        if adv not in (MADV_DONTNEED, MADV_FREE) or addr % PAGE or (length and end >= WORD):
            return -errno.EINVAL
        if not all(self.mapped(p) for p in range(addr, end, PAGE)):
            return -errno.ENOMEM
        if adv == MADV_DONTNEED:
            self.drop(addr, end)
        else:
            self.lazy |= {p for p in range(addr, end, PAGE) if p in self.alive}
        return 0

    def touch(self, addr, length):
        if length == 0:
            return True
        pages = range(addr - addr % PAGE, align_up(addr + length), PAGE)
        if not all(self.mapped(p) for p in pages):
            return False
        self.alive |= set(pages)
        self.lazy -= set(pages)
        return True


def pages_of(ranges):
    return {p for s, e in ranges for p in range(s, e, PAGE)}


class SpaceMachine(RuleBasedStateMachine):
    """Drive an AddressSpace and the PageModel with the same calls; compare after each."""

    @initialize(ram_swap=space_limits(), mode=st.sampled_from([0, 1, 2]))
    def start(self, ram_swap, mode):
        ram, swap = ram_swap
        self.pressure = ram is not None
        self.space = AddressSpace(ram=ram, swap=swap, overcommit=mode,
                                  overcommit_ratio=100, heap_start=HEAP, mmap_base=BASE)
        self.model = PageModel()

    def call(self, name, *args):
        before = self.space.state()
        try:
            result = getattr(self.space, name)(*args)
        except SyscallError as e:
            got = -e.errno
            refused = "overcommit refused" in str(e)
            assert self.space.state() == before, f"{name}{args} failed but changed the state"
        else:
            got = 0 if result is None else result
            refused = False
        snapshot = (self.model.brk, list(self.model.maps), set(self.model.alive), set(self.model.lazy))
        want = getattr(self.model, name)(*args)
        if refused:
            # refused by the commit policy, which the page model does not know: undo it
            self.model.brk, self.model.maps, self.model.alive, self.model.lazy = snapshot
            return
        assert got == want, f"{name}{args}: space gave {got}, page model {want}"

    @rule(delta=deltas())
    def sbrk(self, delta):
        self.call("sbrk", delta)

    @rule(length=lengths())
    def mmap(self, length):
        self.call("mmap", length)

    @rule(addr=addresses(), length=lengths())
    def munmap(self, addr, length):
        self.call("munmap", addr, length)

    @rule(addr=addresses(), old_len=lengths(), new_len=lengths(), may_move=st.booleans())
    def mremap(self, addr, old_len, new_len, may_move):
        self.call("mremap", addr, old_len, new_len, may_move)

    @rule(addr=addresses(), length=lengths(), adv=advice())
    def madvise(self, addr, length, adv):
        self.call("madvise", addr, length, adv)

    @rule(addr=addresses(), length=st.integers(0, 3 * PAGE))
    def touch(self, addr, length):
        self.last_end = addr + length
        before = self.space.state()
        try:
            self.space.touch(addr, length)
        except SegmentationFault:
            assert not self.model.touch(addr, length), f"touch({addr:#x}, {length}) faulted"
            assert self.space.state() == before
        except OutOfMemoryKill:
            assert self.pressure and self.space.state() == before
        else:
            assert self.model.touch(addr, length), f"touch({addr:#x}, {length}) should fault"

    @rule(gap=st.integers(0, 8), length=st.integers(1, 2 * PAGE))
    def touch_next(self, gap, length):
        """Write just after the previous write: the common pattern of a growing heap."""
        self.touch(getattr(self, "last_end", HEAP) + gap, length)

    @rule(addr=addresses(), length=st.integers(0, 3 * PAGE))
    def read(self, addr, length):
        before = self.space.state()
        mapped = length == 0 or all(self.model.mapped(p) for p in range(
            addr - addr % PAGE, align_up(addr + length), PAGE))
        try:
            self.space.read(addr, length)
        except SegmentationFault:
            assert not mapped
        else:
            assert mapped
        assert self.space.state() == before

    @invariant()
    def agrees_with_page_model(self):
        space, model = self.space, self.model
        space.check()
        assert space.brk == model.brk
        assert [(m.start, m.end) for m in space.mappings() if m.kind == "mmap"] == model.maps
        mapped = sum(e - s for s, e in model.maps) + model.heap_end - HEAP
        assert space.vsz == mapped == space.commit_charge
        assert space.rss <= space.vsz
        resident, swapped = pages_of(space.resident_ranges()), pages_of(space.swapped_ranges())
        lazy = pages_of(space.lazy_ranges())
        assert not resident & swapped
        if not self.pressure:
            assert resident == model.alive and lazy == model.lazy and not swapped
        else:
            assert resident | swapped <= model.alive
            assert model.alive - (resident | swapped) <= model.lazy   # reclaimed lazy pages
            assert lazy <= model.lazy
            assert space.rss <= space.ram and space.swap <= space.swap_size


TestSpaceMachine = SpaceMachine.TestCase
TestSpaceMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
