"""Tests of the recorder (memlab/native/record.c) through `python -m memlab record`.

The check that matters: replaying a recorded trace on the real glibc ends in the
recorded program's own heap state, which the program prints itself (mallinfo2,
written with write(2) so that printing allocates nothing).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from memlab.native import replay_native
from memlab.native.build import compile_c
from memlab.trace import parse_trace

COUNTERS = ["arena", "ordblks", "smblks", "hblks", "hblkhd", "fsmblks", "uordblks", "fordblks", "keepcost"]

PROGRAM = r"""
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>
static char line[256];
static int len;
static void num(unsigned long v) {
    char b[32]; int i = sizeof b; b[--i] = ' ';
    do { b[--i] = '0' + v % 10; v /= 10; } while (v);
    for (; i < (int)sizeof b; i++) line[len++] = b[i];
}
static void show(const char *who) {   /* one write, so that parent and child lines do not mix */
    struct mallinfo2 m = mallinfo2();
    len = 0; line[len++] = who[0];
    num(m.arena); num(m.ordblks); num(m.smblks); num(m.hblks); num(m.hblkhd); num(m.fsmblks);
    num(m.uordblks); num(m.fordblks); num(m.keepcost); line[len++] = '\n';
    write(1, line, len);
}
static void *p[400];
int main(int argc, char **argv) {
    unsigned s = 12345;
    for (int k = 0; k < 6000; k++) {
        s = s * 1103515245 + 12345;
        int i = (s >> 8) % 400, r = (s >> 20) % 10;
        size_t n = ((s >> 3) % 7 == 0) ? (s >> 5) % 300000 : (s >> 5) % 2000;
        if (r < 3) { free(p[i]); p[i] = malloc(n); }
        else if (r < 6) { free(p[i]); p[i] = 0; }
        else if (r < 7) { void *q = realloc(p[i], n); if (q || !n) p[i] = q; }
        else if (r < 8) { free(p[i]); p[i] = calloc(1 + r % 3, n); }
        else if (r < 9) { free(p[i]); p[i] = memalign(64 << (s % 4), n); }
        else { free(p[i]); if (posix_memalign(&p[i], 256, n)) p[i] = 0; }
        if (k == 3000) malloc_trim(0);
        if (k == 4000) mallopt(M_MMAP_THRESHOLD, 65536);
        if (k == 4500) mallopt(M_PERTURB, 0);
    }
    void *v = valloc(1000), *pv = pvalloc(5000), *aa = aligned_alloc(128, 1280), *ra = reallocarray(0, 10, 30);
    (void)v; (void)pv; (void)aa; (void)ra;
    if (argc > 1 && argv[1][0] == 'f') {
        pid_t child = fork();
        void *mine = malloc(child ? 100 : 5000);
        (void)mine;
        show(child ? "P" : "C");
        if (child) { int st; waitpid(child, &st, 0); }
        else _exit(0);
        return 0;
    }
    show("P");
    return 0;
}
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("prog")
    (d / "prog.c").write_text(PROGRAM.replace("#include <unistd.h>", "#include <unistd.h>\n#include <sys/wait.h>"))
    # -O0 -fno-builtin: the compiler must not drop malloc/free pairs it can see through
    return compile_c(d / "prog.c", ("-O0", "-fno-builtin"), name="record-test-program")


def record(tmp_path: Path, *command, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memlab", "record", "-o", tmp_path / "out.trace", "--",
                           *map(str, command)], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).parent.parent)


def own_numbers(stdout: str, who: str) -> list[int]:
    (line,) = [x for x in stdout.splitlines() if x.startswith(who)]
    return [int(v) for v in line[1:].split()]


def final(trace: Path) -> list[int]:
    last = replay_native(trace)[-1]
    return [last[k] for k in COUNTERS]


@pytest.mark.usefixtures("recorder")
class TestRecordedPrograms:
    def test_replay_ends_in_the_programs_own_heap_state(self, tmp_path, program):
        """Replaying the recorded trace gives the program's own final mallinfo2, field for field."""
        proc = record(tmp_path, program)
        assert proc.returncode == 0, proc.stderr
        trace = tmp_path / "out.trace"
        text = trace.read_text()
        assert "s exit\n" in text
        assert "skipped 0 calls before the recorder was ready, 0 nested calls, 0 frees and 0 reallocs of unknown pointers; rewrote 1 other mallopt" in text
        assert final(trace) == own_numbers(proc.stdout, "P")
        kinds = {op.kind for op in parse_trace(text)}
        assert kinds == {"malloc", "free", "realloc", "calloc", "memalign", "trim", "mallopt", "snapshot"}

    def test_the_recorder_does_not_change_the_heap(self, tmp_path, program):
        """The program ends in the same heap state with and without the recorder."""
        alone = subprocess.run([program], capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
        proc = record(tmp_path, program)
        assert own_numbers(alone.stdout, "P") == own_numbers(proc.stdout, "P")

    def test_a_forked_child_gets_its_own_file(self, tmp_path, program):
        """After fork, the child writes FILE.<pid>, starting with its parent's history; both replay exactly."""
        proc = record(tmp_path, program, "fork")
        assert proc.returncode == 0, proc.stderr
        children = [p for p in tmp_path.iterdir() if p.name.startswith("out.trace.")]
        assert len(children) == 1
        assert "forked child pid" in children[0].read_text()
        assert final(tmp_path / "out.trace") == own_numbers(proc.stdout, "P")
        assert final(children[0]) == own_numbers(proc.stdout, "C")   # the child ended with _exit

    def test_python_with_the_system_malloc(self, tmp_path):
        """A Python run with PYTHONMALLOC=malloc gives a trace that parses and replays; no pointer is lost."""
        env = dict(os.environ, PYTHONMALLOC="malloc")
        proc = record(tmp_path, sys.executable, "-c", "d = {i: str(i) * 3 for i in range(20000)}; del d", env=env)
        assert proc.returncode == 0, proc.stderr
        files = sorted(tmp_path.glob("out.trace*"))
        main = max(files, key=lambda p: p.stat().st_size)
        ops = parse_trace(main.read_bytes())
        assert len(ops) > 50000
        assert "0 frees and 0 reallocs of unknown pointers" in main.read_text()
        snaps = replay_native(main)
        assert snaps[-1]["label"] == "exit" and snaps[-1]["arena"] > 0

    @pytest.mark.parametrize("command", [["ls", "-la", "/"], ["sh", "-c", "ls / | sort -r | head -3"]])
    def test_everyday_programs(self, tmp_path, command):
        """Traces of ls, sort and a shell pipeline (forks and execs) all parse and replay."""
        proc = record(tmp_path, *command)
        assert proc.returncode == 0, proc.stderr
        files = sorted(tmp_path.glob("out.trace*"))
        assert files[0].name == "out.trace"
        if command[0] == "sh":
            assert len(files) >= 3          # the shell, its forked children, the exec'd programs
        for f in files:
            parse_trace(f.read_bytes())
            assert replay_native(f)[-1]["label"] in ("exit", "exec")

    def test_missing_program(self, tmp_path):
        """A program that cannot be started is reported with exit status 1."""
        proc = record(tmp_path, "/nonexistent/program")
        assert proc.returncode == 1 and "cannot run" in proc.stderr
