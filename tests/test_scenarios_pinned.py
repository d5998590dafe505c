"""Lesson 06's facts: the pinned heap on the model and on this machine's real glibc.

Every number the lesson states is read here from the real glibc (memlab's C replayer running
the scenario's trace) and the model must agree with it. Under CI a replayer that cannot be
built fails; elsewhere it skips (the root conftest.py rules NativeUnavailable).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memlab.scenarios.pinned import PINNED, pinned
from memlab.scenarios.real import compare_real

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "06_locked_in.ipynb"
FIELDS = ("brk", "arena", "hblkhd", "fordblks", "rss")


@pytest.fixture(scope="module", autouse=True)
def on_glibc_236(glibc_236):
    """The machine's real glibc 2.36 (a skip, under CI a failure, where it cannot be had)."""
    return glibc_236


def real(settings=None, **values):
    """The real snapshots by label, after checking the model agrees on every field."""
    c = compare_real(PINNED, settings or {}, fields=FIELDS, **values)
    assert c.error is None and c.matches, c.report()
    out = {}
    for label, field, _model, got in c.rows:
        out.setdefault(label, {})[field] = got
    return out


def stated(*numbers):
    text = LESSON.read_text()
    for number in numbers:
        assert number in text, number


class TestTrace:
    """The scenario's trace: blocks, the pin above them, the frees, the trim."""

    def test_bad_values(self):
        with pytest.raises(ValueError, match="pin and trim 0 or 1"):
            pinned(1, 1, 2, 0)

    def test_defaults(self):
        assert PINNED.values() == {"n": 100, "size": 100_000, "pin": 1, "trim": 0}


class TestLessonNumbers:
    """The numbers lesson 06 states, from the real glibc (the model agrees on each)."""

    def test_the_pin_keeps_everything(self):
        s = real(pin=1)
        assert s["freed"]["rss"] == s["filled"]["rss"] == 10_002_432
        assert s["freed"]["brk"] == s["filled"]["brk"]
        assert s["freed"]["fordblks"] == 10_132_816
        stated("10,002,432", "10,132,816")

    def test_without_the_pin_the_heap_shrinks(self):
        s = real(pin=0)
        assert s["freed"]["brk"] == s["freed"]["rss"] == 135_168
        stated("135,168")

    def test_malloc_trim_drops_the_free_pages(self):
        s = real(pin=1, trim=1)
        assert s["freed"]["brk"] - s["trimmed"]["brk"] == 131_072
        assert s["trimmed"]["rss"] == 8_192
        stated("131,072", "8,192")

    def test_a_high_trim_threshold_keeps_the_top(self):
        s = real({"M_TRIM_THRESHOLD": 32 << 20}, pin=0)
        assert s["freed"]["rss"] == 10_002_432 and s["freed"]["brk"] == s["filled"]["brk"]

    def test_a_large_top_pad_keeps_4_mib(self):
        s = real({"M_TOP_PAD": 4 << 20}, pin=0)
        assert s["freed"]["brk"] == 4_198_400
        stated("4,198,400")

    def test_a_low_mmap_threshold_maps_every_block(self):
        for pin in (0, 1):
            s = real({"M_MMAP_THRESHOLD": 64 << 10}, pin=pin)
            assert s["filled"]["hblkhd"] == 10_137_600 and s["freed"]["hblkhd"] == 0
        assert s["freed"]["rss"] == 102_400
        stated("10,137,600", "102,400")

    def test_check_question(self):
        s = real({"M_TRIM_THRESHOLD": 4096}, pin=1)
        assert s["freed"]["brk"] == s["filled"]["brk"]


class TestProgram:
    """The C++ program of this shape: its own numbers, as lesson 06 states them."""

    def test_pinned_program(self):
        from memlab.native.programs import run_program

        stages = {s["label"]: s for s in run_program("pinned", 10_000)}
        assert stages["freed"]["rss"] == stages["filled"]["rss"] == 10_162_176
        assert stages["trimmed"]["rss"] == 16_384
        assert stages["trimmed"]["vmsize"] > stages["freed"]["vmsize"] - (1 << 20)   # VIRT stays
        stated("10,162,176", "16,384")
