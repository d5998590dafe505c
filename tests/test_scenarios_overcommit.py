"""Lesson 04's facts: the overcommit model against this machine's kernel and glibc.

The C probe only reserves memory (malloc, realloc) and never writes it, so these tests are safe
on a shared machine. They need mode 0 (Linux's default) to check the mode-0 statements; under
CI a machine in another mode, or without a C compiler, is a failure rather than a skip (the root
conftest.py turns NativeUnavailable into one or the other).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memlab.native import NativeUnavailable
from memlab.scenarios.overcommit import (
    BIG, STEP, Machine, check_here, explore, growth_report, largest_malloc, model_grow,
    model_malloc, probe_grow, probe_malloc, touch,
)
from memlab.trace import parse_trace
from memlab.units import GiB, MiB, PAGE

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "04_overcommit.ipynb"


@pytest.fixture(scope="module")
def here() -> Machine:
    machine = Machine.here()
    if machine.mode != 0:
        raise NativeUnavailable(f"this machine runs overcommit mode {machine.mode}; "
                                "the lesson's kernel checks need 0")
    probe_malloc(PAGE)          # builds the probe: NativeUnavailable without a working compiler
    return machine


class TestMachine:
    """Machine.here reads /proc; its CommitLimit is the kernel's."""

    def test_commit_limit_is_the_kernels(self):
        meminfo = dict(line.split(":") for line in Path("/proc/meminfo").read_text().splitlines())
        kernel = int(meminfo["CommitLimit"].split()[0]) * 1024
        if int(meminfo.get("Hugetlb", "0 kB").split()[0]):
            pytest.skip("huge pages are reserved: the kernel leaves them out of CommitLimit")
        assert Machine.here().commit_limit == kernel

    def test_reads_a_proc_tree(self, tmp_path):
        (tmp_path / "sys" / "vm").mkdir(parents=True)
        (tmp_path / "meminfo").write_text("MemTotal:  16777216 kB\nSwapTotal:  1048576 kB\n")
        for name, value in (("overcommit_memory", 2), ("overcommit_ratio", 80),
                            ("overcommit_kbytes", 0)):
            (tmp_path / "sys" / "vm" / name).write_text(f"{value}\n")
        m = Machine.here(tmp_path)
        assert (m.ram, m.swap, m.mode, m.ratio) == (16 * GiB, GiB, 2, 80)
        assert m.commit_limit == GiB + (16 * GiB // PAGE) * 80 // 100 * PAGE

    def test_bad_values(self):
        with pytest.raises(ValueError, match="overcommit must be 0, 1 or 2"):
            Machine(ram=GiB, mode=3)
        with pytest.raises(ValueError, match="ram must be"):
            Machine(ram=0)


class TestModel:
    """The lesson's model numbers on a 16 GiB machine follow from the kernel's rules."""

    def test_big_malloc_fails_growth_succeeds(self):
        small = Machine(ram=16 * GiB)
        assert not model_malloc(small, BIG)
        assert model_grow(small, STEP, BIG) == BIG
        assert growth_report(small, STEP, BIG).startswith("1,024 calls")

    def test_mode_2_stops_below_the_limit(self):
        strict = Machine(ram=16 * GiB, mode=2, ratio=50)
        assert strict.commit_limit == 8 * GiB
        assert model_grow(strict, STEP, BIG) == 81 * STEP == 8100 * MiB

    def test_mode_1_grants_everything(self):
        assert model_malloc(Machine(ram=GiB, mode=1), BIG)

    def test_oom_kill_after_ram(self):
        small = Machine(ram=16 * GiB)
        t = touch(small, BIG, BIG, step=STEP)
        assert t.killed and 15.5 * GiB < t.written <= 16 * GiB and t.rss <= 16 * GiB
        with_swap = touch(Machine(ram=16 * GiB, swap=4 * GiB), BIG, BIG, step=STEP)
        assert with_swap.killed and with_swap.swap > 3 * GiB

    def test_explore_says_nothing_was_granted(self):
        e = explore(Machine(ram=GiB, mode=2), 4 * GiB, 4 * GiB, GiB)
        assert e.touched is None and "nothing granted" in e.summary()

    def test_check_question(self):
        assert model_malloc(Machine(ram=16 * GiB, swap=4 * GiB), 18 * GiB)


class TestKernel:
    """What the lesson states, put to this machine's kernel through its real glibc."""

    def test_model_and_kernel_agree_on_the_lesson_requests(self, here):
        check = check_here(here)
        assert check.error is None, check.error
        assert check.agrees, check.report()
        assert len(check.rows) == 6

    def test_one_big_malloc_fails_the_growth_succeeds(self, here):
        if here.ram + here.swap >= BIG:
            pytest.skip("this machine has 100 GiB of RAM + swap or more")
        assert probe_malloc(BIG) is False
        assert probe_grow(STEP, BIG) == BIG

    def test_the_largest_malloc_is_ram_plus_swap_plus_3392(self, here):
        edge = largest_malloc(here)
        assert edge - (here.ram + here.swap) == 3392
        assert probe_malloc(edge) and not probe_malloc(edge + 16)
        assert "3,392" in LESSON.read_text()

    def test_the_grown_block_is_two_resident_pages(self, here):
        """glibc writes only the block's header and its tcache: RES grows by 8,192 bytes."""
        from memlab.native import replay_native

        if here.ram + here.swap < 2 * GiB:
            pytest.skip("less than 2 GiB of RAM + swap")
        target = GiB
        trace = "".join(f"r 0 {size}\n" for size in range(STEP, target + 1, STEP))
        trace += f"r 0 {target}\ns grown\n"
        real = replay_native(parse_trace(trace))[0]
        assert real["rss"] == 8192
        assert growth_report(here, STEP, target).endswith("resident (RES) 8,192 B")
