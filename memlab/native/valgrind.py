"""The real leak checker: the C replayer run under Valgrind's memcheck, its LEAK SUMMARY read back.

The replayer performs the trace's pointer stores in the real blocks and its global roots in a
static array, and hides its own ID table before it exits (docs/trace-format.md, "Pointers"),
so memcheck classifies the blocks as memlab.leaks does; both leave memcheck's heuristics out.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

from memlab.leaks import LeakSummary
from memlab.native.build import NativeUnavailable, build
from memlab.native.runner import NativeError, _failure, _trace_file, clean_environment
from memlab.trace import Op

__all__ = ["VALGRIND_OPTIONS", "valgrind", "valgrind_leaks", "valgrind_version"]

#: memcheck's options for a leak check comparable with memlab.leaks.
VALGRIND_OPTIONS = ("--tool=memcheck", "--leak-check=full", "--leak-check-heuristics=none",
                    "--show-leak-kinds=definite,possible", "--num-callers=4")


def valgrind() -> str:
    """The valgrind program on PATH; NativeUnavailable (saying how to get it) when there is none."""
    found = shutil.which("valgrind")
    if found is None:
        raise NativeUnavailable("valgrind is not installed: install the valgrind package "
                                "(apt-get install valgrind) to check leaks against the real memcheck")
    return found


def valgrind_version() -> str:
    """The installed Valgrind's version, e.g. '3.19.0'.

    >>> valgrind_version().count(".") >= 1
    True
    """
    out = subprocess.run([valgrind(), "--version"], capture_output=True, text=True, check=True).stdout
    return out.strip().removeprefix("valgrind-")


def valgrind_leaks(trace: str | Path | bytes | Sequence[Op], log: list[str] | None = None) -> LeakSummary:
    """Replay a trace on the real replayer under memcheck; return memcheck's LEAK SUMMARY.

    A trace that does not parse raises TraceError; `log`, if given, receives Valgrind's whole
    output (one string).

    >>> print(valgrind_leaks(b"a 0 16\\na 1 32\\np 0 0 1\\np g 0 1\\n"))
    LEAK SUMMARY:
       definitely lost: 16 bytes in 1 blocks
       indirectly lost: 0 bytes in 0 blocks
         possibly lost: 0 bytes in 0 blocks
       still reachable: 32 bytes in 1 blocks
            suppressed: 0 bytes in 0 blocks
    """
    program = valgrind()
    replayer = str(build("replay"))
    with tempfile.TemporaryDirectory(prefix="memlab-") as tmp:
        path = _trace_file(trace, tmp)
        report = Path(tmp) / "memcheck.log"
        args = [program, *VALGRIND_OPTIONS, f"--log-file={report}", replayer, str(path)]
        result = subprocess.run(args, capture_output=True, env=clean_environment())
        if result.returncode != 0:
            raise _failure(path, result.returncode, result.stderr)
        text = report.read_text(errors="replace") if report.exists() else ""
    if log is not None:
        log.append(text)
    try:
        return LeakSummary.parse(text)
    except ValueError:
        raise NativeError(f"valgrind printed no leak summary: {text.strip()[-300:]!r}") from None
