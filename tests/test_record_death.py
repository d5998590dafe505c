"""The recorder keeps every call of a program that dies (crash, abort, SIGKILL), and refuses bad paths.

Each program makes a known number of malloc-family calls, prints its own mallinfo2 (with
write(2), so that printing allocates nothing) and how many calls it made, then dies. The
trace must hold exactly those calls, end with the note of the death, and replay on the real
glibc to the program's own last heap state.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from memlab.native import replay_native
from memlab.native.build import compile_c
from memlab.native.recorder import death_note
from memlab.trace import parse_trace

pytestmark = pytest.mark.usefixtures("recorder")

ROOT = Path(__file__).parent.parent
COUNTERS = ["arena", "ordblks", "smblks", "hblks", "hblkhd", "fsmblks", "uordblks", "fordblks", "keepcost"]

PROGRAM = r"""
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static char line[300];
static int len;
static void num(unsigned long v) {
    char b[32]; int i = sizeof b; b[--i] = ' ';
    do { b[--i] = '0' + v % 10; v /= 10; } while (v);
    for (; i < (int)sizeof b; i++) line[len++] = b[i];
}
static void *p[300];
int main(int argc, char **argv) {
    unsigned long calls = 0, s = 7;
    for (int k = 0; k < 3000; k++) {          /* mallocs and frees of many sizes */
        s = s * 6364136223846793005UL + 1442695040888963407UL;
        int i = (s >> 33) % 300;
        if (p[i]) { free(p[i]); calls++; }
        p[i] = malloc((s >> 40) % 5000 + 1); calls++;
    }
    struct mallinfo2 m = mallinfo2();
    len = 0; line[len++] = 'M';
    num(m.arena); num(m.ordblks); num(m.smblks); num(m.hblks); num(m.hblkhd); num(m.fsmblks);
    num(m.uordblks); num(m.fordblks); num(m.keepcost); num(calls); line[len++] = '\n';
    write(1, line, len);
    const char *how = argv[1];
    if (!strcmp(how, "segv")) *(volatile int *)16 = 1;
    else if (!strcmp(how, "abort")) abort();
    else if (!strcmp(how, "kill")) kill(getpid(), SIGKILL);
    else if (!strcmp(how, "doublefree")) {       /* glibc's own check aborts the second free */
        void *q = malloc(40); free(q); free(q);
    }
    return 3;
}
"""

#: How each program dies: the signal, and the calls recorded after the printed state.
DEATHS = {"segv": (signal.SIGSEGV, 0), "abort": (signal.SIGABRT, 0), "kill": (signal.SIGKILL, 0),
          "doublefree": (signal.SIGABRT, 2)}


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("dying")
    (d / "dying.c").write_text(PROGRAM)
    # -O0 -fno-builtin: the compiler must not drop malloc/free pairs it can see through
    program = d / "dying"     # a copy: the path tests below must never see overwritten
    shutil.copy2(compile_c(d / "dying.c", ("-O0", "-fno-builtin")), program)
    return program


def record(output: Path | str, *command) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memlab", "record", "-o", str(output), "--",
                           *map(str, command)], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize("how", sorted(DEATHS))
def test_a_dying_program_keeps_every_call(tmp_path, program, how):
    """Every call before the death is in the trace, which ends with the death and replays to the
    program's own last state; record exits 128 + signal and names the signal."""
    signo, after = DEATHS[how]
    trace = tmp_path / "out.trace"
    proc = record(trace, program, how)
    assert proc.returncode == 128 + signo, proc.stderr
    assert f"killed by {signo.name} (signal {int(signo)})" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("memlab: ") == 1
    *state, calls = [int(v) for v in proc.stdout[1:].split()]
    text = trace.read_text()
    assert text.endswith(death_note(signo))
    ops = parse_trace(text)
    heap_calls = [op for op in ops if op.kind in ("malloc", "free")]
    assert len(heap_calls) == calls + after
    replayed = replay_native(ops[: len(ops) - after] if after else trace)[-1]
    assert [replayed[k] for k in COUNTERS] == state


def test_sigkill_trace_replays_and_compares(tmp_path, program):
    """The trace of a SIGKILLed program replays through the command line on the model too."""
    trace = tmp_path / "out.trace"
    assert record(trace, program, "kill").returncode == 128 + signal.SIGKILL
    proc = subprocess.run([sys.executable, "-m", "memlab", "compare", str(trace)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.splitlines()[-1].startswith("AGREE"), proc.stdout


def test_a_normal_exit_is_unchanged(tmp_path, program):
    """A program that returns keeps its own exit status and ends with `s exit`."""
    trace = tmp_path / "out.trace"
    proc = record(trace, program, "return")
    assert proc.returncode == 3 and "recorded out.trace" in proc.stderr
    assert "s exit\n" in trace.read_text()


class TestPaths:
    """Output paths are checked before the program runs; the program itself is never overwritten."""

    def test_missing_folder(self, tmp_path, program):
        proc = record(tmp_path / "no" / "out.trace", program, "return")
        assert proc.returncode == 2 and "no folder" in proc.stderr and proc.stdout == ""

    def test_existing_folder(self, tmp_path, program):
        proc = record(tmp_path, program, "return")
        assert proc.returncode == 2 and "is a folder" in proc.stderr and proc.stdout == ""

    def test_the_programs_own_file(self, tmp_path, program):
        before = program.read_bytes()
        link = tmp_path / "link"
        link.symlink_to(program)
        for target in (program, link):
            proc = record(target, program, "return")
            assert proc.returncode == 2 and "never overwrites" in proc.stderr and proc.stdout == ""
        assert program.read_bytes() == before and os.access(program, os.X_OK)

    def test_another_executable(self, tmp_path, program):
        other = tmp_path / "tool"
        other.write_bytes(program.read_bytes())
        other.chmod(0o755)
        proc = record(other, program, "return")
        assert proc.returncode == 2 and "executable" in proc.stderr
        assert other.read_bytes() == program.read_bytes()

    def test_a_static_program_is_refused(self, tmp_path):
        source = tmp_path / "static.c"
        source.write_text("#include <stdlib.h>\nint main(void) { free(malloc(10)); return 0; }\n")
        static = compile_c(source, ("-static",))   # NativeUnavailable without a static C library
        proc = record(tmp_path / "out.trace", static)
        assert proc.returncode == 2 and "statically linked" in proc.stderr
        assert not (tmp_path / "out.trace").exists()
