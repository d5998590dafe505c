"""Fixtures that reach the real side, opt-in slow tests and Hypothesis settings.

Every fixture here that needs the real side (the C compiler, the machine's glibc, a fetched glibc
release) raises memlab.native.NativeUnavailable, with its reason, when it cannot be had, and
nothing else: the root conftest.py turns that into a skip, or into a failure under CI=true.
"""

import os

import pytest

from memlab import native
from memlab.native import NativeUnavailable
from memlab.native.glibc_releases import ensure_release
from memlab.native.valgrind import valgrind as find_valgrind

__all__ = []

#: The release the hand-written traces, the reference numbers and the misuse messages are of.
REFERENCE_GLIBC = "2.36"

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
    _add_wine_option(parser)


def _add_wine_option(parser):
    parser.addoption(
        "--run-wine",
        action="store_true",
        default=False,
        help="also run the Windows checks under Wine, marked wine (same as MEMLAB_WINE=1; "
             "--run-slow runs them too)",
    )


def wine_wanted(config):
    """True when the Wine checks were asked for: --run-wine, MEMLAB_WINE=1 or --run-slow."""
    flag = os.environ.get("MEMLAB_WINE", "").strip().lower()
    return (config.getoption("--run-wine") or flag not in ("", "0", "false", "no")
            or slow_wanted(config))


def slow_wanted(config):
    """True when slow tests were asked for by --run-slow or MEMLAB_SLOW=1."""
    flag = os.environ.get("MEMLAB_SLOW", "").strip().lower()
    return config.getoption("--run-slow") or flag not in ("", "0", "false", "no")


def pytest_collection_modifyitems(config, items):
    if not wine_wanted(config):
        skip_wine = pytest.mark.skip(reason="Wine: run with --run-wine or MEMLAB_WINE=1 "
                                            "(MEMLAB_WINE=1 bash .ci/run installs Wine)")
        for item in items:
            if "wine" in item.keywords:
                item.add_marker(skip_wine)
    if slow_wanted(config):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow or MEMLAB_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def real_glibc() -> str:
    """The machine's glibc release, as the real replayer reports it (built on first use)."""
    return native.glibc_version()


@pytest.fixture(scope="session")
def glibc_236(real_glibc) -> str:
    """The machine's glibc, which must be 2.36: the release the reference traces were written for."""
    if real_glibc != REFERENCE_GLIBC:
        raise NativeUnavailable(f"this machine runs glibc {real_glibc}; these checks compare with "
                                f"the real glibc {REFERENCE_GLIBC}")
    return real_glibc


@pytest.fixture(scope="session")
def recorder():
    """memlab's LD_PRELOAD recorder, built."""
    return native.build("record")


@pytest.fixture(scope="session")
def release_root():
    """A function: release -> the unpacked root of that real glibc, fetched once and run once."""
    found = {}

    def root(release: str):
        if release not in found:
            try:
                path = ensure_release(release)
                got = native.glibc_version(path)
                if got != release:
                    raise NativeUnavailable(f"the library unpacked for glibc {release} says {got}")
                found[release] = path
            except NativeUnavailable as exc:
                found[release] = exc
        if isinstance(found[release], NativeUnavailable):
            raise found[release]
        return found[release]

    return root


@pytest.fixture(scope="session")
def glibc_i386() -> str:
    """The machine's 32-bit glibc (the replayer built with -m32), which must be 2.36 like the 64-bit one."""
    found = native.glibc_version(arch="i386")
    if found != REFERENCE_GLIBC:
        raise NativeUnavailable(f"this machine's i386 glibc is {found}; these checks compare with "
                                f"the real glibc {REFERENCE_GLIBC} for i386")
    return found


@pytest.fixture(scope="session")
def valgrind() -> str:
    """The valgrind program (Valgrind's memcheck checks leaks on the real replayer)."""
    return find_valgrind()
