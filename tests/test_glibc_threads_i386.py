"""The threaded model built for i386 against the real glibc 2.36 for i386 (the replayer built
with -m32).

What changes from x86-64 (memlab.glibc.arch): a non-main heap reserves 1 MiB (HEAP_MAX_SIZE),
heap_info is 24 bytes and struct malloc_state 1116, glibc allows 2 arenas per CPU (and
M_ARENA_TEST is 2), a DTV entry is 8 bytes. Every trace runs on the model (its invariants
checked after each operation) and on the real replayer; every snapshot must agree in every
field, rss included. The generated traces are tests/strategies.py's, as for x86-64.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from differential import compare_trace
from memlab.glibc import Malloc
from memlab.glibc.arch import I386
from memlab.glibc.threads import Threads
from memlab.native import replay_native
from memlab.replay import Replayer
from memlab.trace import read_trace
from strategies import threaded_trace, threaded_traces

pytestmark = pytest.mark.usefixtures("glibc_236", "glibc_i386")

COMPARED = {"traces": 0, "snapshots": 0}   # printed at the end of the module's run (-s shows it)


@pytest.fixture(scope="module", autouse=True)
def _count():
    yield
    print(f"\ni386 threaded traces compared: {COMPARED['traces']}, snapshots: {COMPARED['snapshots']}")


def differences(text: str, check_every: int | None = 1) -> list[str]:
    """Replay `text` on the i386 model and the real i386 glibc; the snapshots that differ."""
    out = compare_trace(text, every=1, check_every=check_every, arch="i386", name="i386")
    COMPARED["traces"] += 1
    COMPARED["snapshots"] += len(out.real)
    return out.differences


def _slow(request) -> bool:
    return request.config.getoption("--run-slow")


def _threads(n: int, size: int, first: int = 1) -> str:
    """Threads `first`..`first + n - 1` created and each making one block of `size` bytes."""
    return "".join(f"n {t}\nT {t}\na {t} {size}\ns\n" for t in range(first, first + n))


FACTS = {
    "a thread's first malloc makes its arena in a 1 MiB-aligned heap, after 24 bytes of "
    "heap_info and 1116 of malloc_state":
        "a 0 100\ns\nn 1\ns\nT 1\na 1 100\ns\na 2 200000\ns\na 3 30000\ns\n",
    "with 1 CPU: M_ARENA_TEST (2) arenas, then 2 per CPU (3 in all), then reuse in list order":
        "# cpus 1\n" + _threads(8, 5000),
    "with 2 CPUs: 4 arenas, then reuse": "# cpus 2\n" + _threads(10, 3000),
    "with 3 CPUs: 6 arenas": "# cpus 3\n" + _threads(9, 200),
    "the machine's CPUs": _threads(12, 700),
    "cross-thread frees: to the freeing thread's tcache, its fastbins' arena, or the owner's bins":
        "n 1\nn 2\nT 1\n" + "".join(f"a {i} {i * 37 + 5}\n" for i in range(40))
        + "T 2\n" + "".join(f"f {i}\ns\n" for i in range(0, 40, 3))
        + "T 0\n" + "".join(f"f {i}\ns\n" for i in range(1, 40, 3)) + "T 1\na 100 50\ns\n",
    "a heap fills, grows by mprotect, then second and third heaps open; frees unmap them "
    "(heap_trim) and shrink the first":
        "n 1\nT 1\n" + "".join(f"a {i} 100000\ns\n" for i in range(25))
        + "".join(f"f {i}\ns\n" for i in reversed(range(25))) + "t 0\ns\n",
    "frees from the bottom: the top heap shrinks only once its top chunk passes the trim threshold":
        "n 1\nT 1\n" + "".join(f"a {i} 90000\n" for i in range(20)) + "s\n"
        + "".join(f"f {i}\ns\n" for i in range(20)),
    "a larger mmap threshold (up to 512 KiB) puts big blocks in the arena's heaps":
        "o M_MMAP_THRESHOLD 524288\nn 1\nT 1\n" + "".join(f"a {i} {400000 + 1000 * i}\ns\n" for i in range(6))
        + "f 2\ns\nf 5\ns\nf 4\ns\nt 4096\ns\n",
    "with a 32 MiB mmap threshold an 8 MiB block comes from the break in the main arena, from "
    "its own mapping in a thread's (no 1 MiB heap holds it)":
        "o M_MMAP_THRESHOLD 33554432\na 9 8000000\ns\nn 1\nT 1\na 0 8000000\na 1 600000\ns\n"
        "f 0\nf 1\ns\nT 0\nf 9\ns\n",
    "malloc_trim walks every arena; M_TOP_PAD and M_TRIM_THRESHOLD set in a thread are the "
    "process's":
        "n 1\nn 2\nT 1\no M_TOP_PAD 0\no M_TRIM_THRESHOLD 1048576\n"
        + "".join(f"a {i} 60000\n" for i in range(30)) + "T 2\n"
        + "".join(f"a {i} 60000\n" for i in range(30, 50)) + "s\n"
        + "".join(f"f {i}\n" for i in range(0, 50, 2)) + "s\nt 0\ns\nT 0\nt 65536\ns\n",
    "thread exit empties its tcache; the arena goes to the free list and a new thread takes it":
        "n 1\nT 1\n" + "".join(f"a {i} {8 * i + 4}\n" for i in range(1, 40))
        + "".join(f"f {i}\n" for i in range(1, 40)) + "s\nx 1\ns\nT 0\nj 1\ns\nn 2\nT 2\na 0 10\ns\n",
    "M_MXFAST 0 consolidates the main arena only: a thread's arena keeps its fastbin chunks":
        "n 1\nT 1\n" + "".join(f"a {i} 40\n" for i in range(20)) + "".join(f"f {i}\n" for i in range(20))
        + "s\no M_MXFAST 0\ns\na 100 40\na 101 20\nf 101\ns\na 102 3000\ns\n",
    "exit, join and re-creation: cached stacks are reused with their DTVs; past 40 MiB the "
    "joining thread frees the oldest DTVs":
        "".join(f"n {t}\nT {t}\na {t} 40\nx {t}\nT 0\nj {t}\ns\n" for t in range(1, 9))
        + _threads(3, 10, first=20) + "x 21\nT 20\nj 21\nn 21\nT 21\na 99 10\ns\n",
    "an exited thread's join waits for the next running thread":
        "n 1\nn 2\nT 1\na 1 10\nx 1\nT 2\nj 1\na 2 20\ns\nx 2\nT 0\nj 2\ns\n",
    "M_ARENA_MAX set in a thread caps the arenas":
        "n 1\nT 1\no M_ARENA_MAX 2\na 1 10\n" + _threads(3, 10, first=2) + "T 2\nf 3\nf 1\ns\n",
    "M_ARENA_TEST 1: the limit is counted from the second arena":
        "o M_ARENA_TEST 1\n" + _threads(6, 100),
    "calloc, memalign, realloc on threads; a realloc that grows into a new heap":
        "n 1\nT 1\nc 0 100 100\nm 1 4096 5000\nr 0 30000\no M_MMAP_THRESHOLD 4096\na 2 5000\ns\n"
        "T 0\nr 0 100\nf 1\nt 0\ns\nT 1\no M_MMAP_THRESHOLD 524288\na 3 500000\nr 3 900000\ns\n"
        "m 4 65536 200000\ns\nr 4 700000\ns\n",
    "requests no i386 size_t holds or ptrdiff_t refuses: NULL, no arena for a new thread":
        "n 1\nT 1\na 0 4294967296\nc 1 3 1000000000\nm 2 64 3000000000\ns\na 3 10\ns\n",
    "32-bit addresses filled (27 blocks of 100 MB, 150 of 1 MB): the threads' heaps are mapped "
    "below the program":
        "".join(f"a {i} 100000000\n" for i in range(27)) + "s\n"
        + "".join(f"a {100 + i} 1000000\n" for i in range(150)) + "s\n"
        + "".join(f"n {t}\nT {t}\n" + "".join(f"a {1000 * t + i} 100000\n" for i in range(12)) + "s\n"
                  for t in range(1, 4))
        + "T 0\n" + "".join(f"f {i}\n" for i in range(0, 27, 3)) + "s\nT 2\n"
        + "".join(f"a {9000 + i} 60000\n" for i in range(40)) + "s\n",
    "a calloc that fails in the main arena once threads exist moves the main thread to an arena":
        "n 1\nc 0 1 2147483647\ns\na 1 100\ns\nT 1\na 2 100\ns\n",
}


@pytest.mark.parametrize("name", list(FACTS))
def test_i386_threads_agree_with_glibc(name):
    assert differences(FACTS[name]) == []


def test_i386_arena_detail_agrees_with_malloc_stats():
    """Per arena, at every snapshot: the system and in-use bytes glibc's malloc_stats() prints."""
    for name in list(FACTS)[:3] + list(FACTS)[6:8]:
        text = FACTS[name]
        real = [s["arenas"] for s in replay_native(text.encode(), every=1, arch="i386", arenas=True)]
        model = []
        r = Replayer(read_trace(text), Malloc(arch="i386"), every=1,
                     sink=lambda s: model.append([list(p) for p in r.malloc.arena_pairs()]))
        r.run()
        assert model == real, name


def test_i386_figures_are_the_ones_observed():
    """The figures the model reads for i386, seen on the real glibc: a new arena's first heap
    holds heap_info and malloc_state (1140 bytes) before its top chunk, and a 1 MiB heap."""
    first = replay_native(b"n 1\nT 1\na 0 1\ns\n", arch="i386", arenas=True)[0]["arenas"][1]
    # system bytes: top_pad + the request's chunk + the header, page-rounded; in use: the
    # header, its alignment pad, the tcache chunk and a 16-byte chunk
    assert first == [135168, 1144 + I386.tcache_chunk_size + 16]
    assert (I386.heap_info_bytes, I386.malloc_state_bytes(), I386.heap_max_size) == (24, 1116, 1 << 20)
    t = Threads(glibc="2.36", arch="i386", cores=1)
    for tid in range(1, 6):
        t.create(tid)
        t.switch(tid)
        t.malloc(10)
    assert (len(t.arenas), t.arena_limit) == (3, 2)


# ---------------------------------------------------------------------------- generated traces

def test_i386_hypothesis_threaded_traces(request):
    """Hypothesis traces of 1-20 threads (tests/strategies.py's, as for x86-64)."""
    n = 300 if _slow(request) else 15

    @settings(max_examples=n, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(threaded_traces())
    def check(text):
        assert differences(text) == [], text

    check()


def test_i386_heavy_threaded_traces(request):
    """Seeded traces with heavy traffic: 1 MiB heaps fill, open, trim and go away; stacks are
    cached and freed; the arena limit (2 per CPU) is passed; blocks of up to 8 MiB take up to
    2.6 GB of the 32-bit addresses (with --run-slow, seed 3 maps some below the program)."""
    seeds = range(30) if _slow(request) else range(2)
    for seed in seeds:
        text = threaded_trace(500 if _slow(request) else 150, seed=seed)
        assert differences(text, check_every=25) == [], f"seed {seed}"


def test_i386_worker_threads_scenario():
    """The scenario behind resident memory growing with threads, and M_ARENA_MAX capping it."""
    from memlab.scenarios import worker_threads

    for threads, arena_max in [(4, 0), (6, 1)]:
        assert differences(worker_threads(threads, arena_max), check_every=500) == []
