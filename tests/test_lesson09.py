"""Lesson 09's statements: every number its text states, and where each claim is checked.

The 32-bit Linux part is exact: its figures are the model's (memlab.scenarios.exhaustion) and
each must equal the same program built with -m32 and run here (the glibc_i386 fixture).

The Windows model has no exact real side: Microsoft's heap cannot run here. So the lesson's
numbers are the model's (computed here from memlab.windows, the documented facts in
memlab.windows.facts, or named as inputs), and its claims about how Windows behaves are held as
relations against a real 32-bit Windows program under Wine in tests/test_windows_wine.py:
the big request failing with more than enough free in total, HeapDestroy giving everything back,
blocks above the limit in regions of their own, reservations in 64 KiB granules, bottom-up.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from memlab.scenarios.windows import FIXES, OBJECT_SIZES, refill, seed_run
from memlab.units import GiB, KiB, MiB
from memlab.windows import GRANULARITY, LARGE_BLOCK, PAGE, USER_SPACE, Process
from memlab.windows.facts import DLL_BASE, SEGMENT_RESERVE
from memlab.widgets.windows_dashboard import BIG_MIB, OBJECTS_MIB

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_lessons import cells, stated_numbers  # noqa: E402

NAME = "09_out_of_address_space"


def run(fix="none"):
    return seed_run(1024 * MiB, 500 * MiB, fix)


def dropped(fix="none"):
    return run(fix).stage("half dropped").map


def segment_sizes():
    return [r.size // MiB for r in run().stage("built").map.regions if r.kind == "heap"]


def free_ranges():
    return sorted(round((e - s) / MiB) for s, e in dropped().free)


CLAIMS = {
    "1": lambda: [SEGMENT_RESERVE // MiB],
    "2": lambda: [USER_SPACE["2 GiB"] // GiB],
    "3": lambda: [USER_SPACE["3 GiB"] // GiB],
    "4": lambda: [USER_SPACE["4 GiB"] // GiB, PAGE // KiB],
    "32": "32-bit: the kind of program the lesson is about",
    "64": lambda: [GRANULARITY // KiB],
    "128": lambda: [USER_SPACE["64-bit"] // 2**40, segment_sizes()[7], free_ranges()[-2]],
    "256": lambda: [segment_sizes()[8]],
    "512": lambda: [segment_sizes()[9], segment_sizes()[10], 512 if not run().made < run().asked
                    and 1024 not in segment_sizes() else None],
    "124": lambda: [free_ranges()[1]],
    "204": lambda: [dropped().largest_free // MiB, free_ranges()[-1]],
    "300": lambda: [OBJECT_SIZES[0]],
    "400": lambda: [OBJECT_SIZES[1]],
    "500": "the big request (an input of the scenario)",
    "100": "the 32-bit Linux program's big block (an input; 100 MiB)",
    "508": lambda: [LARGE_BLOCK // KiB],
    "1,024": "the MiB of objects (an input of the scenario, and a value of the objects slider)",
    "1,280": lambda: [max(OBJECTS_MIB)],
    "1,006": lambda: [dropped().heap_free // MiB],
    "457": lambda: [dropped().free_total // MiB],
    "1,612": lambda: [Process().view().largest_free // MiB],
    "1,991": lambda: [Process().view().free_total // MiB],
    "716": lambda: [dropped("private heap").largest_free // MiB],
    "127": lambda: [dropped("reserve early").largest_free // MiB],
    "1,151": lambda: [dropped("4 GiB").largest_free // MiB],
}


def test_every_stated_number_is_accounted_for():
    missing = sorted({n for _, n in stated_numbers(NAME)} - set(CLAIMS) - set(LINUX_CLAIMS))
    assert missing == [], f"numbers without a check: {missing}"


@pytest.mark.parametrize("number", [k for k, v in CLAIMS.items() if callable(v)])
def test_stated_number_is_the_models(number):
    values = CLAIMS[number]()
    assert values and all(v is not None and v == int(number.replace(",", "")) for v in values), \
        f"the lesson states {number}; the model gives {values}"


def text():
    return " ".join("".join(t for k, t, _ in cells(NAME) if k == "markdown").split())


def test_the_seed_scenario_fails_and_every_fix_succeeds():
    assert [run(f).big_ok for f in FIXES] == [False, True, True, True, True]
    assert all(run(f).made == run(f).asked for f in FIXES)
    m = dropped()
    assert m.heap_free + m.free_total > 2.5 * 500 * MiB   # "nearly three times"
    assert m.heap_free + m.free_total < 3 * 500 * MiB


def test_the_big_segments_skipped_the_hole_below_the_dll():
    regions = run().stage("built").map.regions
    heap = [r for r in regions if r.kind == "heap"]
    assert [r.base > DLL_BASE for r in heap if r.size >= 128 * MiB] == [True] * 4
    assert "the next segment of 1,024 MiB did not fit anywhere" in text()
    assert max(r.size for r in heap) == 512 * MiB


def test_the_check_question_new_objects_take_the_holes():
    again = refill(objects=256 * MiB, count=1000, size=350)
    assert again.in_holes == again.count and again.space_after == again.space_before


def test_slider_values_named_in_the_text_are_on_the_sliders():
    assert 1024 in OBJECTS_MIB and 1280 in OBJECTS_MIB and 500 in BIG_MIB


def test_the_lesson_says_the_model_is_of_the_documentation_not_of_microsofts_code():
    assert "follows what Microsoft **documents**" in text()
    assert "it is not Microsoft's code" in text()
    assert "its heap is **Wine's**, not Microsoft's" in text()


def test_the_notebook_is_committed_clean():
    nb = json.loads((Path(__file__).resolve().parent.parent / "notebooks" / f"{NAME}.ipynb").read_text())
    assert all(c.get("outputs", []) == [] for c in nb["cells"])
    assert re.search(r"windows_dashboard\(", "".join("".join(c["source"]) for c in nb["cells"]))


def test_the_dashboard_draws_its_chart_once_and_updates_it_in_place():
    from memlab.widgets.windows_dashboard import windows_dashboard

    d = windows_dashboard(256, 100)
    axes = list(d.figure.axes)
    collections = [c for ax in axes for c in ax.collections]
    d.set(big_mib=200, fix="reserve early")
    assert d.figure.axes == axes and [c for ax in axes for c in ax.collections] == collections
    assert d.renders == 3 and d.text.startswith("reserve early:") and "(200 MiB) succeeds" in d.text


def test_the_chart_shows_the_longest_free_range_and_the_total():
    from memlab.charts.windows import address_space_chart

    m = dropped()
    h = address_space_chart(m, big=500 * MiB)
    assert [b.get_width() for b in h.bars] == [m.largest_free, m.free_total, m.heap_free, 500 * MiB]
    assert h.longest.get_width() == m.largest_free
    assert "fits in no free range" in h.ax.get_title()


# --- the 32-bit Linux part: the model's figures, each equal to the real -m32 program's --------
@pytest.fixture(scope="module")
def linux(glibc_i386):
    from memlab.native.exhaust import run_exhaust
    from memlab.scenarios.exhaustion import BIG, SMALL, exhaustion

    return exhaustion(), run_exhaust(BIG, SMALL, randomize=False)


def real_free_at_failure(real):
    from memlab.space.layout32 import Layout32, parse_maps
    from memlab.space.space32 import Space32

    typical = Layout32.typical()
    lay = Layout32(typical.user_space, tuple(parse_maps(real.maps_failed)), typical.heap_start,
                   typical.mmap_base, typical.legacy_base, typical.legacy, typical.mmap_min_addr)
    free = Space32(lay).free_ranges()
    return sum(e - s for s, e in free), max(e - s for s, e in free)


LINUX_CLAIMS = {
    "39": lambda model, real: [model.n_big, real.n_big],
    "189": lambda model, real: [model.n_small, real.n_small],
    "3,900": lambda model, real: [real.n_big * real.big // MiB],
    "192": lambda model, real: [model.at_failure.total_free // MiB,
                                real_free_at_failure(real)[0] // MiB],
    "83": lambda model, real: [model.at_failure.largest_free // MiB,
                               real_free_at_failure(real)[1] // MiB],
}


@pytest.mark.parametrize("number", sorted(LINUX_CLAIMS))
def test_linux_number_is_the_real_programs(linux, number):
    model, real = linux
    values = LINUX_CLAIMS[number](model, real)
    assert values and all(v == int(number.replace(",", "")) for v in values), \
        f"the lesson states {number}; model and real program give {values}"


def test_linux_section_is_in_the_lesson():
    assert "## The same failure on 32-bit Linux, measured exactly" in "\n".join(
        t for k, t, _ in cells(NAME) if k == "markdown")
