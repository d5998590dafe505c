"""Tests for memlab.native.realtime: timing the machine's real malloc and mmap (no timing asserts)."""

import os

import pytest

from memlab.native.realtime import RealTiming, glibc_version, time_allocators


class TestGlibcVersion:
    """glibc_version() names the same release the C library reports through confstr."""

    def test_matches_confstr(self):
        assert os.confstr("CS_GNU_LIBC_VERSION") == f"glibc {glibc_version()}"


class TestTimeAllocators:
    """time_allocators() reports one record of its configuration; bad input is refused."""

    def test_record(self):
        t = time_allocators(size=64, iterations=20, repeats=2)
        assert (t.size, t.iterations, t.repeats, t.glibc) == (64, 20, 2, glibc_version())
        assert t.call_ns > 0 and t.heap_loop_ns > 0 and t.kernel_loop_ns > 0
        assert t.malloc_ns >= 0 and t.mmap_ns >= 0

    @pytest.mark.parametrize("kwargs, name", [({"size": 0}, "size"), ({"iterations": -1}, "iterations"),
                                              ({"repeats": 1.5}, "repeats")])
    def test_bad_input(self, kwargs, name):
        with pytest.raises(ValueError, match=name):
            time_allocators(**kwargs)

    def test_bounded(self):
        with pytest.raises(ValueError, match="over 200,000"):
            time_allocators(iterations=100_000, repeats=3)


class TestRealTiming:
    """Derived figures subtract the cost of calling C and never go negative."""

    def test_subtraction(self):
        t = RealTiming("2.36", 32, 10, 1, call_ns=100.0, heap_loop_ns=90.0, kernel_loop_ns=600.0)
        assert t.malloc_ns == 0.0
        assert t.mmap_ns == 500.0
        assert t.ratio == 500.0
