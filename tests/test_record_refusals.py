"""`record` refuses, before running anything, a program the recorder cannot be preloaded into.

The recorder is an LD_PRELOAD library: the dynamic loader puts it in front of the program. A
statically linked program starts without the loader, and a set-user-ID program (to another
user) runs in the loader's secure-execution mode, which ignores the preload. A `#!` script is
run by its interpreter, so the interpreter is what is checked. Each refusal is one line, exit 2,
no trace written and the program never started; the loader's own behaviour is checked on the
same files, so that a refusal stands for a real limit.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from memlab.native import NativeUnavailable
from memlab.native.build import compile_c

pytestmark = pytest.mark.usefixtures("recorder")

ROOT = Path(__file__).parent.parent
#: Each program leaves this file next to itself when it runs: a refused one must not have run.
PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    FILE *f = fopen(argc > 1 ? argv[argc - 1] : "/dev/null", "w");
    if (f) fclose(f);
    free(malloc(100));
    return 0;
}
"""
NOBODY = 65534
#: The program's own malloc(100), as the trace writes it.
ALLOCATION = re.compile(r"^a \d+ 100$", re.M)


def record(output: Path, *command, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memlab", "record", "-o", str(output), "--",
                           *map(str, command)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def refused(proc: subprocess.CompletedProcess, *words: str) -> None:
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("memlab: "), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("programs")
    (d / "touch.c").write_text(PROGRAM)
    out = {}
    for kind, flags in (("dynamic", ("-O0",)), ("static", ("-O0", "-static"))):
        out[kind] = d / kind
        shutil.copy2(compile_c(d / "touch.c", flags, name=f"touch-{kind}"), out[kind])
    return out


def preloaded_run(program: Path, recorder: Path, tmp_path: Path) -> bool:
    """Whether the loader really runs the recorder in `program` (the ground truth for a refusal)."""
    trace = tmp_path / "direct.trace"
    env = {**os.environ, "LD_PRELOAD": str(recorder), "MEMLAB_RECORD": str(trace)}
    subprocess.run([str(program), str(tmp_path / "ran-direct")], env=env, check=True, capture_output=True)
    return trace.exists()


def test_a_static_program_cannot_be_preloaded_and_is_refused(tmp_path, programs, recorder):
    assert preloaded_run(programs["dynamic"], recorder, tmp_path)
    (tmp_path / "direct.trace").unlink()
    assert not preloaded_run(programs["static"], recorder, tmp_path)
    proc = record(tmp_path / "out.trace", programs["static"], tmp_path / "ran")
    refused(proc, "statically linked", "link it dynamically")
    assert not (tmp_path / "out.trace").exists() and not (tmp_path / "ran").exists()


@pytest.mark.parametrize("form", ["path", "env"])
def test_a_script_is_judged_by_its_interpreter(tmp_path, programs, form):
    """`#!/path/static` and `#!/usr/bin/env static` run a static program: refused, naming both."""
    script = tmp_path / "script"
    first = f"#!{programs['static']}" if form == "path" else f"#!/usr/bin/env {programs['static'].name}"
    script.write_text(first + "\n")
    script.chmod(0o755)
    path = f"{programs['static'].parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = record(tmp_path / "out.trace", script, tmp_path / "ran", env={"PATH": path})
    refused(proc, "'" + str(script) + "'", "a script run by", str(programs["static"]), "statically linked")
    assert not (tmp_path / "out.trace").exists() and not (tmp_path / "ran").exists()


def test_a_script_run_by_a_dynamic_interpreter_is_recorded(tmp_path, programs):
    script = tmp_path / "script"
    script.write_text(f"#!/usr/bin/env {programs['dynamic'].name}\n")
    script.chmod(0o755)
    path = f"{programs['dynamic'].parent}{os.pathsep}{os.environ.get('PATH', '')}"
    proc = record(tmp_path / "out.trace", script, tmp_path / "ran", env={"PATH": path})
    assert proc.returncode == 0 and "recorded out.trace" in proc.stderr, proc.stderr
    traces = "".join(p.read_text() for p in tmp_path.glob("out.trace*"))   # env's, then the program's
    assert (tmp_path / "ran").exists() and ALLOCATION.search(traces)


def _foreign_id(kind: str) -> int:
    """A user (root only) or group (root, or one of this user's other groups) that is not ours."""
    if kind == "user":
        if os.geteuid() != 0:
            raise NativeUnavailable("a copy set-user-ID to another user can be made only by root")
        return NOBODY
    others = [g for g in os.getgroups() if g != os.getgid()]
    if os.geteuid() == 0:
        return NOBODY
    if not others:
        raise NativeUnavailable("a copy set-group-ID to another group needs root or a second group")
    return others[0]


@pytest.fixture
def nosuid_checked(tmp_path) -> Path:
    if os.statvfs(tmp_path).f_flag & os.ST_NOSUID:
        raise NativeUnavailable(f"{tmp_path} is on a nosuid file system: set-ID bits do nothing there")
    tmp_path.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)      # the program may run as another user: it could write its trace here
    return out


def _set_id_copy(program: Path, folder: Path, kind: str, owner: int) -> Path:
    copy = folder.parent / f"set-{kind}-{owner}"
    shutil.copy2(program, copy)
    if kind == "user":
        os.chown(copy, owner, -1)
        copy.chmod(0o4755)
    else:
        os.chown(copy, -1, owner)
        copy.chmod(0o2755)
    return copy


@pytest.mark.parametrize("kind", ["user", "group"])
def test_a_set_id_program_is_refused(nosuid_checked, programs, recorder, kind):
    """The loader ignores the preload in a program set-user-ID (or -group-ID) to another user
    (or group): refused before it runs."""
    owner = _foreign_id(kind)
    out = nosuid_checked
    copy = _set_id_copy(programs["dynamic"], out, kind, owner)
    assert not preloaded_run(copy, recorder, out)
    proc = record(out / "out.trace", copy, out / "ran")
    word = "owner uid" if kind == "user" else "group gid"
    refused(proc, f"set-{kind}-ID ({word} {owner})", "ignores preloaded libraries")
    assert not (out / "out.trace").exists() and not (out / "ran").exists()


@pytest.mark.parametrize("kind", ["user", "group"])
def test_a_program_set_id_to_its_runner_is_recorded(nosuid_checked, programs, recorder, kind):
    """Set-ID to the very user or group that runs it changes no identity: the loader preloads."""
    out = nosuid_checked
    copy = _set_id_copy(programs["dynamic"], out, kind, os.getuid() if kind == "user" else os.getgid())
    assert preloaded_run(copy, recorder, out)
    proc = record(out / "out.trace", copy, out / "ran")
    assert proc.returncode == 0 and ALLOCATION.search((out / "out.trace").read_text()), proc.stderr


def test_a_program_for_another_machine_is_refused(tmp_path, programs):
    """The recorder is built for x86-64 and i386 programs: one for another ELF machine (here the
    dynamic program marked AArch64, 183) is refused in one line before it runs."""
    other = tmp_path / "aarch64"
    data = bytearray(programs["dynamic"].read_bytes())
    data[18:20] = (183).to_bytes(2, "little")          # e_machine
    other.write_bytes(bytes(data))
    other.chmod(0o755)
    proc = record(tmp_path / "out.trace", other, tmp_path / "ran")
    refused(proc, "64-bit program for ELF machine 183", "i386 and x86-64 programs only")
    assert not (tmp_path / "out.trace").exists() and not (tmp_path / "ran").exists()
