"""The run's rule for the real side: skipped, saying why, where it cannot be had; under CI a failure.

The real side is what the expected numbers come from: the C compiler that builds memlab's
replayer and the tests' probes, the machine's glibc, the fetched glibc releases, the browser.
Code that cannot reach it raises memlab.native.NativeUnavailable (ReleaseUnavailable is one);
this hook turns exactly that exception, in a test, a fixture or a doctest, into a skip with its
message, unless the run requires the real side: `--require-real`, the default when the
environment says CI=true (as .ci/run runs). Then it stays a failure, and says why.
tests/conftest.py holds the fixtures that reach the real side.
"""

import doctest
import os

import pytest

from memlab.native import NativeUnavailable

CI_VALUES = ("1", "true", "yes")


def pytest_addoption(parser):
    parser.addoption(
        "--require-real",
        action="store_true",
        default=os.environ.get("CI", "").strip().lower() in CI_VALUES,
        help="a real side (C compiler, glibc release, browser) that cannot be had fails the test "
             "instead of skipping it (the default when CI=true)",
    )


def real_required(config) -> bool:
    """True when a missing real side must fail the run (--require-real, or CI=true)."""
    return bool(config.getoption("--require-real"))


def _unavailable(excinfo) -> NativeUnavailable | None:
    """The NativeUnavailable that ended a test or doctest, or None."""
    if excinfo is None:
        return None
    exc = excinfo.value
    if isinstance(exc, doctest.UnexpectedException):
        exc = exc.exc_info[1]
    return exc if isinstance(exc, NativeUnavailable) else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    exc = _unavailable(call.excinfo)
    if exc is None or not report.failed:
        return
    reason = " ".join(str(exc).split())
    if real_required(item.config):
        report.longrepr = (f"the real side is required here (CI=true or --require-real) "
                           f"but cannot be had: {reason}")
    else:
        _, lineno, _ = item.location
        report.outcome = "skipped"
        report.longrepr = (str(item.path), (lineno or 0) + 1, f"Skipped: {reason}")
