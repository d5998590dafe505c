"""The vecvec experiment: the model's bulk run against the real glibc, field by field.

The expected snapshots come from tests/vecvec/vecvec.c run on this machine's glibc (2.36) and on
the fetched 2.41 and 2.43.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from memlab.glibc import Malloc
from memlab.native.glibc_releases import loader_command
from memlab.scenarios.bulk import run_vecvec, vecvec_steps
from memlab.steps import run_steps
from memlab.trace import Op

sys.path.insert(0, str(Path(__file__).resolve().parent / "vecvec"))
import native  # noqa: E402

def model(n, every=None):
    return [s.as_dict() for s in run_vecvec(n, every)]


@pytest.mark.parametrize("n", [1, 7, 8, 1000, 5461, 5462, 10_000, 100_000, 1_000_000])
def test_vecvec_equals_real_glibc(glibc_236, n):
    assert model(n) == native.run(n)


@pytest.mark.parametrize("n, every", [(1000, 1), (1000, 999), (10_000, 7777), (100_000, 65_536)])
def test_vecvec_every_equals_real_glibc(glibc_236, n, every):
    assert model(n, every) == native.run(n, every)


@pytest.mark.parametrize("n", [1000, 100_000, 1_000_000])
@pytest.mark.parametrize("after, op", [("trim", Op("trim", pad=0)), ("big", Op("malloc", id=0, size=1200))])
def test_vecvec_then_consolidation_equals_real_glibc(glibc_236, n, after, op):
    """malloc_trim(0) or a 1200-byte malloc afterwards consolidates the fastbin run."""
    steps = vecvec_steps(n) + [("op", op), ("s", after)]
    got = [s.as_dict() for s in run_steps(steps, Malloc())]
    assert got == native.run(n, None, after)




@pytest.mark.parametrize("rel", ["2.41", "2.43"])
@pytest.mark.parametrize("n", [1000, 20_000, 1_000_000])
def test_vecvec_equals_real_release(release_root, rel, n):
    """The same experiment on the other releases' real libraries (2.43: no fastbins, so each
    free merges into the free chunk below it, a bulk step of its own)."""
    assert [s.as_dict() for s in run_vecvec(n, 4096, Malloc(glibc=rel))] == \
        native.run(n, 4096, loader=loader_command(release_root(rel)))


@pytest.mark.parametrize("n", [1000, 100_000])
@pytest.mark.parametrize("after, op", [("trim", Op("trim", pad=0)), ("big", Op("malloc", id=0, size=1200))])
def test_vecvec_then_more_equals_real_2_43(release_root, n, after, op):
    """2.43 after the merged frees: malloc_trim(0) releases the big free chunk's pages; a
    1200-byte malloc splits it."""
    steps = vecvec_steps(n) + [("op", op), ("s", after)]
    got = [s.as_dict() for s in run_steps(steps, Malloc(glibc="2.43"))]
    assert got == native.run(n, None, after, loader=loader_command(release_root("2.43")))


@pytest.mark.slow
@pytest.mark.parametrize("n", [10_000_000, 100_000_000])
def test_vecvec_large_equals_real_glibc(glibc_236, n):
    """10^8 needs about 6 GB of RAM for the real program."""
    assert model(n) == native.run(n)


@pytest.mark.slow
def test_vecvec_large_equals_real_2_43(release_root):
    n = 10_000_000
    assert [s.as_dict() for s in run_vecvec(n, None, Malloc(glibc="2.43"))] == \
        native.run(n, None, loader=loader_command(release_root("2.43")))
