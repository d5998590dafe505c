"""Recording 32-bit (i386) programs: the recorder is built with -m32 for them, the trace says
`# arch i386`, and replaying it ends in the program's own heap state.

The truth is each program's own mallinfo2 at its end: the C program below prints it itself
(with write(2), so that printing allocates nothing), and the recorder writes it as a comment
at exit. The real side is the replayer built with -m32 on the machine's i386 glibc
(`replay --native --arch i386`); the model side is `memlab.glibc.Malloc(arch="i386")`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from memlab import cli
from memlab.native import build, replay_native
from memlab.native.build import compile_c
from memlab.native.recorder import elf_arch
from memlab.trace import read_trace

pytestmark = pytest.mark.usefixtures("glibc_i386")

ROOT = Path(__file__).parent.parent
COUNTERS = ["arena", "ordblks", "smblks", "hblks", "hblkhd", "fsmblks", "uordblks", "fordblks", "keepcost"]
OWN = re.compile(r"^# memlab record: mallinfo2 at exit (\{.*\})$", re.MULTILINE)

# One program, one way of using the heap per argument; at its end it prints its own mallinfo2.
PROGRAM = r"""
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static char line[256];
static int len;
static void num(unsigned long long v) {
    char b[32]; int i = sizeof b; b[--i] = ' ';
    do { b[--i] = '0' + v % 10; v /= 10; } while (v);
    for (; i < (int)sizeof b; i++) line[len++] = b[i];
}
static void show(void) {
    struct mallinfo2 m = mallinfo2();
    len = 0; line[len++] = 'P';
    num(m.arena); num(m.ordblks); num(m.smblks); num(m.hblks); num(m.hblkhd); num(m.fsmblks);
    num(m.uordblks); num(m.fordblks); num(m.keepcost); line[len++] = '\n';
    write(1, line, len);
}
static unsigned seed = 12345;
static unsigned next(void) { seed = seed * 1103515245 + 12345; return seed >> 8; }
static void *p[20000];

/* malloc, free, realloc, calloc and the aligned allocators, mixed */
static void patterns(void) {
    for (int k = 0; k < 6000; k++) {
        unsigned r = next();
        int i = r % 500, op = (r >> 9) % 10;
        size_t n = (r >> 13) % 7 == 0 ? (r >> 4) % 200000 : (r >> 4) % 3000;
        if (op < 3) { free(p[i]); p[i] = malloc(n); }
        else if (op < 5) { free(p[i]); p[i] = 0; }
        else if (op < 7) { void *q = realloc(p[i], n); if (q || !n) p[i] = q; }
        else if (op < 8) { free(p[i]); p[i] = calloc(1 + r % 3, n); }
        else if (op < 9) { free(p[i]); p[i] = memalign(8 << (r % 5), n); }
        else { free(p[i]); if (posix_memalign(&p[i], 64, n)) p[i] = 0; }
        if (k == 3000) malloc_trim(0);
    }
    p[500] = valloc(1000); p[501] = pvalloc(5000); p[502] = aligned_alloc(128, 1280);
}

/* a heap of some 20 MB in small blocks, most of it freed: the top is given back */
static void bigfree(void) {
    for (int i = 0; i < 20000; i++) p[i] = malloc(500 + (next() % 1000));
    for (int i = 0; i < 20000; i++)
        if (i >= 8000 || i % 97 != 0) { free(p[i]); p[i] = 0; }
    p[0] = malloc(40);
}

/* blocks above the mmap threshold; freeing one raises the threshold (up to i386's cap) */
static void mmapped(void) {
    p[0] = malloc(200000);
    p[1] = malloc(1 << 20);
    p[2] = calloc(1, 300000);
    free(p[0]);                    /* the threshold rises to this chunk's size */
    p[0] = malloc(200000);         /* now from the heap */
    free(p[1]);                    /* above the cap: the threshold stays */
    p[1] = malloc(1 << 20);
    p[3] = malloc(100);
}

/* one buffer grown by realloc, half as much again each time, past the mmap threshold */
static void growth(void) {
    char *buf = 0;
    int k = 0;
    for (size_t n = 16; n < (6u << 20); n = n * 3 / 2 + 1, k++) {
        buf = realloc(buf, n);
        memset(buf + n - 1, 1, 1);
        if (k % 4 == 0) p[k] = malloc(64 + k);    /* sometimes in the way of growing in place */
    }
    buf = realloc(buf, 1000);
    p[19999] = buf;
}

/* worker threads, one at a time (so the run is the same every time): each allocates in its
 * own arena, frees half, and hands one block to the main thread */
static void *work(void *arg) {
    void *mine[50];
    for (int i = 0; i < 50; i++) mine[i] = malloc(16 + next() % 3000);
    for (int i = 0; i < 50; i += 2) free(mine[i]);
    p[1000 + (long)arg] = mine[1];
    return NULL;
}
static void threads(void) {
    pthread_t t;
    for (long w = 0; w < 4; w++) { pthread_create(&t, NULL, work, (void *)w); pthread_join(t, NULL); }
    for (long w = 0; w < 4; w += 2) free(p[1000 + w]);
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "patterns")) patterns();
    else if (!strcmp(what, "bigfree")) bigfree();
    else if (!strcmp(what, "mmapped")) mmapped();
    else if (!strcmp(what, "growth")) growth();
    else if (!strcmp(what, "threads")) threads();
    else return 2;
    show();
    return 0;
}
"""

KINDS = ["patterns", "bigfree", "mmapped", "growth", "threads"]


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict[str, Path]:
    """The program built for i386 (-m32) and for x86-64."""
    d = tmp_path_factory.mktemp("prog32")
    (d / "heap.c").write_text(PROGRAM)
    # -O0 -fno-builtin: the compiler must not drop malloc/free pairs it can see through
    flags = ("-O0", "-fno-builtin", "-pthread")
    return {"i386": compile_c(d / "heap.c", ("-m32", *flags), name="record-i386-program"),
            "x86-64": compile_c(d / "heap.c", flags, name="record-x86-64-program")}


@pytest.fixture(scope="module")
def recorded(programs, tmp_path_factory) -> dict[str, tuple[Path, list[int]]]:
    """Each i386 run recorded once: kind -> (the trace, the numbers the program printed)."""
    build("record", "i386")
    d = tmp_path_factory.mktemp("traces32")
    return {kind: record(d / f"{kind}.trace", programs["i386"], kind) for kind in KINDS}


def record(trace: Path, *command) -> tuple[Path, list[int]]:
    proc = subprocess.run([sys.executable, "-m", "memlab", "record", "-o", trace, "--", *map(str, command)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("P")]
    return trace, [int(v) for v in line[1:].split()]


def recorded_end(trace: Path) -> list[int]:
    """The program's mallinfo2 at exit, as the recorder wrote it."""
    (found,) = OWN.findall(trace.read_text())
    return [json.loads(found)[k] for k in COUNTERS]


def exit_snapshot(snapshots) -> dict:
    (end,) = [s for s in snapshots if s["label"] == "exit"]
    return end


def test_the_programs_are_what_they_say():
    """The -m32 build is an i386 ELF program; the recorder library built for it too."""
    assert elf_arch(build("record", "i386")) == "i386"
    assert elf_arch(build("record")) == "x86-64"


@pytest.mark.usefixtures("recorder")
def test_the_loader_preloads_only_a_library_of_the_programs_class(programs, tmp_path):
    """Why the recorder is built with -m32: the loader skips a 64-bit library in a 32-bit
    program (wrong ELF class), so nothing would be recorded; the -m32 build is preloaded."""
    for arch, expected in (("x86-64", False), ("i386", True)):
        trace = tmp_path / f"direct-{arch}.trace"
        env = {"PATH": "/usr/bin:/bin", "LD_PRELOAD": str(build("record", arch)), "MEMLAB_RECORD": str(trace)}
        subprocess.run([programs["i386"], "mmapped"], env=env, check=True, capture_output=True)
        assert trace.exists() is expected


def test_a_script_run_by_an_i386_program_is_recorded_for_i386(programs, tmp_path):
    """A `#!` script is judged by its interpreter: here the i386 program, which runs the script's
    path as its argument (an unknown way of using the heap: it exits with 2 at once)."""
    script = tmp_path / "script"
    script.write_text(f"#!{programs['i386']}\n")
    script.chmod(0o755)
    proc = subprocess.run([sys.executable, "-m", "memlab", "record", "-o", tmp_path / "s.trace", "--", script],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "program exit status 2" in proc.stderr, proc.stderr
    assert (tmp_path / "s.trace").read_text().splitlines()[1] == "# arch i386"


@pytest.mark.parametrize("kind", KINDS)
def test_an_i386_program_replays_to_its_own_end(recorded, kind):
    """The trace says `# arch i386`; replayed on the i386 glibc it ends in the program's own
    mallinfo2, field for field, which the recorder's comment holds too."""
    trace, own = recorded[kind]
    text = trace.read_text()
    assert text.splitlines()[1] == "# arch i386"
    assert read_trace(text).arch == "i386"
    assert "0 frees and 0 reallocs of unknown pointers" in text
    assert recorded_end(trace) == own
    end = exit_snapshot(replay_native(trace, arch="i386"))
    assert [end[k] for k in COUNTERS] == own


def test_the_heap_patterns_are_there(recorded):
    """The runs use what they are meant to: every kind of call; a heap given back; mmapped
    blocks; realloc past the threshold."""
    kinds = {op.kind for op in read_trace(recorded["patterns"][0].read_text())}
    assert kinds == {"malloc", "free", "realloc", "calloc", "memalign", "trim", "snapshot"}
    counters = {kind: dict(zip(COUNTERS, own)) for kind, (_, own) in recorded.items()}
    # some 20 MB at its largest; the top above the last block kept (some 8 MB in) is given back,
    # the free blocks below it stay
    assert counters["bigfree"]["arena"] < 10 << 20 and counters["bigfree"]["fordblks"] > 6 << 20
    assert counters["mmapped"]["hblks"] == 2      # 1 MiB and the calloc; the second 200,000 is in the heap
    growth = [op for op in read_trace(recorded["growth"][0].read_text()) if op.kind == "realloc"]
    assert max(op.size for op in growth) > 4 << 20 and growth[-1].size == 1000
    threaded = read_trace(recorded["threads"][0].read_text())
    assert [op.kind for op in threaded if op.kind in ("create", "join")] == ["create", "join"] * 4


def test_replay_defaults_to_the_traces_own_architecture(recorded, capsys):
    """Without --arch, `replay --native` of an i386 trace runs on the i386 glibc; asking for
    x86-64 is refused in one line."""
    trace, own = recorded["mmapped"]
    assert [exit_snapshot(replay_native(trace))[k] for k in COUNTERS] == own
    assert cli.main(["replay", "--native", "--json", str(trace)]) == 0
    out = capsys.readouterr().out
    assert [exit_snapshot(map(json.loads, out.splitlines()))[k] for k in COUNTERS] == own
    assert cli.main(["replay", "--native", str(trace)]) == 0
    assert "on this machine's i386 glibc" in capsys.readouterr().out.splitlines()[0]
    assert cli.main(["replay", "--native", "--arch", "x86-64", str(trace)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "recorded on i386" in err and "not on x86-64" in err


@pytest.mark.parametrize("source", ["file", "-", "/dev/stdin"])
def test_a_written_arch_line_chooses_the_replayer(tmp_path, source):
    """`# arch i386` in any trace, read from a file or from standard input (a pipe): `replay
    --native` runs the i386 replayer (glibc's first malloc(1) leaves I386.after_malloc_one in use)."""
    from memlab.glibc.arch import I386

    text = "# arch i386\na 0 1\ns\n"
    path = tmp_path / "one.trace"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "memlab", "replay", "--native", "--json",
                           str(path) if source == "file" else source],
                          input=text, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[0])["uordblks"] == I386.after_malloc_one


@pytest.mark.usefixtures("recorder")
def test_an_x86_64_program_records_as_before(programs, tmp_path):
    """The same program built for x86-64: the 64-bit recorder, `# arch x86-64`, an exact replay."""
    trace, own = record(tmp_path / "x.trace", programs["x86-64"], "patterns")
    lines = trace.read_text().splitlines()
    assert lines[1:4] == ["# arch x86-64", f"# cpus {os.sysconf('SC_NPROCESSORS_ONLN')}", "# tls 1"]
    assert recorded_end(trace) == own
    assert [exit_snapshot(replay_native(trace))[k] for k in COUNTERS] == own
    # the command line refuses another --arch; the library takes an arch given as asked
    assert cli.main(["replay", "--native", "--arch", "i386", str(trace)]) == 2
    assert exit_snapshot(replay_native(trace, arch="i386"))["uordblks"] != own[COUNTERS.index("uordblks")]


@pytest.mark.parametrize("kind", KINDS)
def test_the_i386_model_ends_where_the_program_did(recorded, kind):
    """memlab's model of glibc for i386 replays the recorded trace to the program's own end."""
    from memlab.glibc import Malloc
    from memlab.replay import replay

    trace, own = recorded[kind]
    (end,) = [s for s in replay(read_trace(trace.read_bytes()), lambda: Malloc(arch="i386"), progress=None)
              if s.label == "exit"]
    assert [end.as_dict()[k] for k in COUNTERS] == own


@pytest.mark.parametrize("kind", ["mmapped", "threads"])
def test_the_command_line_models_a_recorded_i386_trace_on_i386(recorded, kind, capsys):
    """`replay TRACE` without --native and without --arch: the trace's `# arch i386` picks the
    model for i386, which ends where the program did; `--arch x86-64` is refused in one line."""
    trace, own = recorded[kind]
    assert cli.main(["replay", "--json", str(trace)]) == 0
    out = capsys.readouterr().out
    assert [exit_snapshot(map(json.loads, out.splitlines()))[k] for k in COUNTERS] == own
    assert cli.main(["replay", "--arch", "x86-64", str(trace)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("arch", ["x86-64", "i386"])
@pytest.mark.parametrize("cores", ["machine", 1])
def test_the_arena_limit_of_a_recorded_number_of_cpus(arch, cores):
    """glibc allows K arenas per CPU, K = 8 in a 64-bit program and 2 in a 32-bit one, and creates
    them freely while at most K exist. Threads that all stay alive, each allocating once, show the
    limit: on this machine's CPUs it is the real library's own; for another number of CPUs
    (`# cpus 1`) the replayer sets M_ARENA_MAX to max(K N, K + 1) to stand in for it."""
    n = os.sysconf("SC_NPROCESSORS_ONLN") if cores == "machine" else 1      # what glibc counts
    per_cpu = 8 if arch == "x86-64" else 2
    threads = per_cpu * n + 4
    text = f"# cpus {n}\n" + "".join(f"T 0\nn {k}\nT {k}\na {k} 100\n" for k in range(1, threads + 1)) + "s\n"
    (end,) = replay_native(text.encode(), arch=arch, arenas=True)
    assert len(end["arenas"]) == max(per_cpu * n, per_cpu + 1)
