"""Random traces: the model equals the real glibc after every operation, every field.

Two generators: Hypothesis (`strategies.traces`, every operation of the format, shrinking to a
small failing trace) and seeded plain-random phased traces of 2,000-5,000 operations
(`strategies.phased_trace`: growth and teardown phases over tcache, fastbin, small, large
and mmap sizes). Malloc.check() runs after every operation. The default run is bounded and
seeded; --run-slow (or MEMLAB_SLOW=1) runs thousands.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, seed, settings

from differential import compare_trace
from strategies import phased_trace, traces

pytestmark = pytest.mark.usefixtures("glibc_236")

SLOW = os.environ.get("MEMLAB_SLOW", "").strip().lower() not in ("", "0", "false", "no")
DEFAULT_SEEDS = range(6)
SLOW_SEEDS = range(6, 306)


def _agree(text: str, name: str) -> None:
    out = compare_trace(text, every=1, check_every=1, name=name)
    assert out.agree, "\n".join(out.differences) + "\n--- trace ---\n" + text[-4000:]


@seed(20261125)
@settings(max_examples=30, derandomize=True, suppress_health_check=list(HealthCheck), deadline=None,
          database=None)
@given(text=traces(max_ops=120))
def test_hypothesis_traces_agree(text):
    """30 derandomized Hypothesis traces (every operation kind): model == glibc after each op."""
    _agree(text, "hypothesis")


@pytest.mark.slow
@settings(max_examples=3000, suppress_health_check=list(HealthCheck), deadline=None)
@given(text=traces(max_ops=300))
def test_many_hypothesis_traces_agree(text):
    """Thousands of (not derandomized) Hypothesis traces, opt-in."""
    _agree(text, "hypothesis-slow")


@pytest.mark.parametrize("seed_", DEFAULT_SEEDS)
def test_phased_random_traces_agree(seed_):
    """Seeded phased traces of 2,000-5,000 ops: model == glibc after every op."""
    n = 2000 + 600 * seed_
    _agree(phased_trace(n, seed=seed_), f"phased seed {seed_} ({n} ops)")


@pytest.mark.slow
@pytest.mark.parametrize("seed_", SLOW_SEEDS)
def test_many_phased_random_traces_agree(seed_):
    """Hundreds more seeds of 5,000-op phased traces, opt-in."""
    _agree(phased_trace(5000, seed=seed_), f"phased seed {seed_} (5000 ops)")
