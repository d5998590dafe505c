"""Options shared by the whole test run: opt-in slow tests and Hypothesis settings."""

import os

import pytest

__all__ = []

try:
    from hypothesis import settings
except ImportError:  # pragma: no cover - hypothesis is in the `test` extra
    pass
else:
    # No per-example time limit: a busy 2-core CI machine must not turn into failures.
    settings.register_profile("memlab", deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "memlab"))


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run tests marked slow (same as MEMLAB_SLOW=1)",
    )


def slow_wanted(config):
    """True when slow tests were asked for by --run-slow or MEMLAB_SLOW=1."""
    flag = os.environ.get("MEMLAB_SLOW", "").strip().lower()
    return config.getoption("--run-slow") or flag not in ("", "0", "false", "no")


def pytest_collection_modifyitems(config, items):
    if slow_wanted(config):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow or MEMLAB_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
