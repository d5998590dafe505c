"""Tests of memlab.space.AddressSpace: each system call, each error, residency, pressure, overcommit.

Expected numbers are worked out by hand from Linux's documented behaviour (4 KiB pages,
top-down mmap placement); tests/test_space_kernel.py checks the same rules on the real kernel.
"""

import errno
import tracemalloc

import pytest

from memlab.errors import MemlabError, OutOfMemoryKill, SyscallError
from memlab.space import (MADV_DONTNEED, MADV_FREE, AddressSpace, Event, Mapping,
                          SegmentationFault)
from memlab.units import GiB, MiB, PAGE

P = PAGE
HEAP = 0x10_0000
BASE = 0x1000_0000


def make(**kw):
    kw.setdefault("heap_start", HEAP)
    kw.setdefault("mmap_base", BASE)
    return AddressSpace(**kw)


def fails(space, err, call, *args):
    """Call space.<call>(*args), expect SyscallError(err), and check nothing changed."""
    before = space.state()
    with pytest.raises(SyscallError) as info:
        getattr(space, call)(*args)
    assert info.value.errno == err, info.value
    assert space.state() == before
    space.check()
    return info.value


class TestConstruction:
    """Bad settings are refused with the value in the message; defaults are Linux-like."""

    def test_defaults(self):
        s = AddressSpace()
        assert s.ram == 8 * GiB and s.swap_size == 0 and s.overcommit.mode == 0
        assert s.brk == s.heap_start and s.vsz == s.rss == s.swap == s.commit_charge == 0
        assert s.heap_start % P == 0 and s.mmap_base % P == 0

    @pytest.mark.parametrize("kw, text", [({"ram": 100}, "ram"), ({"swap": -1}, "swap"),
                                          ({"overcommit": 3}, "overcommit"),
                                          ({"overcommit_ratio": -5}, "overcommit_ratio"),
                                          ({"heap_start": 0x1001}, "heap_start"),
                                          ({"heap_start": BASE, "mmap_base": HEAP}, "below")])
    def test_bad_values(self, kw, text):
        with pytest.raises(ValueError, match=text):
            make(**kw)


class TestSbrk:
    """The break moves by bytes; the heap mapping is the page-rounded break."""

    def test_grow_and_shrink_round_to_pages(self):
        s = make()
        assert s.sbrk(5000) == HEAP and s.brk == HEAP + 5000
        assert s.vsz == 2 * P and s.commit_charge == 2 * P
        assert s.mappings() == (Mapping(HEAP, HEAP + 2 * P, "heap"),)
        assert s.sbrk(-904) == HEAP + 5000 and s.vsz == P and s.released_brk == P
        assert s.sbrk(0) == HEAP + 4096 and s.sbrk(-4096) == HEAP + 4096
        assert s.mappings() == () and s.vsz == 0 and s.commit_charge == 0

    def test_shrink_drops_pages_above_the_new_break(self):
        s = make()
        s.sbrk(4 * P)
        s.touch(HEAP, 4 * P)
        s.sbrk(-2 * P + 1)          # break HEAP + 2P + 1: three pages stay mapped
        assert s.resident_ranges() == [(HEAP, HEAP + 3 * P)] and s.rss == 3 * P
        s.sbrk(3 * P)               # growing again gives zero pages, not the old ones
        assert s.rss == 3 * P
        s.check()

    def test_below_heap_start_is_enomem(self):
        s = make()
        s.sbrk(P)
        fails(s, errno.ENOMEM, "sbrk", -2 * P)

    def test_heap_keeps_a_page_from_the_next_mapping(self):
        s = make(mmap_base=HEAP + 4 * P)
        assert s.mmap(2 * P) == HEAP + 2 * P
        fails(s, errno.ENOMEM, "sbrk", P + 1)
        assert s.sbrk(P) == HEAP and s.vsz == 3 * P


class TestMmap:
    """Top-down placement below mmap_base into the highest gap that fits."""

    def test_top_down(self):
        s = make()
        a = s.mmap(1)
        b = s.mmap(3 * P - 10)
        assert a == BASE - P and b == a - 3 * P
        assert s.vsz == 4 * P and s.commit_charge == 4 * P

    def test_hole_reused_and_highest_gap_that_fits(self):
        s = make()
        a = s.mmap(P)
        b = s.mmap(4 * P)
        c = s.mmap(P)
        s.munmap(b + P, 2 * P)              # a two-page hole between c's neighbours
        assert s.mmap(3 * P) == c - 3 * P   # does not fit the hole: goes below c
        assert s.mmap(P) == b + 2 * P       # fits: highest place in the hole
        assert s.mmap(P) == b + P
        assert a == BASE - P
        s.check()

    def test_zero_length_is_einval(self):
        fails(make(), errno.EINVAL, "mmap", 0)

    @pytest.mark.parametrize("length", [-1, -4096, 1 << 47])
    def test_a_length_beyond_the_address_space_is_enomem(self, length):
        """A negative length is a huge unsigned one to the kernel: ENOMEM, as tests/test_space_kernel.py
        checks on the real kernel."""
        fails(make(), errno.ENOMEM, "mmap", length)

    def test_no_room_is_enomem(self):
        s = make(mmap_base=HEAP + 3 * P)
        s.sbrk(1)
        assert s.mmap(2 * P) == HEAP + P
        fails(s, errno.ENOMEM, "mmap", P)


class TestMunmap:
    """Whole or partial unmapping; unmapped pages are no error; bad arguments are EINVAL."""

    def test_partial_splits_and_drops_pages(self):
        s = make()
        p = s.mmap(4 * P)
        s.touch(p, 4 * P)
        s.munmap(p + P, 2 * P)
        assert [(m.start, m.end) for m in s.mappings()] == [(p, p + P), (p + 3 * P, p + 4 * P)]
        assert s.rss == 2 * P and s.vsz == 2 * P and s.commit_charge == 2 * P
        assert s.released_munmap == 2 * P
        s.check()

    def test_range_over_several_mappings_and_holes(self):
        s = make()
        a = s.mmap(P)
        b = s.mmap(P)
        s.munmap(b, P)
        c = s.mmap(2 * P)            # hole too small: below
        s.munmap(c, BASE - c + 10 * P)
        assert s.mappings() == () and s.vsz == 0 and s.released_munmap == 4 * P
        assert a - b == P

    def test_unmapped_is_not_an_error(self):
        s = make()
        s.munmap(BASE - 8 * P, P)
        assert s.calls["munmap"] == 1 and s.events[-1].errno is None

    @pytest.mark.parametrize("addr_off, length", [(1, P), (0, 0), (0, -P)])
    def test_bad_arguments_are_einval(self, addr_off, length):
        s = make()
        p = s.mmap(P)
        fails(s, errno.EINVAL, "munmap", p + addr_off, length)

    def test_heap_is_changed_by_sbrk_only(self):
        s = make()
        s.sbrk(P)
        fails(s, errno.EINVAL, "munmap", HEAP, P)


class TestMremap:
    """Shrink in place, grow in place when free, else move (MAYMOVE) or ENOMEM."""

    def test_shrink_in_place_drops_tail_pages(self):
        s = make()
        p = s.mmap(4 * P)
        s.touch(p, 4 * P)
        assert s.mremap(p, 4 * P, P + 1) == p
        assert s.vsz == 2 * P and s.rss == 2 * P and s.commit_charge == 2 * P
        assert s.mremap(p, 2 * P, 2 * P) == p

    def test_grow_in_place_when_the_next_pages_are_free(self):
        s = make()
        p = s.mmap(4 * P)
        s.munmap(p + 2 * P, 2 * P)
        assert s.mremap(p, 2 * P, 4 * P) == p
        assert s.mappings() == (Mapping(p, p + 4 * P, "mmap"),) and s.commit_charge == 4 * P

    def test_blocked_growth_without_may_move_is_enomem(self):
        s = make()
        a = s.mmap(P)
        b = s.mmap(P)
        fails(s, errno.ENOMEM, "mremap", b, P, 2 * P)
        assert a == b + P

    def test_move_keeps_residency_and_swap(self):
        s = make(ram=2 * P, swap=4 * P)
        s.mmap(P)
        b = s.mmap(3 * P)
        s.touch(b, 3 * P)            # page b is swapped, b+P and b+2P resident
        assert s.swapped_ranges() == [(b, b + P)]
        new = s.mremap(b, 3 * P, 5 * P, True)
        assert new == b - 5 * P
        assert s.swapped_ranges() == [(new, new + P)]
        assert s.resident_ranges() == [(new + P, new + 3 * P)]
        assert s.mappings() == (Mapping(new, new + 5 * P, "mmap"), Mapping(BASE - P, BASE, "mmap"))
        assert s.commit_charge == 6 * P
        s.check()

    def test_part_of_a_mapping_moves_alone(self):
        s = make()
        p = s.mmap(4 * P)
        new = s.mremap(p + P, P, 2 * P, True)   # not at the mapping's end: cannot grow in place
        assert new == p - 2 * P
        assert [(m.start, m.end) for m in s.mappings()] == [(new, new + 2 * P), (p, p + P),
                                                              (p + 2 * P, p + 4 * P)]

    def test_unmapped_old_range_is_efault(self):
        s = make()
        p = s.mmap(2 * P)
        for args in ((p - P, P, 2 * P, True), (p, 3 * P, 4 * P, True), (p - P, 2 * P, P, False)):
            fails(s, errno.EFAULT, "mremap", *args)

    @pytest.mark.parametrize("off, old_len, new_len", [(1, P, 2 * P), (0, 0, P), (0, P, 0)])
    def test_bad_arguments_are_einval(self, off, old_len, new_len):
        s = make()
        p = s.mmap(P)
        fails(s, errno.EINVAL, "mremap", p + off, old_len, new_len, True)


class TestMadvise:
    """DONTNEED drops pages now; FREE keeps them counted until pressure or a write."""

    def test_dontneed(self):
        s = make()
        p = s.mmap(3 * P)
        s.touch(p, 3 * P)
        s.madvise(p + P, 1, MADV_DONTNEED)
        assert s.resident_ranges() == [(p, p + P), (p + 2 * P, p + 3 * P)]
        assert s.released_madvise == P and s.vsz == 3 * P

    def test_free_keeps_rss_and_a_write_cancels_it(self):
        s = make()
        p = s.mmap(3 * P)
        s.touch(p, 3 * P)
        s.madvise(p, 3 * P, MADV_FREE)
        assert s.rss == 3 * P and s.lazy_free == 3 * P
        s.touch(p + P + 8, 8)
        assert s.lazy_ranges() == [(p, p + P), (p + 2 * P, p + 3 * P)] and s.rss == 3 * P
        s.check()

    def test_free_on_swapped_pages_discards_them(self):
        s = make(ram=P, swap=P)
        p = s.mmap(2 * P)
        s.touch(p, 2 * P)
        assert s.swap == P
        s.madvise(p, 2 * P, MADV_FREE)
        assert s.swap == 0 and s.rss == P and s.lazy_free == P

    def test_zero_length_does_nothing(self):
        s = make()
        p = s.mmap(P)
        s.touch(p)
        s.madvise(p, 0, MADV_DONTNEED)
        assert s.rss == P

    @pytest.mark.parametrize("off, length, advice", [(0, P, 99), (1, P, MADV_DONTNEED),
                                                     (0, -P, MADV_FREE), (0, 0, 99)])
    def test_bad_arguments_are_einval(self, off, length, advice):
        s = make()
        p = s.mmap(P)
        fails(s, errno.EINVAL, "madvise", p + off, length, advice)

    @pytest.mark.parametrize("advice", [MADV_DONTNEED, MADV_FREE])
    def test_unmapped_is_enomem_and_changes_nothing(self, advice):
        s = make()
        p = s.mmap(P)
        s.touch(p)
        fails(s, errno.ENOMEM, "madvise", p - P, 2 * P, advice)
        fails(s, errno.ENOMEM, "madvise", p - 4 * P, P, advice)


class TestTouch:
    """Writes make whole pages resident; writes outside mappings are segmentation faults."""

    def test_pages_of_a_write(self):
        s = make()
        p = s.mmap(4 * P)
        s.touch(p + P - 4, 8)        # crosses a page boundary: two pages
        assert s.resident_ranges() == [(p, p + 2 * P)]
        s.touch(p + P - 4, 8)
        s.touch(p + 3 * P + 100)
        assert s.rss == 3 * P

    def test_unmapped_write_faults_at_the_first_bad_byte(self):
        s = make()
        p = s.mmap(P)
        with pytest.raises(SegmentationFault) as info:
            s.touch(p + P - 2, 4)
        assert info.value.addr == p + P and isinstance(info.value, MemlabError)
        assert s.rss == 0               # nothing was written
        with pytest.raises(SegmentationFault):
            s.touch(HEAP)               # the heap is empty

    def test_write_across_adjacent_mappings(self):
        s = make()
        s.sbrk(10)
        a = s.mmap(P)
        b = s.mmap(P)
        s.touch(a - 4, 8)
        assert s.resident_ranges() == [(b, a + P)]
        s.touch(HEAP + 100, 8)          # beyond the break but inside its page: mapped
        assert s.rss == 3 * P
        with pytest.raises(SegmentationFault) as info:
            s.touch(HEAP + P - 8, 16)
        assert info.value.addr == HEAP + P

    def test_zero_and_negative_length(self):
        s = make()
        s.touch(0x1234, 0)
        with pytest.raises(ValueError, match="-1"):
            s.touch(0x1234, -1)

    def test_read_does_not_make_pages_resident(self):
        s = make()
        p = s.mmap(P)
        s.read(p, P)
        assert s.rss == 0
        with pytest.raises(SegmentationFault, match="read"):
            s.read(p - 1, 2)

    def test_cached_range_forgets_dropped_pages(self):
        s = make()
        p = s.mmap(2 * P)
        s.touch(p)
        s.madvise(p, P, MADV_DONTNEED)
        s.touch(p)
        assert s.rss == P
        s.munmap(p, P)
        with pytest.raises(SegmentationFault):
            s.touch(p)
        s.madvise(p + P, P, MADV_FREE)
        s.touch(p + P)
        assert s.lazy_free == 0


class TestPressure:
    """Past RAM: lazy pages go first, then least recently written pages go to swap; then OOM."""

    def test_sequential_writes_swap_the_oldest_pages(self):
        s = make(ram=4 * P, swap=4 * P)
        p = s.mmap(6 * P)
        for k in range(6):
            s.touch(p + k * P)
        assert s.rss == 4 * P and s.swap == 2 * P
        assert s.swapped_ranges() == [(p, p + 2 * P)] and s.swapped_out == 2 * P
        s.touch(p)                    # swap-in: the page returns, the oldest resident leaves
        assert s.swapped_ranges() == [(p + P, p + 3 * P)] and s.swapped_in == P
        assert s.rss == 4 * P
        s.check()

    def test_one_write_larger_than_ram_keeps_its_end(self):
        s = make(ram=2 * P, swap=8 * P)
        p = s.mmap(5 * P)
        s.touch(p, 5 * P)
        assert s.resident_ranges() == [(p + 3 * P, p + 5 * P)] and s.swap == 3 * P

    def test_mappings_age_separately(self):
        s = make(ram=4 * P, swap=8 * P)
        a = s.mmap(2 * P)
        b = s.mmap(2 * P)
        c = s.mmap(2 * P)
        s.touch(a, 2 * P)
        s.touch(b, 2 * P)
        s.touch(a, 8)                 # a is now more recent than b
        s.touch(c, 2 * P)
        assert s.swapped_ranges() == [(b, b + 2 * P)]

    def test_lazy_pages_are_reclaimed_before_swapping(self):
        s = make(ram=4 * P, swap=8 * P)
        a = s.mmap(4 * P)
        b = s.mmap(2 * P)
        s.touch(a, 4 * P)
        s.madvise(a + 2 * P, 2 * P, MADV_FREE)
        s.touch(b, 2 * P)
        assert s.swap == 0 and s.reclaimed_lazy == 2 * P
        assert s.resident_ranges() == [(b, a + 2 * P)]     # b lies just below a
        assert s.lazy_free == 0
        s.check()

    def test_oom_kill_when_ram_and_swap_are_full(self):
        s = make(ram=2 * P, swap=P, overcommit=1)
        p = s.mmap(4 * P)
        s.touch(p, 3 * P)
        before = s.state()
        with pytest.raises(OutOfMemoryKill, match="OOM killer") as info:
            s.touch(p + 3 * P)
        assert "8,192 B" in str(info.value) and "4,096 B" in str(info.value)
        assert s.state() == before
        s.touch(p)                    # swapped pages still come back
        s.check()

    def test_no_swap(self):
        s = make(ram=2 * P, overcommit=1)
        p = s.mmap(3 * P)
        s.touch(p, 2 * P)
        with pytest.raises(OutOfMemoryKill):
            s.touch(p + 2 * P)
        s.madvise(p, P, MADV_FREE)
        s.touch(p + 2 * P)            # the lazy page makes room
        assert s.rss == 2 * P and s.resident_ranges() == [(p + P, p + 3 * P)]

    def test_unlimited(self):
        s = AddressSpace(ram=None, swap=None)
        p = s.mmap(1 << 40)
        s.touch(p, 1 << 40)
        assert s.rss == 1 << 40 and s.commit_limit is None


class TestOvercommit:
    """The three vm.overcommit_memory modes, as mm/util.c __vm_enough_memory applies them."""

    def test_mode0_refuses_one_request_larger_than_ram_plus_swap(self):
        s = make(ram=100 * P, swap=10 * P)
        fails(s, errno.ENOMEM, "mmap", 111 * P)
        s.mmap(110 * P)
        s.mmap(110 * P)              # the sum may exceed RAM + swap
        s.sbrk(110 * P)
        fails(s, errno.ENOMEM, "sbrk", 111 * P)
        assert s.commit_charge == 330 * P

    def test_mode1_always(self):
        s = make(ram=100 * P, overcommit=1)
        s.mmap(1000 * P)
        assert s.commit_charge == 1000 * P

    def test_mode2_limit_is_swap_plus_ratio_of_ram(self):
        s = make(ram=100 * P, swap=10 * P, overcommit=2, overcommit_ratio=50)
        assert s.commit_limit == 60 * P
        p = s.mmap(50 * P)
        s.sbrk(9 * P)                # charge 59 pages: still below 60
        fails(s, errno.ENOMEM, "mmap", P)          # 60 would not stay below the limit
        fails(s, errno.ENOMEM, "sbrk", 1)
        fails(s, errno.ENOMEM, "mremap", p, 50 * P, 51 * P, True)
        s.munmap(p, 10 * P)
        assert s.mremap(p + 10 * P, 40 * P, 50 * P, True) and s.commit_charge == 59 * P

    def test_mode2_kbytes_and_reserves(self):
        s = make(ram=100 * P, swap=0, overcommit=2, overcommit_kbytes=40)   # 10 pages
        assert s.commit_limit == 10 * P
        s.mmap(9 * P)
        fails(s, errno.ENOMEM, "mmap", P)
        r = make(ram=100 * P, overcommit=2, admin_reserve=2 * P)
        r.mmap(47 * P)
        fails(r, errno.ENOMEM, "mmap", P)


class TestAccounting:
    """Call counts, the event log, and cumulative release counters."""

    def test_calls_and_events(self):
        s = make()
        p = s.mmap(P)
        with pytest.raises(SyscallError):
            s.munmap(p + 1, P)
        s.madvise(p, P, MADV_DONTNEED)
        s.sbrk(0)
        assert dict(s.calls) == {"sbrk": 1, "mmap": 1, "munmap": 1, "mremap": 0, "madvise": 1}
        assert s.events == (Event(1, "mmap", (P,), p, None),
                            Event(2, "munmap", (p + 1, P), None, errno.EINVAL),
                            Event(3, "madvise", (p, P, MADV_DONTNEED), 0, None),
                            Event(4, "sbrk", (0,), HEAP, None))
        assert str(s.events[1]) == f"munmap({p + 1:#x}, 4096) = -1 EINVAL"

    def test_log_off_keeps_counts(self):
        s = make(log=False)
        s.mmap(P)
        assert s.events == () and s.calls["mmap"] == 1

    def test_views_are_read_only(self):
        s = make()
        with pytest.raises(AttributeError):
            s.rss = 5
        with pytest.raises(TypeError):
            s.calls["mmap"] = 5


class TestScale:
    """Pages are ranges: a 3.2 GB heap costs kilobytes, however it is written."""

    def test_big_heap_is_cheap(self):
        tracemalloc.start()
        s = AddressSpace()
        before = tracemalloc.get_traced_memory()[0]
        s.sbrk(3_200_000_000)
        s.touch(s.heap_start, 3_200_000_000)
        for k in range(0, 3_200_000_000, 10_000_000):
            s.touch(s.heap_start + k, 16)
        used = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        assert s.rss == 781_250 * P and used < 64 * 1024
        s.check()

    def test_scattered_pages_cost_per_range(self):
        s = make()
        p = s.mmap(2000 * P)
        for k in range(0, 2000, 2):
            s.touch(p + k * P)
        assert len(s.resident_ranges()) == 1000 and s.rss == 1000 * P
        s.check()


class TestFastPaths:
    """The cached paths of touch() give the same pages as the full path."""

    def test_write_past_the_last_one_into_a_resident_run(self):
        s = make()
        p = s.mmap(4 * P)
        s.touch(p + 2 * P)
        s.touch(p)
        s.touch(p + P, 2 * P)         # starts where the last run ends, runs into another
        assert s.resident_ranges() == [(p, p + 3 * P)] and s.rss == 3 * P
        s.check()

    def test_write_past_the_last_one_into_swapped_and_lazy_pages(self):
        s = make(ram=3 * P, swap=4 * P)
        p = s.mmap(6 * P)
        s.touch(p + 2 * P, 2 * P)
        s.touch(p + 4 * P, 2 * P)     # swaps out page 2
        assert s.swapped_ranges() == [(p + 2 * P, p + 3 * P)]
        s.touch(p)
        s.touch(p + P, 2 * P)         # past the last write, over a swapped page
        assert s.swap == 3 * P and s.rss == 3 * P and s.swapped_in == P
        s.check()
        t = make()
        q = t.mmap(3 * P)
        t.touch(q + P, 2 * P)
        t.madvise(q + 2 * P, P, MADV_FREE)
        t.touch(q)
        t.touch(q + P, 2 * P)         # cancels the lazy page
        assert t.lazy_free == 0 and t.rss == 3 * P

    def test_write_past_the_end_of_a_mapping_faults(self):
        s = make()
        a = s.mmap(P)
        s.touch(a)
        with pytest.raises(SegmentationFault):
            s.touch(a + P)            # past the top mapping: nothing there
        s.sbrk(P)
        s.touch(HEAP)
        with pytest.raises(SegmentationFault):
            s.touch(HEAP + P, 8)
