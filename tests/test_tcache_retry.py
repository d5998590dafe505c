"""No room for the first tcache in the main arena: glibc's tcache_init retries in a second arena.

Even a process with one thread gets that arena (a 64 MiB heap on x86-64, 1 MiB on i386) when a
large M_TOP_PAD makes every path of the main arena fail; its later calls still run in the main
arena (SINGLE_THREAD_P). A replay then runs on the threaded model. The truth is the real glibc
replaying the same traces: every field after every operation, and each arena's pair.
"""

from __future__ import annotations

import random

import pytest

from differential import compare_trace
from strategies import HUGE_TOP_PADS, random_trace
from memlab.glibc import Malloc
from memlab.glibc.mallopt import M_TOP_PAD
from memlab.glibc.threads import Threads
from memlab.native import replay_native
from memlab.replay import Replayer
from memlab.trace import read_trace

#: (release, architecture) pairs with a real glibc here; 2.43 makes its tcache lazily, in the
#: first free that can use it, and has no such retry.
SIDES = [("2.36", "x86-64"), ("2.41", "x86-64"), ("2.43", "x86-64"), ("2.36", "i386")]


def pad_trace(seed: int) -> str:
    """A top pad (wrapping round, or larger than the address space), a few settings, then calls."""
    rng = random.Random(seed)
    pad = rng.choice(HUGE_TOP_PADS + [-2000000, 1500000000, rng.randint(-(1 << 31), (1 << 31) - 1)])
    lines = [f"o M_TOP_PAD {pad}"]
    if rng.random() < 0.3:
        lines.append(f"o M_MMAP_MAX {rng.choice([0, 1])}")
    if rng.random() < 0.3:
        lines.append(f"o M_MMAP_THRESHOLD {rng.choice([4096, 1 << 20, 1 << 24])}")
    return "\n".join(lines) + "\n" + random_trace(rng.randint(1, 30), seed, n_ids=8, max_size=3_000_000)


@pytest.fixture
def libc_of(request, release_root, glibc_236):
    def libc(release: str, arch: str):
        if arch == "i386":
            request.getfixturevalue("glibc_i386")
        return None if release == "2.36" else release_root(release)
    return libc


@pytest.mark.parametrize("release,arch", SIDES)
def test_traces_with_a_large_top_pad_agree(libc_of, release, arch):
    """Twelve seeded traces per side: every field after every operation, each arena's pair at the end."""
    libc = libc_of(release, arch)
    for seed in range(12):
        text = pad_trace(seed)
        out = compare_trace(text, every=1, check_every=1, name=f"seed {seed}", glibc=release,
                            libc_dir=libc, arch=arch)
        assert out.differences == [], text
        (real,) = replay_native(text.encode(), libc_dir=libc, arch=arch, arenas=True)
        r = Replayer(read_trace(text), Malloc(glibc=release, arch=arch), arenas=True)
        r.run()
        assert [list(p) for p in r.snapshots[-1].arenas] == real["arenas"], text


def test_the_second_arena_holds_the_tcache_and_the_calls_stay_in_the_main_one(glibc_236):
    """One thread, a wrapped top pad: two arenas, the second holding the tcache alone."""
    text = "o M_TOP_PAD -2000000\na 0 100\na 1 1000000\ns\n"
    (real,) = replay_native(text.encode(), arenas=True)
    r = Replayer(read_trace(text), Malloc())
    r.run()
    assert isinstance(r.malloc, Threads) and len(r.malloc.arenas) == len(real["arenas"]) == 2
    assert r.malloc.threads == (0,)
    assert [list(p) for p in r.malloc.arena_pairs()] == real["arenas"]
    assert r.malloc.arenas[1].mallinfo2().uordblks == real["arenas"][1][1]


def test_the_probe_leaves_the_model_it_was_given_untouched():
    m = Malloc()
    m.mallopt(M_TOP_PAD, -2000000)
    before = (m.mallinfo2(), m.space.rss, m.space.brk, len(list(m.space.mappings())))
    assert m.tcache_init_fails()
    assert (m.mallinfo2(), m.space.rss, m.space.brk, len(list(m.space.mappings()))) == before
    assert not Malloc().tcache_init_fails()


def test_a_plain_trace_stays_on_the_single_arena_model():
    r = Replayer(read_trace("o M_TOP_PAD 0\na 0 100\n"), Malloc())
    assert type(r.malloc) is Malloc
