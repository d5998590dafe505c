"""Threads on the real side: recorded multi-threaded programs replay to their own end state.

The truth is each program's own mallinfo2 (summed over arenas by glibc), which the recorder
writes as a comment at exit and the C program below also prints itself; the replayer
(memlab/native/replay.c) runs the recorded threads for real, one at a time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from memlab.errors import UsageError
from memlab.native import NativeError, NativeUnavailable, build, replay_native
from memlab.native.build import compile_c
from memlab.replay import Replayer
from memlab.trace import read_trace

ROOT = Path(__file__).parent.parent
COUNTERS = ["arena", "ordblks", "smblks", "hblks", "hblkhd", "fsmblks", "uordblks", "fordblks", "keepcost"]
OWN = re.compile(r"^# memlab record: mallinfo2 at exit (\{.*\})$", re.MULTILINE)

# Worker threads that allocate, free their own blocks and hand a third of them to the main
# thread, which frees them after joining; five at once (more stacks than glibc's 40 MiB
# cache keeps), then a second round that takes the arenas the first left on the free list.
WORKERS = r"""
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define W 5
#define N 1500
static void *shared[W][N];
static void *work(void *arg) {
    long w = (long)arg;
    unsigned x = 12345 + w;
    void *mine[64] = {0};
    for (int i = 0; i < N; i++) {
        x = x * 1103515245 + 12345;
        size_t sz = 16 + (x >> 16) % (w == 2 ? 70000 : 900);
        void *p = malloc(sz);
        memset(p, 1, sz < 64 ? sz : 64);
        if (i % 3 == 0) shared[w][i] = p;
        else { int k = (x >> 8) % 64; free(mine[k]); mine[k] = p; }
    }
    for (int k = 0; k < 64; k += 2) { free(mine[k]); mine[k] = 0; }
    return NULL;
}
static char line[256];
static int len;
static void num(unsigned long v) {
    char b[32]; int i = sizeof b; b[--i] = ' ';
    do { b[--i] = '0' + v % 10; v /= 10; } while (v);
    for (; i < (int)sizeof b; i++) line[len++] = b[i];
}
int main(void) {
    pthread_t t[W];
    void *keep = malloc(1000);
    for (long w = 0; w < W; w++) pthread_create(&t[w], NULL, work, (void *)w);
    for (int w = 0; w < W; w++) pthread_join(t[w], NULL);
    for (int w = 0; w < W; w++) for (int i = 0; i < N; i += 2) { free(shared[w][i]); shared[w][i] = 0; }
    for (long w = 0; w < 3; w++) pthread_create(&t[w], NULL, work, (void *)w);
    pthread_detach(t[2]);
    for (int w = 0; w < 2; w++) pthread_join(t[w], NULL);
    usleep(100000);       /* the detached one has long finished */
    free(keep);
    struct mallinfo2 m = mallinfo2();
    num(m.arena); num(m.ordblks); num(m.smblks); num(m.hblks); num(m.hblkhd); num(m.fsmblks);
    num(m.uordblks); num(m.fordblks); num(m.keepcost); line[len++] = '\n';
    write(1, line, len);
    return 0;
}
"""

POOL = """
from concurrent.futures import ThreadPoolExecutor
def work(n):
    d = {i: str(i) * (i % 7) for i in range(n)}
    return sum(len(v) for v in d.values())
with ThreadPoolExecutor(max_workers=3) as ex:
    print(sum(ex.map(work, [2000 + 37 * k for k in range(24)])))
"""


# A detached thread frees the main thread's blocks of 60 sizes into its own tcache, filling it,
# and returns; glibc's exit work empties that tcache into the main arena while the main thread,
# told the thread is leaving, goes on taking blocks of those sizes from that arena. The program
# prints its own end figures.
EXIT_RACE = r"""
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
enum { BINS = 60, N = 7 * BINS, M = 600, ROUNDS = 10 };
static void *blocks[N], *kept[ROUNDS][M];
static volatile int leaving;
static size_t size_of(int i) { return 8 + 16 * (i % BINS); }
static void *work(void *arg) {
    (void)arg;
    for (int i = 0; i < N; i++) free(blocks[i]);   /* into this thread's tcache, full */
    __atomic_store_n(&leaving, 1, __ATOMIC_RELEASE);
    return NULL;
}
int main(void) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < N; i++) blocks[i] = malloc(size_of(i));
        pthread_t t;
        leaving = 0;
        pthread_create(&t, &attr, work, NULL);
        while (!__atomic_load_n(&leaving, __ATOMIC_ACQUIRE))
            ;
        for (int i = 0; i < M; i++) kept[round][i] = malloc(size_of(i * 7));
        for (int i = 0; i < M; i += 2) free(kept[round][i]);
    }
    struct mallinfo2 m = mallinfo2();
    char line[96];     /* printf would allocate its buffer first */
    write(1, line, snprintf(line, sizeof line, "%zu %zu %zu %zu\n", m.arena, m.ordblks, m.smblks, m.fordblks));
    return 0;
}
"""

def record(out: Path, *command) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "memlab", "record", "-o", out, "--", *map(str, command)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc


def own_end(trace: Path) -> dict[str, int]:
    (found,) = OWN.findall(trace.read_text())
    return json.loads(found)


def replay_end(trace: Path) -> dict[str, int]:
    (end,) = [s for s in replay_native(trace) if s["label"] == "exit"]
    return end


@pytest.fixture(scope="module")
def workers(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("workers")
    (d / "workers.c").write_text(WORKERS)
    # -O0 -fno-builtin: the compiler must not drop malloc/free pairs it can see through
    return compile_c(d / "workers.c", ("-O0", "-fno-builtin", "-pthread"), name="threads-program")


@pytest.mark.usefixtures("recorder")
class TestRecordedThreads:
    def test_worker_threads_replay_to_the_programs_own_end(self, tmp_path, workers):
        """Eight threads, cross-thread frees, a cache overflow, a detached thread: the native replay's
        `exit` snapshot is the program's own mallinfo2, as it printed it and as the recorder wrote it."""
        trace = tmp_path / "w.trace"
        proc = record(trace, workers)
        printed = dict(zip(COUNTERS, map(int, proc.stdout.split())))
        own = own_end(trace)
        assert {k: own[k] for k in COUNTERS} == printed
        text = trace.read_text()
        parsed = read_trace(text)
        assert parsed.cpus == os.cpu_count()
        assert parsed.kinds.count("n") == 8 and parsed.kinds.count("x") == 8 and parsed.kinds.count("j") == 8
        assert "0 calls came from threads not started by pthread_create" in text
        assert "5 calls glibc made inside pthread_create" in text     # the DTVs of the first five
        end = replay_end(trace)
        assert {k: end[k] for k in COUNTERS} == printed
        assert printed["arena"] > 5 * 135168                         # the threads' own arenas are in it

    def test_python_thread_pool(self, tmp_path):
        """Python's ThreadPoolExecutor (detached threads, joined through Python's own locks)."""
        script = tmp_path / "pool.py"
        script.write_text(POOL)
        trace = tmp_path / "p.trace"
        record(trace, sys.executable, script)
        assert read_trace(trace.read_bytes()).kinds.count("n") == 3
        end, own = replay_end(trace), own_end(trace)
        assert {k: end[k] for k in COUNTERS} == {k: own[k] for k in COUNTERS}

    def test_xz_with_two_threads(self, tmp_path):
        """`xz -T2` compressing 4 MiB in 1 MiB blocks: two worker threads."""
        xz = shutil.which("xz")
        if xz is None:
            raise NativeUnavailable("xz is not installed (Debian package xz-utils)")
        data = tmp_path / "data"
        data.write_bytes(bytes((k * 7919 >> 3) & 0xFF for k in range(1 << 22)))
        trace = tmp_path / "x.trace"
        record(trace, xz, "-T2", "--block-size=1MiB", "-k", "-3", data)
        assert read_trace(trace.read_bytes()).kinds.count("n") == 2
        end, own = replay_end(trace), own_end(trace)
        assert {k: end[k] for k in COUNTERS} == {k: own[k] for k in COUNTERS}


@pytest.mark.usefixtures("recorder")
@pytest.mark.parametrize("arch", ["x86-64", "i386"])
def test_a_threads_exit_is_recorded_before_the_next_call(tmp_path, arch):
    """The next thread's call waits until an exiting thread is gone: its exit work lands before
    that call, as in a replay. Three recordings, each replayed to the program's own end."""
    if arch == "i386":
        build("record", "i386")
    (tmp_path / "race.c").write_text(EXIT_RACE)
    flags = ("-O0", "-fno-builtin", "-pthread") + (("-m32",) if arch == "i386" else ())
    exe = compile_c(tmp_path / "race.c", flags, name=f"exit-race-{arch}")
    for run in range(3):
        trace = tmp_path / f"r{run}.trace"
        printed = record(trace, exe).stdout.split()
        own, end = own_end(trace), replay_end(trace)
        assert [str(own[k]) for k in ("arena", "ordblks", "smblks", "fordblks")] == printed
        assert {k: end[k] for k in COUNTERS} == {k: own[k] for k in COUNTERS}, f"recording {run}"


CXX = r"""
#include <malloc.h>
#include <map>
#include <string>
#include <thread>
#include <vector>
int main() {
    std::vector<std::thread> ts;
    std::vector<std::map<int, std::string>> out(4);
    for (int w = 0; w < 4; w++)
        ts.emplace_back([w, &out] { for (int i = 0; i < 3000; i++) out[w][i * 7 % 1000] = std::string(i % 50, 'x'); });
    for (auto &t : ts) t.join();
    out[1].clear();
}
"""


# A thread whose own thread-specific-data destructor, in the last round (after the recorder wrote
# its x line), waits for a mutex the main thread holds while the main thread calls malloc.
EXIT_BLOCKED = r"""
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t key;
static volatile int rounds, blocked;
static void destructor(void *value) {
    if (++rounds < PTHREAD_DESTRUCTOR_ITERATIONS) { pthread_setspecific(key, value); return; }
    __atomic_store_n(&blocked, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&gate);
    pthread_mutex_unlock(&gate);
}
static void *work(void *arg) { pthread_setspecific(key, arg); free(malloc(100)); return NULL; }
int main(void) {
    pthread_key_create(&key, destructor);
    pthread_mutex_lock(&gate);
    pthread_t t;
    pthread_create(&t, NULL, work, (void *)1);
    while (!__atomic_load_n(&blocked, __ATOMIC_ACQUIRE))
        ;
    usleep(10000);             /* the thread is now waiting for the gate */
    void *p = malloc(200);     /* waits for the exiting thread, which waits for the gate */
    pthread_mutex_unlock(&gate);
    pthread_join(t, NULL);
    free(p);
    return 0;
}
"""


@pytest.mark.usefixtures("recorder")
def test_an_exit_that_waits_for_the_next_caller_is_not_a_deadlock(tmp_path):
    """The next caller stops waiting for an exiting thread after a second, takes the lock, and
    the trailer counts that exit as not awaited; the program finishes and every call is written."""
    (tmp_path / "blocked.c").write_text(EXIT_BLOCKED)
    exe = compile_c(tmp_path / "blocked.c", ("-O0", "-fno-builtin", "-pthread"), name="exit-blocked")
    trace = tmp_path / "b.trace"
    proc = subprocess.run([sys.executable, "-m", "memlab", "record", "-o", trace, "--", str(exe)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = trace.read_text()
    assert "1 exits not awaited (over 1 s)" in text
    assert "not in the trace, so a replay may differ: 1 thread exits not awaited" in proc.stderr
    kinds = read_trace(text).kinds
    assert (kinds.count("a"), kinds.count("f"), kinds.count("x"), kinds.count("j")) == (2, 2, 1, 1)


@pytest.mark.usefixtures("recorder")
def test_cxx_worker_threads(tmp_path):
    """A C++ program with std::thread: libstdc++ has thread-local storage (# tls 2), so its threads'
    DTVs are 16 bytes larger than with libc alone; the replay preloads one module to match."""
    gxx = shutil.which("g++")
    if gxx is None:
        raise NativeUnavailable("g++ is not installed")
    (tmp_path / "prog.cc").write_text(CXX)
    subprocess.run([gxx, "-O1", "-pthread", "-o", tmp_path / "prog", tmp_path / "prog.cc"], check=True,
                   capture_output=True)
    trace = tmp_path / "c.trace"
    record(trace, tmp_path / "prog")
    parsed = read_trace(trace.read_bytes())
    assert parsed.tls == 2 and parsed.kinds.count("n") == 4
    end, own = replay_end(trace), own_end(trace)
    assert {k: end[k] for k in COUNTERS} == {k: own[k] for k in COUNTERS}


class TestThreadFacts:
    """The numbers docs/trace-format.md states, measured on each release."""

    @pytest.mark.parametrize("release,created,first", [("2.36", 944, 3888), ("2.41", 944, 3888),
                                                       ("2.43", 288, 2480)])
    def test_dtv_arena_and_tcache(self, release_root, glibc_236, release, created, first):
        root = None if release == "2.36" else release_root(release)
        snaps = replay_native(read_trace("n 1\ns\nT 1\na 0 1\ns"), libc_dir=root)
        assert [s["uordblks"] for s in snaps] == [created, first]
        assert [s["arena"] for s in snaps] == [135168, 2 * 135168]

    @pytest.mark.parametrize("release", ["2.36", "2.41", "2.43"])
    def test_thread_stacks_are_not_in_rss(self, release_root, release):
        """A thread that starts and runs (its stack written) adds nothing to rss; its arena does."""
        root = None if release == "2.36" else release_root(release)
        snaps = replay_native(read_trace("a 0 1\ns\nn 1\nT 1\ns\nT 0\nx 1\nj 1\ns\nT 0\nn 2\nn 3\nT 2\na 1 1\ns"),
                              libc_dir=root)
        assert [s["rss"] for s in snaps] == [4096, 4096, 4096, 8192]

    @pytest.mark.parametrize("release", ["2.36", "2.41", "2.43"])
    def test_unmapped_stacks_count_again(self, release_root, release):
        """Seven joined stacks are more than glibc's 40 MiB cache keeps: it unmaps two, and blocks
        mapped later (perhaps where they were) are counted in rss to the byte."""
        root = None if release == "2.36" else release_root(release)
        body = "".join(f"n {i}\nT {i}\na {i} 1\nx {i}\nT 0\n" for i in range(1, 8))
        body += "".join(f"j {i}\n" for i in range(1, 8)) + "s joined\n"
        body += "".join(f"a {100 + k} 3000000\nw {100 + k}\n" for k in range(5)) + "s big\n"
        joined, big = replay_native(read_trace(body), libc_dir=root)
        assert joined["rss"] == 2 * 4096 and big["rss"] == joined["rss"] + big["hblkhd"]

    def test_joined_stack_is_reused_without_a_new_dtv(self):
        """Created again after a join, a thread gets the cached stack: no DTV; without the join, a new one."""
        joined = replay_native(read_trace("n 1\nx 1\nj 1\ns\nn 2\ns"))
        kept = replay_native(read_trace("n 1\nx 1\ns\nn 2\ns"))
        assert joined[1]["uordblks"] == joined[0]["uordblks"]
        assert kept[1]["uordblks"] == kept[0]["uordblks"] + 288

    def test_the_number_of_cpus_sets_the_arena_limit(self):
        """`# cpus N` on this machine's N runs as glibc does here; M_ARENA_MAX = 8 N gives the same."""
        n = os.cpu_count()
        body = "".join(f"n {t}\nT {t}\na {t} 1\nT 0\n" for t in range(1, 8 * n + 4)) + "s\n"
        native = replay_native(read_trace(f"# cpus {n}\n" + body))
        limited = replay_native(read_trace(f"o M_ARENA_MAX {max(8 * n, 9)}\n" + body))
        assert native[-1]["arena"] == limited[-1]["arena"] == max(8 * n, 9) * 135168
        one = replay_native(read_trace("# cpus 1\n" + body)) if n != 1 else limited
        assert one[-1]["arena"] == 9 * 135168

    @pytest.mark.parametrize("release", ["2.36", "2.41", "2.43"])
    def test_arenas_detail_sums_to_the_snapshot(self, release_root, glibc_236, release):
        """--arenas lists each arena (main, then the newest) and changes nothing else."""
        root = None if release == "2.36" else release_root(release)
        trace = read_trace("n 1\nT 1\na 0 1\nT 0\nn 2\nT 2\na 1 100000\nx 2\ns")
        plain, detailed = replay_native(trace, libc_dir=root), replay_native(trace, libc_dir=root, arenas=True)
        (arenas,) = [s.pop("arenas") for s in detailed]
        assert detailed == plain
        assert len(arenas) == 3 and arenas[1][1] > 100000 > arenas[2][1]
        assert [sum(a[k] for a in arenas) for k in (0, 1)] == [plain[0]["arena"], plain[0]["uordblks"]]

    def test_the_number_of_tls_modules_sizes_the_dtv(self, tmp_path):
        """`# tls 3`: the DTV chunk is 32 bytes larger; a replayer without the modules refuses."""
        one = replay_native(read_trace("n 1\ns"))[0]["uordblks"]
        three = replay_native(read_trace("# tls 3\nn 1\ns"))[0]["uordblks"]
        assert three == one + 32
        path = tmp_path / "t.trace"
        path.write_text("# tls 3\nn 1\n")
        proc = subprocess.run([build("replay"), path], capture_output=True, text=True)
        assert proc.returncode == 1 and "thread-local storage" in proc.stderr

    def test_another_cpu_count_with_arena_settings_is_refused(self, tmp_path):
        path = tmp_path / "t.trace"
        path.write_text(f"# cpus {os.cpu_count() + 1}\no M_ARENA_MAX 2\nn 1\n")
        with pytest.raises(NativeError, match="M_ARENA_TEST or M_ARENA_MAX"):
            replay_native(path)


def test_thread_lines_need_a_glibc_model():
    """A threaded trace runs on memlab's glibc model (memlab.glibc.threads); an allocator object
    without threads is refused, never replayed single-threaded."""
    with pytest.raises(UsageError, match="thread lines"):
        Replayer("n 1\nT 1\na 0 1\n", object())


def test_compare_runs_a_threaded_trace(tmp_path):
    path = tmp_path / "t.trace"
    path.write_text("n 1\nT 1\na 0 1\n")
    proc = subprocess.run([sys.executable, "-m", "memlab", "compare", path], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "AGREE" in proc.stdout
