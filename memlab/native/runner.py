"""Run a trace on the machine's real glibc (or an unpacked glibc release) with the C replayer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

from memlab.errors import MemlabError, TraceError
from memlab.native.allocators import allocator as _allocator, preload_prefix
from memlab.native.build import build
from memlab.trace import Op, format_trace

__all__ = ["NativeError", "replay_native", "replay_native_raw", "glibc_version", "clean_environment"]

_LIBDIR = Path("usr/lib/x86_64-linux-gnu")
_LOADER = "ld-linux-x86-64.so.2"
_REFUSAL = re.compile(r"line (\d+): ")


class NativeError(MemlabError):
    """The real replayer stopped abnormally (killed by a signal, or an I/O failure).

    >>> str(NativeError("replay ended by signal 6"))
    'replay ended by signal 6'
    """


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the variables that change malloc or the loader.

    MALLOC_* and GLIBC_TUNABLES change malloc's defaults; LD_* could load another
    library in front of it.

    >>> import os; os.environ["MALLOC_TOP_PAD_"] = "0"
    >>> "MALLOC_TOP_PAD_" in clean_environment(); del os.environ["MALLOC_TOP_PAD_"]
    False
    """
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("MALLOC_", "LD_")) or k == "GLIBC_TUNABLES")}
    env.update(extra or {})
    return env


def _command(libc_dir: str | Path | None, allocator: str = "glibc") -> list[str]:
    """The replayer's command line prefix, through another release's loader or with a rival
    allocator preloaded (then with --rival: see replay.c) if asked."""
    program = str(build("replay"))
    if _allocator(allocator).rival:
        if libc_dir is not None:
            raise ValueError(f"{allocator} runs on this machine's glibc only, not with libc_dir")
        return preload_prefix(allocator) + [program, "--rival"]
    if libc_dir is None:
        return [program]
    lib = Path(libc_dir) / _LIBDIR
    loader = lib / _LOADER
    if not loader.exists():
        raise FileNotFoundError(f"{libc_dir} is not an unpacked glibc release: {loader} does not exist")
    return [str(loader), "--library-path", str(lib), program]


def _run(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, capture_output=True, env=clean_environment())


def replay_native_raw(trace: str | Path | Sequence[Op], every: int | None = None,
                      libc_dir: str | Path | None = None, allocator: str = "glibc") -> str:
    """Replay a trace file (or a sequence of Ops) on real glibc; return the JSON lines printed.

    A trace that does not parse raises TraceError naming the line; nothing runs. `allocator`
    names another real allocator to preload (memlab.native.allocators): its lines carry only
    op, label, brk and rss, and its `t` and `o` lines, glibc's own calls, are skipped.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "one.trace"
    >>> _ = path.write_text("a 0 1\\n")
    >>> replay_native_raw(path).startswith('{"op": 1, "label": "end", "brk": ')
    True
    """
    if every is not None and (type(every) is not int or every < 1):
        raise ValueError(f"every must be a positive int or None (got {every!r})")
    with tempfile.TemporaryDirectory(prefix="memlab-") as tmp:
        if isinstance(trace, (str, Path)):
            path = Path(trace)
            if not path.is_file():
                raise FileNotFoundError(f"no trace file {str(path)!r}")
        else:
            path = Path(tmp) / "ops.trace"
            path.write_text(format_trace(trace))
        args = _command(libc_dir, allocator) + (["--every", str(every)] if every else []) + [str(path)]
        result = _run(args)
        if result.returncode == 2:
            raise _trace_error(path, result.stderr.decode("utf-8", "replace"))
        if result.returncode != 0:
            how = f"signal {-result.returncode}" if result.returncode < 0 else f"exit status {result.returncode}"
            raise NativeError(f"the real replayer ended with {how}: {result.stderr.decode(errors='replace').strip()}")
        return result.stdout.decode("utf-8")


def _trace_error(path: Path, stderr: str) -> Exception:
    """The TraceError that the replayer's refusal (``line N: REASON: LINE``) describes.

    The line is read back from the file, so that blanks at its ends survive.
    """
    match = _REFUSAL.match(stderr)
    if not match:
        return NativeError(stderr.strip())
    lineno = int(match.group(1))
    lines = path.read_bytes().split(b"\n")
    line = lines[lineno - 1].decode("utf-8", "replace") if lineno <= len(lines) else ""
    reason = stderr[match.end():].removesuffix("\n")
    reason = reason.removesuffix(": " + line)
    return TraceError(lineno, line, reason)


def replay_native(trace: str | Path | Sequence[Op], every: int | None = None,
                  libc_dir: str | Path | None = None, allocator: str = "glibc") -> list[dict]:
    """Replay a trace on real glibc (or on a preloaded `allocator`: "jemalloc", "tcmalloc",
    "mimalloc"); one dict per snapshot, keys as in TRACE-FORMAT.md (a rival's: op, label, brk, rss).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "one.trace"
    >>> _ = path.write_text("a 0 1\\ns first\\n")
    >>> snap = replay_native(path)[0]   # glibc 2.36 and 2.41 give these numbers
    >>> snap["label"], snap["uordblks"], snap["brk"]
    ('first', 688, 135168)
    """
    return [json.loads(line) for line in replay_native_raw(trace, every, libc_dir, allocator).splitlines()]


def glibc_version(libc_dir: str | Path | None = None) -> str:
    """gnu_get_libc_version() of this machine's glibc, or of the release unpacked at libc_dir.

    >>> glibc_version().count(".") >= 1
    True
    """
    result = _run(_command(libc_dir) + ["--version"])
    if result.returncode != 0:
        raise NativeError(f"the real replayer failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode().strip()
