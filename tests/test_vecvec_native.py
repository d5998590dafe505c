"""The vecvec experiment: the model's bulk run against the real glibc, field by field.

The expected snapshots come from tests/vecvec/vecvec.c run on this machine's glibc.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from memlab.scenarios_bulk import run_vecvec

sys.path.insert(0, str(Path(__file__).resolve().parent / "vecvec"))
import native  # noqa: E402

needs_cc = pytest.mark.skipif(native.build() is None, reason="no C compiler")


def model(n, every=None):
    return [s.as_dict() for s in run_vecvec(n, every)]


@needs_cc
@pytest.mark.parametrize("n", [1, 7, 8, 1000, 5461, 5462, 10_000, 100_000, 1_000_000])
def test_vecvec_equals_real_glibc(n):
    assert model(n) == native.run(n)


@needs_cc
@pytest.mark.parametrize("n, every", [(1000, 1), (1000, 999), (10_000, 7777), (100_000, 65_536)])
def test_vecvec_every_equals_real_glibc(n, every):
    assert model(n, every) == native.run(n, every)


@pytest.mark.slow
@needs_cc
@pytest.mark.parametrize("n", [10_000_000, 100_000_000])
def test_vecvec_large_equals_real_glibc(n):
    """10^8 needs about 6 GB of RAM for the real program."""
    assert model(n) == native.run(n)
