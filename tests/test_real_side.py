"""A real side that cannot be had is a skip with its reason, and under CI=true a failure.

Each check runs pytest in a child process with CC=/bin/false (a compiler that always fails)
and a fresh cache, so nothing built earlier can stand in for the build.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: A test that needs the real replayer, and a doctest that needs it.
TARGETS = ["tests/test_native.py::TestRunner::test_glibc_version_of_this_machine",
           "memlab/native/runner.py::memlab.native.runner.glibc_version"]


def run_pytest(tmp_path: Path, ci: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CC="/bin/false", CI=ci, MEMLAB_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rsf", "-p", "no:cacheprovider",
                           *extra, *TARGETS], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_a_broken_compiler_skips_with_its_reason(tmp_path):
    proc = run_pytest(tmp_path, "")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert proc.stdout.count("SKIPPED") == 2, proc.stdout[-3000:]
    assert "compiling replay.c with /bin/false failed" in proc.stdout


@pytest.mark.parametrize("ci, extra", [("true", ()), ("", ("--require-real",))])
def test_a_broken_compiler_fails_under_ci(tmp_path, ci, extra):
    proc = run_pytest(tmp_path, ci, *extra)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert proc.stdout.count("FAILED") == 2 and "SKIPPED" not in proc.stdout, proc.stdout[-3000:]
    assert "the real side is required here" in proc.stdout
    assert "compiling replay.c with /bin/false failed" in proc.stdout
