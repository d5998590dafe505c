"""The lessons' C++ programs: recorded traces, the model against the real program, stated numbers.

The programs (memlab/native/containers.cc) are compiled at test time with the machine's g++ and
run; every number lessons 05 and 06 state is read here from the real program's own output. Under
CI a missing compiler fails; elsewhere it skips (root conftest.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memlab.native.programs import build_cxx, record_program, run_program
from memlab.scenarios.programs import compare_program, model_stages, program_trace
from memlab.trace import parse_trace

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MILLION = 2**20


@pytest.fixture(scope="module", autouse=True)
def compiled(glibc_236):
    """The programs, built; NativeUnavailable (a skip, under CI a failure) when they cannot be."""
    return build_cxx("containers")


def stage(stages, label):
    return next(s for s in stages if s["label"] == label)


def lesson_text(name):
    return (NOTEBOOKS / name).read_text()


class TestRecorded:
    """memlab record writes, for each program, exactly the trace the lessons replay."""

    @pytest.mark.parametrize("kind, n", [("vector", MILLION), ("list", 3000), ("pinned", 1000)])
    def test_recorded_trace_is_the_modelled_one(self, tmp_path, kind, n):
        path, stages = record_program(tmp_path / f"{kind}.trace", kind, n)
        recorded = [str(op) for op in parse_trace(path.read_bytes()) if str(op) != "s exit"]
        assert recorded == [str(op) for op in parse_trace(program_trace(kind, n, writes=False))]
        assert [s["label"] for s in stages] == [s.label for s in model_stages(kind, n)]


class TestModelAgainstProgram:
    """Replayed on the model, each program gives the real program's numbers at every stage."""

    @pytest.mark.parametrize("kind, n", [("vector", MILLION), ("list", MILLION), ("pinned", 10_000)])
    def test_every_stage_agrees(self, kind, n):
        c = compare_program(kind, n)
        assert c.error is None
        assert c.agrees, c.report()


class TestLesson05Numbers:
    """What lesson 05 states, read from the real program."""

    def test_vector(self):
        real = run_program("vector", MILLION)
        filled, cleared, shrunk = (stage(real, x) for x in ("filled", "cleared", "shrink_to_fit"))
        assert filled["hblkhd"] == 4_198_400 and filled["rss"] == 4_329_472
        assert cleared["rss"] == filled["rss"] and cleared["vmsize"] == filled["vmsize"]
        assert cleared["vmsize"] - shrunk["vmsize"] == 4_198_400
        assert filled["rss"] - shrunk["rss"] == 4_198_400 and shrunk["rss"] == 131_072
        assert stage(real, "destroyed")["rss"] == 131_072
        text = lesson_text("05_what_top_shows.ipynb")
        for number in ("4,198,400", "4,329,472", "131,072", "1,048,576"):
            assert number in text, number

    def test_list(self):
        real = run_program("list", MILLION)
        filled, cleared = stage(real, "filled"), stage(real, "cleared")
        assert filled["rss"] == cleared["rss"] == 32 * MILLION == 33_554_432
        assert cleared["smblks"] == 1_048_569 == MILLION - 7
        assert stage(real, "destroyed")["rss"] == cleared["rss"]
        text = lesson_text("05_what_top_shows.ipynb")
        for number in ("33,554,432", "1,048,569"):
            assert number in text, number


def test_ci_and_binder_install_gxx():
    """The C++ programs need g++: CI installs it when missing, and so does Binder."""
    root = NOTEBOOKS.parent
    assert "g++" in (root / "binder" / "apt.txt").read_text().split()
    assert "apt_missing+=(g++)" in (root / ".ci" / "run").read_text()
    import tomllib
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "*.cc" in config["package-data"]["memlab.native"]
