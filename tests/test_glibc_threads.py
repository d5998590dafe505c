"""The threaded model (memlab.glibc.threads) against the real glibc's threads.

Every trace runs on the model (its invariants checked after each operation, over every arena and
thread) and on the real replayer, which runs one real thread per `n` line in the trace's order;
every snapshot must agree in every field, on the machine's glibc 2.36 and on 2.41 and 2.43.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from differential import compare_trace
from memlab.glibc import Malloc
from memlab.glibc.threads import Threads, ThreadError
from memlab.native import replay_native
from memlab.replay import Replayer, replay
from memlab.trace import read_trace
from strategies import threaded_trace, threaded_traces

RELEASES = ("2.36", "2.41", "2.43")


COMPARED = {"traces": 0, "snapshots": 0}   # printed at the end of the module's run (-s shows it)


@pytest.fixture(scope="module", autouse=True)
def _count():
    yield
    print(f"\nthreaded traces compared: {COMPARED['traces']}, snapshots: {COMPARED['snapshots']}")


@pytest.fixture
def real(request, release_root, glibc_236):
    """A function: (trace text, release) -> the differences between model and real glibc."""
    def run(text: str, release: str, check_every: int | None = 1, ignore: tuple = ()) -> list[str]:
        libc = None if release == "2.36" else release_root(release)
        out = compare_trace(text, every=1, check_every=check_every, glibc=release, libc_dir=libc,
                            name=release, ignore=ignore)
        COMPARED["traces"] += 1
        COMPARED["snapshots"] += len(out.real)
        return out.differences
    return run


def _slow(request) -> bool:
    return request.config.getoption("--run-slow")


# ---------------------------------------------------------------------------- facts, on all releases

FACTS = {
    "a thread's first malloc makes its arena (a 64 MiB-aligned heap) and its tcache there":
        "a 0 100\ns\nn 1\ns\nT 1\na 1 100\ns\na 2 200000\ns\n",
    "a block freed on another thread goes to the freeing thread's tcache, or to its own arena":
        "n 1\nT 1\na 0 100\na 1 2000\na 2 70000\nT 0\nf 0\ns\nf 1\ns\nf 2\ns\n",
    "thread exit empties its tcache into the arenas that own the chunks; the arena goes to the "
    "free list and the next new thread takes it":
        "n 1\nT 1\n" + "".join(f"a {i} {16 * i + 8}\n" for i in range(1, 30))
        + "".join(f"f {i}\n" for i in range(1, 30)) + "s\nx 1\ns\nT 0\nj 1\ns\nn 2\nT 2\na 0 10\ns\n",
    "with 1 CPU, the ninth thread that allocates gets no arena of its own but the next in order":
        "# cpus 1\n" + "".join(f"n {t}\nT {t}\na {t} 5000\ns\n" for t in range(1, 13)),
    "M_ARENA_MAX set in a thread caps the arenas":
        "n 1\nT 1\no M_ARENA_MAX 2\na 1 10\nn 2\nT 2\na 2 10\nn 3\nT 3\na 3 10\ns\nT 2\nf 3\nf 1\ns\n",
    "a heap that fills grows by mprotect, then a second heap opens; freeing it all unmaps it":
        "n 1\nT 1\n" + "".join(f"a {i} 8000000\ns\n" for i in range(12))
        + "".join(f"f {i}\ns\n" for i in reversed(range(12))) + "t 0\ns\n",
    "an arena whose new heap heap_trim unmaps at once (the old top, freed, is 64 KiB or more) "
    "fails the call, which the main arena then serves":
        "n 1\nT 1\no M_TOP_PAD 0\no M_MMAP_THRESHOLD 33554432\no M_TRIM_THRESHOLD 1073741824\n"
        + "".join(f"a {i} 7900000\n" for i in range(8)) + "f 7\ns\na 100 12000000\ns\n",
    "joined stacks beyond 40 MiB are freed with their DTVs, by the joining thread":
        "".join(f"n {t}\nT {t}\na {t} 40\nx {t}\nT 0\nj {t}\ns\n" for t in range(1, 8))
        + "n 20\nT 20\na 100 10\ns\n",
    "a calloc that fails in the main arena once threads exist moves the main thread to an arena":
        "n 1\nc 0 1 4611686018427387904\ns\na 1 100\ns\nT 1\na 2 100\ns\n",
    "calloc, memalign, realloc and malloc_trim on threads; mallopt on a thread is the process's":
        "n 1\nT 1\nc 0 100 100\nm 1 4096 5000\nr 0 30000\no M_MMAP_THRESHOLD 4096\na 2 5000\ns\n"
        "T 0\nr 0 100\nf 1\nt 0\ns\n",
}


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("name", list(FACTS))
def test_threads_agree_with_glibc(real, release, name):
    assert real(FACTS[name], release) == []


# ---------------------------------------------------------------------------- generated traces

@pytest.mark.parametrize("release", RELEASES)
def test_hypothesis_threaded_traces(request, real, release):
    """Hypothesis traces of 1-20 threads: creation, exit, join, cross-thread frees, mallopt in a
    thread, more threads than the arena limit."""
    n = 200 if _slow(request) else 12

    @settings(max_examples=n, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(threaded_traces())
    def check(text):
        assert real(text, release) == [], text

    check()


@pytest.mark.parametrize("release", RELEASES)
def test_heavy_threaded_traces(request, real, release):
    """Seeded traces with heavy traffic: heaps grow, open, trim and go away; stacks are cached
    and freed; the arena limit is passed."""
    seeds = range(20) if _slow(request) else range(1)
    for seed in seeds:
        text = threaded_trace(150 if not _slow(request) else 500, seed=seed)
        assert real(text, release, check_every=25) == [], f"seed {seed}"


@pytest.mark.parametrize("release", RELEASES)
def test_arena_detail_agrees_with_malloc_stats(release_root, glibc_236, release):
    """Per arena, at every snapshot: the system and in-use bytes glibc's malloc_stats() prints."""
    libc = None if release == "2.36" else release_root(release)
    for text in (FACTS[name] for name in list(FACTS)[2:5]):
        real = [s["arenas"] for s in replay_native(text.encode(), every=1, libc_dir=libc, arenas=True)]
        model = []
        r = Replayer(read_trace(text), Malloc(glibc=release), every=1,
                     sink=lambda s: model.append([list(p) for p in r.malloc.arena_pairs()]))
        r.run()
        assert model == real


@pytest.mark.parametrize("threads,arena_max", [(1, 0), (4, 0), (4, 1), (12, 0), (12, 2)])
def test_worker_threads_scenario(real, threads, arena_max):
    """The scenario behind resident memory growing with threads, and M_ARENA_MAX capping it."""
    from memlab.scenarios import worker_threads

    assert real(worker_threads(threads, arena_max), "2.36", check_every=500) == []


def test_resident_memory_grows_with_threads(glibc_236):
    """On the real glibc: four workers hold more than three times one worker's resident memory
    in their own arenas, and less than twice when M_ARENA_MAX 1 makes them share one."""
    from memlab.scenarios import worker_threads

    def working(**k):
        return [s for s in replay_native(worker_threads(**k).encode()) if s["label"] == "working"][0]

    one, four, shared = working(threads=1), working(threads=4), working(threads=4, arena_max=1)
    assert four["rss"] > 3 * one["rss"] and shared["rss"] < 2 * one["rss"]


# ---------------------------------------------------------------------------- the model alone

def test_arena_bookkeeping():
    t = Threads(cores=1)
    for tid in range(1, 11):
        t.create(tid)
        t.switch(tid)
        t.malloc(10)
    assert len(t.arenas) == 9 and t.arena_limit == 8     # M_ARENA_TEST arenas before the limit
    # reused in glibc's list order: main, then the newest
    assert (t.arenas[0].threads, t.arenas[8].threads) == ((0, 9), (8, 10))
    t.switch(0)
    t.exit(8)
    t.exit(10)
    assert t.free_list == (8,)
    t.check()


def test_thread_lines_in_a_replay_need_the_model():
    snaps = replay("n 1\nT 1\na 0 1\n", lambda: Malloc(glibc="2.41"))
    assert snaps[-1].uordblks == 3888


def test_bad_thread_calls_change_nothing():
    t = Threads()
    with pytest.raises(ThreadError, match="already exists"):
        t.create(0)
    with pytest.raises(ThreadError, match="not running"):
        t.switch(5)
    with pytest.raises(ThreadError, match="main thread"):
        t.exit(0)
    with pytest.raises(ThreadError, match="not exited"):
        t.create(1) or t.join(1)
    assert t.threads == (0, 1)
    assert t.mallinfo2() == replay_native_free_model()


def replay_native_free_model():
    """The model's figures after one thread creation (the DTV calloc) on a fresh process."""
    t = Threads()
    t.create(1)
    return t.mallinfo2()


def test_the_dtv_calloc_is_real(glibc_236):
    """`n 1` alone: the creating thread's tcache and the DTV, as on the real glibc."""
    (snap,) = replay_native(b"n 1\n")
    mi = replay_native_free_model()
    assert (snap["uordblks"], snap["arena"]) == (mi.uordblks, mi.arena) == (944, 135168)


# ---------------------------------------------------------------------------- recorded programs

@pytest.mark.usefixtures("recorder", "glibc_236")
class TestRecordedPrograms:
    """Real multi-threaded programs recorded at test time: the model's replay ends in the
    program's own exit mallinfo2, and equals the real replay at every 97th operation."""

    def _check(self, trace):
        from test_record_threads import COUNTERS, own_end

        out = compare_trace(trace, every=97, check_every=None, name=trace.name)
        COMPARED["traces"] += 1
        COMPARED["snapshots"] += len(out.real)
        assert out.differences == []
        end = out.model[-1]
        own = own_end(trace)
        assert {k: end[k] for k in COUNTERS} == {k: own[k] for k in COUNTERS}

    def test_c_worker_threads(self, tmp_path):
        from memlab.native.build import compile_c
        from test_record_threads import WORKERS, record

        (tmp_path / "workers.c").write_text(WORKERS)
        exe = compile_c(tmp_path / "workers.c", ("-O0", "-fno-builtin", "-pthread"), name="threads-program")
        record(tmp_path / "w.trace", exe)
        self._check(tmp_path / "w.trace")

    def test_python_thread_pool(self, tmp_path):
        import sys

        from test_record_threads import POOL, record

        (tmp_path / "pool.py").write_text(POOL)
        record(tmp_path / "p.trace", sys.executable, tmp_path / "pool.py")
        self._check(tmp_path / "p.trace")

    def test_cxx_worker_threads(self, tmp_path):
        import shutil
        import subprocess

        from memlab.native import NativeUnavailable
        from test_record_threads import CXX, record

        gxx = shutil.which("g++")
        if gxx is None:
            raise NativeUnavailable("g++ is not installed")
        (tmp_path / "prog.cc").write_text(CXX)
        subprocess.run([gxx, "-O1", "-pthread", "-o", tmp_path / "prog", tmp_path / "prog.cc"],
                       check=True, capture_output=True)
        record(tmp_path / "c.trace", tmp_path / "prog")
        self._check(tmp_path / "c.trace")

    def test_xz_with_two_threads(self, tmp_path):
        import shutil

        from memlab.native import NativeUnavailable
        from test_record_threads import record

        xz = shutil.which("xz")
        if xz is None:
            raise NativeUnavailable("xz is not installed (Debian package xz-utils)")
        data = tmp_path / "data"
        data.write_bytes(bytes((k * 7919 >> 3) & 0xFF for k in range(1 << 22)))
        record(tmp_path / "x.trace", xz, "-T2", "--block-size=1MiB", "-k", "-3", data)
        self._check(tmp_path / "x.trace")


def test_timeline_follows_every_arena():
    """The timeline (charts) reads the whole process, as snapshots do."""
    from memlab.replay import timeline

    text = FACTS["a block freed on another thread goes to the freeing thread's tcache, or to its own arena"]
    end = replay(text, Malloc)[-1]
    t = timeline(text, Malloc, progress=None)
    assert (t.arena[-1], t.uordblks[-1], t.rss[-1]) == (end.arena, end.uordblks, end.rss)
