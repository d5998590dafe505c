"""Heap misuse on glibc 2.36 for i386: the model aborts as the real 32-bit glibc does.

The same one-misuse-per-run program as tests/test_misuse.py (tests/misuse/misuse.c), built with
-m32 and run on the machine's i386 glibc; every case there and a run of random misuses, each
judged by what the real 32-bit program does (its message, a crash, or nothing), never by a
message written here: offsets such as p + 8 mean other things with 4-byte words.
"""

from __future__ import annotations

import signal

import pytest

from memlab.errors import MallocAbort
from memlab.native.build import compile_c
from memlab.space import SegmentationFault

from test_misuse import CASES, LINK_WORDS, SOURCE, random_misuse, run_model, run_real, view

pytestmark = pytest.mark.usefixtures("glibc_i386")


@pytest.fixture(scope="module")
def probe32(glibc_i386):
    """tests/misuse/misuse.c built for i386."""
    return compile_c(SOURCE, ("-O0", "-fno-builtin", "-m32"), name="misuse32")


def _judge(probe32, steps: list[str]):
    """(agrees, real outcome, model exception), with the model's state checked unchanged."""
    proc = run_real(probe32, steps)
    m, exc, before = run_model(steps, arch="i386")
    real_line = proc.stderr.decode().rstrip("\n")
    if proc.returncode == -signal.SIGABRT:
        agrees = isinstance(exc, MallocAbort) and str(exc) == real_line
    elif proc.returncode == -signal.SIGSEGV:
        agrees = isinstance(exc, SegmentationFault)
    else:
        assert proc.returncode == 0, (proc.returncode, proc.stderr)
        agrees = not isinstance(exc, MallocAbort)
    if exc is not None:
        assert view(m) == before, f"{' '.join(steps)}: the misuse changed the model's state"
        m.check()
    return agrees, (proc.returncode, real_line), exc


def test_the_probe_is_a_32_bit_program(probe32):
    assert probe32.read_bytes()[4] == 1          # ELFCLASS32


@pytest.mark.parametrize("name", sorted(n for n, (steps, _) in CASES.items()
                                        if not any(s.startswith("W") for s in steps)))
def test_each_case_is_judged_as_the_real_i386_glibc_does(probe32, name):
    steps, _ = CASES[name]
    agrees, real, exc = _judge(probe32, steps)
    assert agrees, f"real {real}, model {exc!r}"


@pytest.mark.parametrize("seed", range(200))
def test_random_misuse_agrees_on_i386(probe32, seed):
    steps = random_misuse(seed)
    if steps is None:
        pytest.skip("the random prefix left no block to misuse")
    agrees, real, exc = _judge(probe32, steps)
    if (not agrees and steps[-1].startswith("F") and isinstance(exc, MallocAbort)
            and str(exc) == "free(): invalid pointer"):
        pytest.xfail(LINK_WORDS)
    assert agrees, f"{' '.join(steps)}: real {real}, model {exc!r}"
