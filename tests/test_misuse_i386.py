"""Heap misuse on glibc 2.36 for i386: the model aborts as the real 32-bit glibc does.

The same one-misuse-per-run program as tests/test_misuse.py (tests/misuse/misuse.c), built with
-m32 and run on the machine's i386 glibc; every case there and a run of random misuses, each
judged by what the real 32-bit program does (its message, a crash, or nothing), never by a
message written here: offsets such as p + 8 mean other things with 4-byte words.
"""

from __future__ import annotations

import pytest

from memlab.native.build import compile_c

from test_misuse import CASES, SOURCE, judge_random, random_misuse

pytestmark = pytest.mark.usefixtures("glibc_i386")


@pytest.fixture(scope="module")
def probe32(glibc_i386):
    """tests/misuse/misuse.c built for i386."""
    return compile_c(SOURCE, ("-O0", "-fno-builtin", "-m32"), name="misuse32")


def test_the_probe_is_a_32_bit_program(probe32):
    assert probe32.read_bytes()[4] == 1          # ELFCLASS32


@pytest.mark.parametrize("name", sorted(n for n, (steps, _) in CASES.items()
                                        if not any(s.startswith("W") for s in steps)))
def test_each_case_is_judged_as_the_real_i386_glibc_does(probe32, name):
    judge_random(probe32, CASES[name][0], "i386")


@pytest.mark.parametrize("seed", range(200))
def test_random_misuse_agrees_on_i386(probe32, seed):
    steps = random_misuse(seed)
    if steps is None:
        pytest.skip("the random prefix left no block to misuse")
    judge_random(probe32, steps, "i386")
