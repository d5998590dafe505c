"""Lesson 09's 32-bit exhaustion on the model against the same program run for real with -m32.

The real program (memlab/native/exhaust.c on Debian's i386 glibc) prints how many blocks it
got and /proc/self/maps before, at the first failure and at the end. The model starts from the
same layout (the typical one when randomisation is off, else the one the run's own maps show)
and must give the same counts, the same break and the same free ranges at both moments.
"""

import pytest

from memlab.native.exhaust import run_exhaust
from memlab.scenarios.exhaustion import BIG, SMALL, exhaustion
from memlab.space.layout32 import USER_SPACE_64, Layout32, parse_maps
from memlab.space.space32 import Space32
from memlab.units import MiB

real_side = pytest.mark.usefixtures("glibc_i386")


def real_free(maps: str, layout: Layout32) -> tuple:
    """The free ranges the real maps leave, by the same rule as the model (guard gap, floor)."""
    regions = tuple(r for r in parse_maps(maps))
    lay = Layout32(layout.user_space, regions, layout.heap_start, layout.mmap_base, layout.legacy_base,
                   layout.legacy, layout.mmap_min_addr)
    return Space32(lay).free_ranges()


def held(real, layout: Layout32):
    model = exhaustion(real.big, real.small, layout)
    assert (model.n_big, model.n_small) == (real.n_big, real.n_small)
    assert model.at_end.brk == real.end_brk
    assert (model.first_big, model.last_big) == (real.first_big, real.last_big)
    assert model.at_failure.free == real_free(real.maps_failed, layout)
    assert model.at_end.free == real_free(real.maps_end, layout)
    return model


@pytest.fixture(scope="module")
def real_fixed(glibc_i386):
    return run_exhaust(BIG, SMALL, randomize=False)


def test_the_lessons_figures_equal_the_real_run_without_randomisation(real_fixed):
    model = held(real_fixed, Layout32.typical())
    # the failure: plenty free in total, no single range large enough
    assert model.at_failure.largest_free < model.mapped_big < model.at_failure.total_free
    assert model.at_end.largest_free < model.mapped_small


def test_the_typical_layout_is_the_measured_one(real_fixed):
    lay = Layout32.from_maps(real_fixed.maps_start, real_fixed.start_brk)
    typical = Layout32.typical()
    assert (lay.mmap_base, lay.legacy_base, lay.heap_start, lay.user_space) == \
        (typical.mmap_base, typical.legacy_base, typical.heap_start, USER_SPACE_64)
    assert spans(lay.regions) == spans(typical.regions)


def spans(regions) -> list:
    """Regions as [start, end) spans, neighbours joined."""
    out = []
    for r in regions:
        if out and out[-1][1] == r.start:
            out[-1] = (out[-1][0], r.end)
        else:
            out.append((r.start, r.end))
    return out


@real_side
@pytest.mark.parametrize("run", range(3))
def test_randomised_runs_equal_the_model_started_from_their_own_layout(run):
    real = run_exhaust(BIG, SMALL)
    held(real, Layout32.from_maps(real.maps_start, real.start_brk))


@real_side
def test_the_legacy_layout_uses_no_address_below_its_base():
    real = run_exhaust(BIG, SMALL, randomize=False, legacy=True)
    model = held(real, Layout32.typical(legacy=True))
    assert model.n_big < exhaustion().n_big
    assert all(r.start >= model.layout.legacy_base for r in model.at_end.regions if r.kind == "mmap")


@real_side
def test_randomised_legacy_run():
    real = run_exhaust(BIG, SMALL, legacy=True)
    held(real, Layout32.from_maps(real.maps_start, real.start_brk, legacy=True))


@pytest.mark.parametrize("big,small", [(1024 * MiB, 100 * MiB), (10 * MiB, 256 * 1024)])
def test_other_sizes(big, small, real_fixed):
    held(run_exhaust(big, small, randomize=False), Layout32.typical())


def test_the_figures_docs_i386_states_are_the_real_ones(real_fixed):
    """docs/i386.md quotes these; they are read from the real run's own maps."""
    layout = Layout32.typical()
    free = real_free(real_fixed.maps_failed, layout)
    total, largest = sum(e - s for s, e in free), max(e - s for s, e in free)
    assert (real_fixed.n_big, real_fixed.n_small) == (39, 189)
    assert (round(total / MiB, 1), round(largest / MiB, 1)) == (192.0, 83.9)
    end = real_free(real_fixed.maps_end, layout)
    assert (round(sum(e - s for s, e in end) / MiB, 1), round(max(e - s for s, e in end) / MiB, 1)) == (2.3, 0.9)
    assert parse_maps(real_fixed.maps_failed)[0].start == 0x05148000
    libc = min(r.start for r in layout.regions if r.kind == "library")
    length = exhaustion().mapped_big
    assert (real_fixed.first_big, real_fixed.first_big + length) == (0xf1988000, libc)
    assert (real_fixed.last_big, real_fixed.last_big + length) == (layout.mmap_base, 0xfe3ff000)
    assert real_fixed.end_brk - real_fixed.start_brk == 139264


def test_a_32_bit_kernel_leaves_3_gib():
    from memlab.space.layout32 import MMAP_GAP, USER_SPACE_32

    lay = Layout32.typical(user_space=USER_SPACE_32)
    assert lay.mmap_base == USER_SPACE_32 - MMAP_GAP and all(r.end <= USER_SPACE_32 for r in lay.regions)
    small = exhaustion(layout=lay)
    assert max(r.end for r in small.at_end.regions) <= USER_SPACE_32
    assert small.n_big * small.mapped_big < exhaustion().n_big * small.mapped_big


def test_the_break_stops_one_page_below_a_mapping():
    space = Space32(Layout32.typical())
    heap_end = space.layout.heap_start + 8192
    space.sbrk(8192)
    gap = space.free_ranges()
    above = next(e for s, e in gap if s == heap_end)
    with pytest.raises(OSError):
        space.sbrk(above - heap_end)              # would touch the next mapping's page
    space.sbrk(above - heap_end - 4096)
    assert space.brk == above - 4096


def test_bad_sizes_are_refused_in_one_line():
    for bad in (0, -1, 2**32, 1.5):
        with pytest.raises(ValueError, match="whole number"):
            exhaustion(big=bad)
    with pytest.raises(ValueError, match="mmap threshold"):
        exhaustion(big=1000)
