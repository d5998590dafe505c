"""Run a trace on the machine's real glibc (or an unpacked glibc release) with the C replayer."""

from __future__ import annotations

import json
import mmap
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from memlab.errors import MemlabError, TraceError, UsageError
from memlab.glibc.arch import ARCHES, DEFAULT_ARCH
from memlab.native.allocators import allocator as _allocator, check_settings, preload_prefix
from memlab.native.build import build
from memlab.trace import Op, format_trace

__all__ = ["NativeError", "ended_by", "replay_native", "replay_native_raw", "iter_native", "glibc_version",
           "clean_environment", "tls_preload", "recorded_arch", "replay_arch"]

_LIBDIR = Path("usr/lib/x86_64-linux-gnu")
_LOADER = "ld-linux-x86-64.so.2"
_REFUSAL = re.compile(r"line (\d+): ")
_SETTING = re.compile(rb"^[ \t\r\x0b\x0c]*#[ \t\r\x0b\x0c]*(tls|arch)[ \t\r\x0b\x0c]+"
                      rb"([^ \t\r\x0b\x0c]+)[ \t\r\x0b\x0c]*$")
_HEAD = 1 << 16      # `# tls M` and `# arch NAME` stand before the first operation: near the start


class NativeError(MemlabError):
    """The real replayer stopped abnormally (killed by a signal, or an I/O failure).

    `status` is its exit status as subprocess gives it (-N: killed by signal N; None if
    unknown), `detail` what it said on stderr, `ended` how it ended, in words.

    >>> e = NativeError("the real replayer ended early", status=-9)
    >>> str(e), e.ended
    ('the real replayer ended early', 'was killed by SIGKILL (signal 9)')
    """

    def __init__(self, message: str, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail

    @property
    def ended(self) -> str:
        return ended_by(self.status) if self.status is not None else "failed"


def ended_by(status: int) -> str:
    """How a process ended, in words that follow its name, from its subprocess return code.

    >>> ended_by(-11), ended_by(1)
    ('was killed by SIGSEGV (signal 11)', 'exited with status 1')
    """
    if status >= 0:
        return f"exited with status {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        name = "a signal"
    return f"was killed by {name} (signal {-status})"


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the variables that change malloc or the loader.

    MALLOC_* and GLIBC_TUNABLES change malloc's defaults (MALLOC_CONF jemalloc's); LD_* could
    load another library in front of it; TCMALLOC_* and MIMALLOC_* tune the rival allocators.

    >>> import os; os.environ["MALLOC_TOP_PAD_"] = "0"
    >>> "MALLOC_TOP_PAD_" in clean_environment(); del os.environ["MALLOC_TOP_PAD_"]
    False
    """
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("MALLOC_", "LD_", "TCMALLOC_", "MIMALLOC_")) or k == "GLIBC_TUNABLES")}
    env.update(extra or {})
    return env


def _command(libc_dir: str | Path | None, allocator: str = "glibc", arch: str = "x86-64") -> list[str]:
    """The replayer's command line prefix, through another release's loader or with a rival
    allocator preloaded (then with --rival: see replay.c) if asked; `arch` "i386" runs the
    replayer built with -m32 on the machine's 32-bit glibc."""
    if arch != "x86-64" and (libc_dir is not None or _allocator(allocator).rival):
        raise ValueError(f"--arch {arch} replays on this machine's own {arch} glibc only "
                         f"(no other release, no other allocator)")
    program = str(build("replay", arch))
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


def _run(args: list[str], extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, capture_output=True, env=clean_environment(extra))


def _trace_file(trace: str | Path | bytes | Sequence[Op], tmp: str) -> Path:
    """A regular file holding the trace: the path itself, or a copy in `tmp`.

    Bytes are written as they are; a path that is not a regular file (a pipe,
    /dev/stdin) is read once and copied, so that the replayer, and the re-reading
    of a refused line, see the same bytes; Ops are formatted.
    """
    copy = Path(tmp) / "trace"
    if isinstance(trace, (bytes, bytearray, memoryview)):
        copy.write_bytes(trace)
        return copy
    if isinstance(trace, (str, Path)):
        path = Path(trace)
        try:
            if stat.S_ISREG(path.stat().st_mode):
                return path
            copy.write_bytes(path.read_bytes())
        except OSError as e:
            raise FileNotFoundError(f"cannot read trace {str(path)!r}: {e.strerror}") from None
        return copy
    copy.write_text(format_trace(trace))
    return copy


def _creates_threads(path: Path) -> bool:
    """True if some line of the trace starts with `n` and a blank (a thread creation, or a bad line)."""
    with open(path, "rb") as f:
        if f.read(2) in (b"n ", b"n\t"):
            return True
        try:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                return m.find(b"\nn ") >= 0 or m.find(b"\nn\t") >= 0
        except ValueError:          # an empty file
            return False


def tls_preload(path: Path, arch: str = "x86-64") -> dict[str, str]:
    """The environment that gives the replayer the trace's `# tls M` (M - 1 libraries preloaded).

    The line stands among the comments before the first operation; without it, M is 1 (libc's).
    Only a trace that creates threads needs it (the replayer checks that it has M modules then).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.trace"
    >>> _ = path.write_text("# tls 3\\nn 1\\n")
    >>> len(tls_preload(path)["LD_PRELOAD"].split())
    2
    """
    found = _header(path).get("tls", "1")
    modules = int(found) if found.isdigit() else 1
    if modules <= 1 or not _creates_threads(path):
        return {}
    first = build("tls_module", arch)
    copies = []
    for k in range(1, modules):
        copy = first.with_name(f"{first.stem}-{k}.so")
        if not copy.exists():        # a copy of its own: the loader loads one module per file
            tmp = copy.with_name(f".{copy.name}.{os.getpid()}")
            shutil.copyfile(first, tmp)
            os.replace(tmp, copy)
        copies.append(str(copy))
    return {"LD_PRELOAD": " ".join(copies)}


def _header(trace: Path | bytes) -> dict[str, str]:
    """The words of the `# tls M` and `# arch NAME` lines among the comments before the first
    operation of a trace file (or of the bytes it starts with); the replayer refuses a trace
    whose words are wrong, or given late or twice."""
    if isinstance(trace, bytes):
        head = trace[:_HEAD]
    else:
        with open(trace, "rb") as f:
            head = f.read(_HEAD)
    found: dict[str, str] = {}
    for line in head.split(b"\n")[:-1] if len(head) == _HEAD else head.split(b"\n"):
        body = line.strip(b" \t\r\x0b\x0c")
        if body and not body.startswith(b"#"):
            break
        match = _SETTING.match(line)
        if match:
            found.setdefault(match.group(1).decode(), match.group(2).decode("utf-8", "replace"))
    return found


def recorded_arch(trace: str | Path | bytes) -> str | None:
    """The architecture a trace file (or the bytes it starts with) says it was recorded on (its
    `# arch NAME` line), or None (also for a NAME memlab does not know: the parsers refuse it).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.trace"
    >>> _ = path.write_text("# memlab record\\n# arch i386\\na 0 1\\n")
    >>> recorded_arch(path)
    'i386'
    """
    found = _header(trace if isinstance(trace, bytes) else Path(trace)).get("arch")
    return found if found in ARCHES else None


def replay_arch(recorded: str | None, asked: str | None) -> str:
    """The architecture the command line replays on: the one asked for (`--arch`), else the
    trace's own, else x86-64.

    Asking for another architecture than the trace was recorded on is a UsageError: the sizes,
    and the calls glibc made, are those of a program built for the trace's own.

    >>> replay_arch("i386", None), replay_arch(None, None), replay_arch(None, "i386")
    ('i386', 'x86-64', 'i386')
    >>> replay_arch("i386", "x86-64")
    Traceback (most recent call last):
    ...
    memlab.errors.UsageError: the trace was recorded on i386 (its # arch line), not on x86-64: replay it with --arch i386, or with no --arch
    """
    if asked is None:
        return recorded or DEFAULT_ARCH
    if recorded is not None and recorded != asked:
        raise UsageError(f"the trace was recorded on {recorded} (its # arch line), not on {asked}: "
                         f"replay it with --arch {recorded}, or with no --arch")
    return asked


def _check_every(every: int | None) -> None:
    if every is not None and (type(every) is not int or not 1 <= every < 2**63):
        raise ValueError(f"every must be an int in 1..2**63-1 or None (got {every!r})")


def _failure(path: Path, status: int, stderr: bytes) -> Exception:
    """The exception for a replayer that ended with `status` (2: a refused trace line)."""
    if status == 2:
        return _trace_error(path, stderr.decode("utf-8", "replace"))
    detail = stderr.decode(errors="replace").strip()
    return NativeError(f"the real replayer {ended_by(status)}" + (f": {detail}" if detail else ""),
                       status=status, detail=detail)


def replay_native_raw(trace: str | Path | bytes | Sequence[Op], every: int | None = None,
                      libc_dir: str | Path | None = None, allocator: str = "glibc",
                      settings: dict[str, str] | None = None, arch: str | None = None,
                      arenas: bool = False) -> str:
    """Replay a trace file (or its bytes, or a sequence of Ops) on real glibc; return the JSON lines printed.

    A trace that does not parse raises TraceError naming the line; nothing runs. `allocator`
    names another real allocator to preload (memlab.native.allocators): its lines carry only
    op, label, brk and rss, and its `t` and `o` lines, glibc's own calls, are skipped.
    `settings` are environment variables for that allocator (jemalloc: MALLOC_CONF; tcmalloc:
    TCMALLOC_*; mimalloc: MIMALLOC_*); no other variable reaches the replayer. `arch` "i386"
    replays on the machine's 32-bit glibc (the replayer built with -m32); None replays on the
    trace's own (its `# arch NAME` line, else x86-64). An `arch` given is taken as asked, also
    for a trace recorded on the other (the command line refuses that: `replay_arch`). With `arenas`,
    each glibc snapshot also has "arenas": [[system bytes, bytes in use], ...], one pair per arena
    as malloc_stats() lists them (main first, then the newest).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "one.trace"
    >>> _ = path.write_text("a 0 1\\n")
    >>> replay_native_raw(path).startswith('{"op": 1, "label": "end", "brk": ')
    True
    """
    _check_every(every)
    settings = check_settings(allocator, settings)
    with tempfile.TemporaryDirectory(prefix="memlab-") as tmp:
        path = _trace_file(trace, tmp)
        arch = arch or recorded_arch(path) or DEFAULT_ARCH
        args = (_command(libc_dir, allocator, arch) + (["--every", str(every)] if every else [])
                + (["--arenas"] if arenas else []) + [str(path)])
        result = _run(args, settings if _allocator(allocator).rival else tls_preload(path, arch))
        if result.returncode != 0:
            raise _failure(path, result.returncode, result.stderr)
        return result.stdout.decode("utf-8")


def iter_native(trace: str | Path | bytes | Sequence[Op], every: int | None = None,
                libc_dir: str | Path | None = None, allocator: str = "glibc",
                arch: str | None = None, arenas: bool = False) -> Iterator[dict]:
    """replay_native's snapshots one at a time, as the replayer prints them (memory stays flat);
    with `arenas`, each has the per-arena pairs as in replay_native_raw.

    A failure of the replayer (NativeError, with its status) is raised after the snapshots
    it printed whole; a line it was cut off in the middle of is dropped.

    >>> [s["label"] for s in iter_native(b"a 0 1\\ns one\\nf 0\\n")]
    ['one', 'end']
    """
    _check_every(every)
    with tempfile.TemporaryDirectory(prefix="memlab-") as tmp, tempfile.TemporaryFile() as errors:
        path = _trace_file(trace, tmp)
        arch = arch or recorded_arch(path) or DEFAULT_ARCH
        args = (_command(libc_dir, allocator, arch) + (["--every", str(every)] if every else [])
                + (["--arenas"] if arenas else []) + [str(path)])
        extra = None if _allocator(allocator).rival else tls_preload(path, arch)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errors, env=clean_environment(extra))
        try:
            for line in proc.stdout:
                if not line.endswith(b"\n"):   # cut off by the replayer's death: wait for its status
                    break
                yield json.loads(line)
            status = proc.wait()
        finally:
            if proc.poll() is None:     # the reader stopped early: end the replayer
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if status != 0:
            errors.seek(0)
            raise _failure(path, status, errors.read())


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


def replay_native(trace: str | Path | bytes | Sequence[Op], every: int | None = None,
                  libc_dir: str | Path | None = None, allocator: str = "glibc",
                  settings: dict[str, str] | None = None, arch: str | None = None,
                  arenas: bool = False) -> list[dict]:
    """Replay a trace on real glibc (or on a preloaded `allocator`: "jemalloc", "tcmalloc",
    "mimalloc"); one dict per snapshot, keys as in docs/trace-format.md (a rival's: op, label, brk, rss).

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "one.trace"
    >>> _ = path.write_text("a 0 1\\ns first\\n")
    >>> snap = replay_native(path)[0]   # glibc 2.36 and 2.41 give these numbers
    >>> snap["label"], snap["uordblks"], snap["brk"]
    ('first', 688, 135168)
    >>> replay_native(path, arch="i386")[0]["uordblks"]    # glibc 2.36 for i386
    424
    """
    return [json.loads(line) for line in
            replay_native_raw(trace, every, libc_dir, allocator, settings, arch, arenas).splitlines()]


def glibc_version(libc_dir: str | Path | None = None, arch: str = "x86-64") -> str:
    """gnu_get_libc_version() of this machine's glibc (for `arch`), or of the release unpacked at libc_dir.

    >>> glibc_version().count(".") >= 1
    True
    """
    result = _run(_command(libc_dir, arch=arch) + ["--version"])
    if result.returncode != 0:
        raise NativeError(f"the real replayer failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode().strip()
