"""Real programs, recorded on this machine at test time: the model replays them like glibc does.

Each program runs under memlab's LD_PRELOAD recorder (`python -m memlab record`); every trace it
writes (one per process image: gcc's driver, cc1, as, ...) is replayed on the model and on the real
glibc with about 300 evenly spaced snapshots plus the final one, and every field of every snapshot
must be equal. Malloc.check() runs about 30 times along each replay. A program that is not
installed (g++, gcc) is skipped by name, and fails the run under CI (root conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from differential import compare_trace

from memlab.native import NativeUnavailable

pytestmark = pytest.mark.usefixtures("glibc_236", "recorder")

SLOW = os.environ.get("MEMLAB_SLOW", "").strip().lower() not in ("", "0", "false", "no")
REPO = Path(__file__).parent.parent

CXX_PROGRAM = r"""
#include <map>
#include <string>
#include <vector>
int main() {
    std::map<int, std::string> names;
    std::vector<std::vector<int>> rows;
    for (int i = 0; i < 20000; i++) {
        names[(i * 7919) % 50021] = std::to_string(i) + std::string(i % 40, 'x');
        if (i % 3 == 0) rows.emplace_back(i % 100, i);
        if (i % 5 == 0 && !rows.empty()) rows.pop_back();
    }
    std::vector<int> v;
    for (int i = 0; i < 300000; i++) v.push_back(i);
    for (int i = 0; i < 20000; i += 2) names.erase((i * 7919) % 50021);
    return (int)(names.size() + rows.size() + v.size()) == 0;
}
"""

PY_WORKLOAD = ("d = {str(i): [i] * 3 for i in range(%d)}; s = repr(d); "
               "t = sorted(s.split(',')); del d, s, t")


def record(workdir: Path, name: str, command: list[str], env: dict | None = None) -> list[Path]:
    """Run `command` under the recorder in `workdir`; return the trace files it wrote."""
    target = workdir / f"{name}.trace"
    proc = subprocess.run([sys.executable, "-m", "memlab", "record", "-o", str(target), "--", *command],
                          capture_output=True, text=True, cwd=workdir,
                          env=dict(os.environ if env is None else env, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = sorted(workdir.glob(f"{name}.trace*"))
    assert files, f"{name}: the recorder wrote no trace ({proc.stderr.strip()})"
    return files


def n_ops(path: Path) -> int:
    with path.open() as fh:
        return sum(1 for line in fh if line[:2] in ("a ", "f ", "r ", "c ", "m ", "w ", "t ", "o "))


def agree_on_all(files: list[Path], min_total: int) -> None:
    """Every recorded file replays identically; together they hold >= min_total operations."""
    total = 0
    problems = []
    for path in files:
        ops = n_ops(path)
        total += ops
        every = max(1, ops // 300)
        out = compare_trace(path, every=every, check_every=max(1, ops // 30), name=path.name)
        assert out.real and out.real[-1]["op"] == ops, f"{path.name}: the final snapshot is missing"
        problems += out.differences
        print(f"{path.name}: {ops} ops, {len(out.real)} snapshots compared")
    assert not problems, "\n".join(problems)
    assert total >= min_total, f"only {total} operations recorded"


def need(tool: str) -> str:
    """The path of the program `tool`; a missing one is a missing real side."""
    path = shutil.which(tool)
    if path is None:
        raise NativeUnavailable(f"{tool} is not installed: the test records it running")
    return path


def test_python_with_the_system_malloc(tmp_path):
    """python3 -c (dict, repr, sort) with PYTHONMALLOC=malloc: ~160,000 operations."""
    # the system interpreter itself, not a version-manager shim that starts a chain of processes
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    env = dict(os.environ, PYTHONMALLOC="malloc")
    files = record(tmp_path, "py", [python, "-c", PY_WORKLOAD % (3000 if not SLOW else 30000)], env)
    agree_on_all(files, 20_000)


def test_sort(tmp_path):
    """sort -n of 200,000 shuffled lines, one thread, 64 KiB buffer (external merge passes)."""
    sort = need("sort")
    lines = [str((i * 7919) % 200003) for i in range(200000)]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    files = record(tmp_path, "sort", [sort, "--parallel=1", "-S", "64K", "-n", "in.txt", "-o", "out.txt"])
    agree_on_all(files, 1_000)
    assert (tmp_path / "out.txt").read_text().split() == sorted(lines, key=int)


def test_ls_recursive(tmp_path):
    """ls -lR /usr/include: tens of thousands of small allocations."""
    ls = need("ls")
    if not Path("/usr/include").is_dir():
        raise NativeUnavailable("/usr/include is missing: the test lists it")
    files = record(tmp_path, "ls", [ls, "-lR", "/usr/include"])
    agree_on_all(files, 5_000)


def test_gcc_compiles_a_file(tmp_path):
    """gcc -O2 -c: the driver, cc1 and as each leave a trace; all replay identically."""
    gcc = need("gcc")
    (tmp_path / "hello.c").write_text(
        "#include <stdio.h>\n#include <stdlib.h>\n"
        "int main(void) { char *p = malloc(10); puts(p ? \"hi\" : \"no\"); free(p); return 0; }\n")
    files = record(tmp_path, "gcc", [gcc, "-O2", "-c", "hello.c", "-o", "hello.o"])
    assert len(files) >= 2, "expected the driver and at least one child (cc1 / as)"
    agree_on_all(files, 5_000)


def test_cxx_vector_and_map(tmp_path):
    """A C++ program with std::map<int, std::string> and std::vector growth, built with g++."""
    gxx = need("g++")
    (tmp_path / "prog.cc").write_text(CXX_PROGRAM)
    subprocess.run([gxx, "-O1", "-o", str(tmp_path / "prog"), str(tmp_path / "prog.cc")], check=True,
                   capture_output=True)
    files = record(tmp_path, "cxx", [str(tmp_path / "prog")])
    agree_on_all(files, 20_000)
