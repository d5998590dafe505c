"""Lesson 07's statements, held against the real allocators of this machine.

The search paths come from the model of glibc 2.36, whose counters after every operation of the
lesson's trace are checked here against the real glibc; the resident figures of the pinned
experiment come from running glibc, jemalloc, tcmalloc and mimalloc themselves.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from memlab.glibc import Malloc
from memlab.native import build, replay_native
from memlab.native.allocators import NAMES, library
from memlab.replay import replay
from memlab.scenarios.designs import CASES, FINDING, PINNED, find_paths, run_designs
from memlab.snapshot import Snapshot
from memlab.trace import parse_trace
from memlab.units import MiB

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "07_finding_a_chunk.ipynb"


def lesson_text() -> str:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def stated_mib(phrase: str) -> float:
    """The number of MiB the lesson states right after ``phrase``."""
    match = re.search(re.escape(phrase) + r"\D*?([\d.]+) MiB", " ".join(lesson_text().split()))
    assert match, f"the lesson no longer says {phrase!r}"
    return float(match.group(1))


def require_all() -> None:
    """NativeUnavailable (a skip, under CI a failure) unless the replayer and all four run here."""
    build("replay")
    for name in NAMES:
        library(name)


@pytest.fixture(scope="module")
def designs():
    require_all()
    return run_designs()


def resident(designs, case: str, name: str, label: str = "freed") -> float:
    return next(p.rss for p in designs[case][name].points if p.label == label) / MiB


class TestSearch:
    def test_every_path_the_lesson_walks_through(self):
        paths = [s.path for s in find_paths(FINDING)]
        assert paths == (["top"] * 10 + ["free-tcache"] * 7 + ["free-fastbin"] * 2 + ["tcache"] * 7
                         + ["fastbin"] + ["top"] * 6 + ["free-unsorted"] * 3
                         + ["unsorted-exact", "binmap", "binmap", "last-remainder", "largebin",
                            "smallbin", "mmap", "munmap"])

    def test_chunk_sizes_stated(self):
        notes = {s.line: s.note for s in find_paths(FINDING)}
        assert "112-byte chunk" in notes["a 0 100"] and "sbrk(135,168)" in notes["a 0 100"]
        assert "2,608-byte chunk" in notes["a 27 2600"] and "2,496-byte chunk" in notes["a 30 2480"]
        assert "128-byte chunk" in notes["a 31 120"]
        text = " ".join(lesson_text().split())
        for phrase in ("needs a 112-byte chunk", "the 400-byte rest", "2,512-byte chunk in its own large bin",
                       "the 128-byte leftover", "heap does not exist yet, `sbrk` makes it (132 KiB)"):
            assert phrase in text, phrase

    def test_the_model_agrees_with_the_real_glibc_after_every_operation(self, glibc_236):
        model = replay(FINDING, lambda: Malloc(glibc="2.36"), every=1)
        real = [Snapshot.from_dict(d) for d in replay_native(parse_trace(FINDING), every=1)]
        assert len(model) == len(real) == 44
        assert [m.first_difference(r) for m, r in zip(model, real)] == [None] * len(model)


class TestPinned:
    def test_the_trace_is_100000_blocks_of_1000_bytes(self):
        values = [dict(c.values) for c in CASES]
        assert all(v["n"] == 100_000 and v["size"] == 1_000 for v in values)
        assert [v["write"] for v in values] == [0, 1, 1]
        assert "100,000 blocks of 1,000 bytes (about 95 MiB)" in " ".join(lesson_text().split())
        assert round(100_000 * 1_000 / MiB) == 95

    def test_glibc_figure(self, designs):
        stated = stated_mib("glibc kept")
        for case in ("never written", "written"):
            assert round(resident(designs, case, "glibc"), 1) == stated

    def test_jemalloc_never_written(self, designs):
        assert round(resident(designs, "never written", "jemalloc"), 1) == stated_mib("jemalloc")

    def test_tcmalloc_and_mimalloc_about(self, designs):
        match = re.search(r"tcmalloc and mimalloc about \*\*(\d+) MiB", lesson_text())
        about = int(match.group(1))
        assert abs(resident(designs, "never written", "tcmalloc") - about) <= 3
        assert abs(resident(designs, "never written", "mimalloc") - about) <= 3

    def test_written_everyone_about_100_mib_only_jemalloc_gives_back(self, designs):
        for name in NAMES:
            assert 90 <= resident(designs, "written", name, "built") <= 110, name
        for name in ("glibc", "tcmalloc", "mimalloc"):
            # "give nothing back"
            assert resident(designs, "written", name) >= resident(designs, "written", name, "built") - 0.5
        # "jemalloc gives back a little": its decay purges while the replay runs, by the clock
        built = resident(designs, "written", "jemalloc", "built")
        assert built / 2 <= resident(designs, "written", "jemalloc") <= built
        assert "glibc, tcmalloc and mimalloc give **nothing** back" in lesson_text()

    def test_jemalloc_purging_at_once_ends_with_its_small_blocks(self, designs):
        decayed = resident(designs, "written, jemalloc purging at once", "jemalloc")
        assert decayed < 5
        for name in ("glibc", "tcmalloc", "mimalloc"):
            assert resident(designs, "written, jemalloc purging at once", name) > 90

    def test_who_moves_the_break(self, designs):
        written = designs["written"]
        assert written["glibc"].end.brk > 90 * MiB and written["tcmalloc"].end.brk > 90 * MiB
        assert written["jemalloc"].end.brk == 0 and written["mimalloc"].end.brk == 0
        text = " ".join(lesson_text().split())
        assert "glibc and tcmalloc grew the heap with `sbrk`" in text
        assert "jemalloc and mimalloc only map memory and never move the break" in text

    def test_unwritten_blocks_cost_jemalloc_nothing_but_not_the_others(self, designs):
        for name in ("glibc", "tcmalloc", "mimalloc"):
            assert resident(designs, "never written", name) > 90
        assert resident(designs, "never written", "jemalloc") < 5

    def test_pinned_text_matches_its_parameters(self):
        text = PINNED.text(n=3, size=1000, write=1)
        assert text.count("a ") == 4 and text.count("w ") == 4 and text.count("f ") == 3


class TestThreads:
    """The threads dashboard's figures, from the model, are the real glibc's on the same traces."""

    SETTINGS = [(1, 0), (4, 0), (1, 1), (4, 1)]

    @staticmethod
    def real_working(threads, arena_max):
        from memlab.scenarios.arenas import trace

        found = replay_native(parse_trace(trace(threads, arena_max)), arenas=True)
        return next(Snapshot.from_dict(d) for d in found if d["label"] == "working")

    @pytest.mark.parametrize("threads,arena_max", SETTINGS)
    def test_dashboard_shows_the_real_glibcs_figures(self, glibc_236, threads, arena_max):
        from memlab.widgets.lesson_dashboards import threads_dashboard

        real = self.real_working(threads, arena_max)
        board = threads_dashboard(threads=threads, arena_max=arena_max)
        k = len(real.arenas)
        assert board.text == (f"{threads} threads: resident {real.rss:,} B, arena {real.arena:,} B, "
                              f"in {k} arena{'s' if k > 1 else ''}")

    @pytest.mark.parametrize("threads,arena_max", SETTINGS + [(8, 0), (8, 2)])
    def test_each_arenas_bars_are_the_real_glibcs(self, glibc_236, threads, arena_max):
        """The right-hand bars: every arena's system and in-use bytes, as malloc_stats() lists them."""
        from memlab.scenarios.arenas import working

        assert working(threads, arena_max).arenas == self.real_working(threads, arena_max).arenas

    def test_the_predictions_answer(self, glibc_236):
        """Four threads keep about four times one thread's memory; sharing one arena, not."""
        one, four = self.real_working(1, 0).rss, self.real_working(4, 0).rss
        shared = self.real_working(4, 1).rss
        assert 3.5 < four / one < 4.5 and shared < 1.5 * one
