"""The lessons' small C++ programs: built with the machine's g++, run, and recorded as traces.

    containers vector|list|pinned N   (containers.cc): a std::vector or std::list of N ints, or
                                      N blocks pinned by one small block, with one snapshot per
                                      stage, which also marks the stage in a recorded trace
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from memlab.native.build import NativeUnavailable, build, compile_c
from memlab.native.runner import NativeError, clean_environment

__all__ = ["PROGRAMS", "find_cxx", "build_cxx", "run_program", "record_program"]

_HERE = Path(__file__).resolve().parent
#: The C++ programs and their flags (-z now: no lazy binding writes pages mid-run).
PROGRAMS: dict[str, tuple[str, ...]] = {"containers": ("-O1", "-Wall", "-Wl,-z,now")}


def find_cxx() -> str:
    """Path of the C++ compiler (`g++`, else `c++`); NativeUnavailable if there is none.

    >>> find_cxx().endswith("++")
    True
    """
    for name in ("g++", "c++"):
        path = shutil.which(name)
        if path:
            return path
    raise NativeUnavailable("the lessons' C++ programs need a C++ compiler, and neither `g++` nor "
                            "`c++` is on PATH; install one (Debian/Ubuntu: apt-get install g++)")


def build_cxx(name: str) -> Path:
    """The built program `name`, compiled on first use into memlab's cache (keyed by a hash).

    >>> build_cxx("containers").name.startswith("containers-")
    True
    """
    if name not in PROGRAMS:
        raise ValueError(f"unknown program {name!r}; expected one of {sorted(PROGRAMS)}")
    return compile_c(_HERE / f"{name}.cc", (*PROGRAMS[name], f"-I{_HERE}"), compiler=find_cxx())


def run_program(*args: str | int) -> list[dict]:
    """Run ``containers ARGS`` on this machine; one dict per stage (see containers.cc).

    >>> [s["label"] for s in run_program("list", 10)]
    ['start', 'filled', 'cleared', 'destroyed']
    """
    command = [str(build_cxx("containers")), *map(str, args)]
    out = subprocess.run(command, capture_output=True, text=True, env=clean_environment())
    if out.returncode != 0:
        raise NativeError(out.stderr.strip() or f"containers ended with status {out.returncode}")
    return [json.loads(line) for line in out.stdout.splitlines()]


def record_program(path: str | Path, *args: str | int) -> tuple[Path, list[dict]]:
    """Run ``containers ARGS`` under memlab's recorder: (the trace written, the stages printed).

    The trace holds every malloc-family call and an `s LABEL` line at each stage.

    >>> import tempfile, pathlib
    >>> trace, stages = record_program(pathlib.Path(tempfile.mkdtemp()) / "l.trace", "list", 3)
    >>> trace.read_text().count("\\ns filled\\n"), stages[1]["label"]
    (1, 'filled')
    """
    build("record")
    path = Path(path).resolve()
    if path.exists():
        path.unlink()
    command = [sys.executable, "-m", "memlab", "record", "-o", str(path), "--",
               str(build_cxx("containers")), *map(str, args)]
    env = clean_environment({"PYTHONPATH": str(_HERE.parent.parent)})
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0 or not path.exists():
        raise NativeError(out.stderr.strip() or f"recording ended with status {out.returncode}")
    return path, [json.loads(line) for line in out.stdout.splitlines()]
