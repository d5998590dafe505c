"""The command line: `python -m memlab replay | compare | record ...`.

    python -m memlab replay TRACE [--every N] [--json] [--native [--allocator NAME] [--arch ARCH]] [--glibc VERSION]
                                  [--leaks] [--arenas]
    python -m memlab compare TRACE [--every N] [--glibc VERSION] [--arch ARCH] [--arenas]
    python -m memlab record -o FILE -- PROGRAM ARGS...
    python -m memlab scenario [NAME [PARAM=VALUE ...]] [--glibc VERSION] [--arch ARCH]
    python -m memlab scenario vecvec --n N [--every K] [--json] [--glibc VERSION]
    python -m memlab score ALLOCATOR.py [TRACE ...] [--class NAME] [--glibc VERSION]

`replay` runs a trace on memlab's model of glibc (or, with --native, on the real
glibc) and prints its snapshots, then with --leaks the blocks left at exit in Valgrind's
leak classes (memlab's report; with --native, the real memcheck's); `compare` runs both,
snapshot by snapshot, and stops at the first snapshot and field where they differ.
--arenas adds glibc's per-arena detail to each snapshot, on both sides: (system bytes, in-use
bytes) of each arena, the main arena first, then the newest (JSON: an "arenas" key after the
others, as the real replayer prints it; table: an arenas column, SYSTEM/IN_USE per arena), and
compare compares it too, naming the arena that differs; it needs glibc (no rival
--allocator).
--glibc picks the release (2.36, the default, 2.41 or 2.43): the real 2.41 and 2.43 are Debian's libc6 packages,
fetched once into memlab's cache and run through their own loader; --allocator runs a native
replay on jemalloc, tcmalloc or mimalloc instead, preloaded (only the break and resident
bytes mean something there); --arch i386 runs a native replay on the machine's 32-bit glibc
(the replayer built with -m32) and, without --native, on the model built for i386 (glibc
2.36), so compare and scenario take it too; `record` writes the
malloc-family calls of a real program as a trace (of an x86-64 or an i386 program; its `# arch`
line makes that architecture the default of replay and compare); `scenario` prints one of the
lessons' traces (to replay or compare), or with --n runs it on the model and
prints its snapshots (vecvec: with bulk steps, so N may be 1e8); `score` replays traces (by
default the lessons' own) on an allocator written in Python (a `memlab.allocators.Allocator`
subclass), checking every call, and prints its utilization, resident memory, memory given back
and throughput beside glibc's model.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import stat
import sys
import traceback
from collections import deque
from contextlib import closing
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TextIO

from memlab.errors import MemlabError, TraceError, UsageError
from memlab.glibc.arch import ARCHES, DEFAULT_ARCH
from memlab.glibc.release import DEFAULT_RELEASE, RELEASES
from memlab.leaks import LeakSummary, PointerGraph, classify
from memlab.native.allocators import NAMES
from memlab.native.valgrind import valgrind_leaks, valgrind_version
from memlab.native.runner import NativeError, recorded_arch, replay_arch
from memlab.progress import AUTO, auto, shown
from memlab.snapshot import ARENAS, FIELDS, Snapshot
from memlab.units import PAGE
from memlab.trace import MALLOPT_PARAMS, Op, Trace, read_trace

__all__ = ["main", "SUPPORTED_GLIBC", "format_table", "format_points", "TableWriter"]

#: Architectures the model implements (`--arch` on the model side); the real side runs all of ARCHES.
MODEL_ARCHES = tuple(ARCHES)

#: glibc releases the model imitates (`--glibc`); the first is the default.
SUPPORTED_GLIBC = tuple(RELEASES)
DEFAULT_GLIBC = DEFAULT_RELEASE

#: A message on stderr is at most this long; echoed input is cut to ECHO characters.
MESSAGE = 300
ECHO = 80
#: Set to 1 to see the traceback of an unexpected error instead of its one-line summary.
DEBUG_VARIABLE = "MEMLAB_DEBUG"
#: `replay -` and `compare -` read the trace from standard input.
STDIN = "-"
#: Size of a vecvec's outer element (a std::vector: three pointers).
_VECTOR = 24
_SIZE_LIMIT = 2**64


def cut(text: str, limit: int = ECHO) -> str:
    """`text` as echoed in a message: at most `limit` characters, an ellipsis where it was cut.

    >>> cut("a" * 100, 10)
    'aaaaaaa...'
    """
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _say(message: str) -> None:
    """Print one line on stderr, prefixed `memlab: ` (control characters escaped, length capped)."""
    line = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(message))
    try:
        print(f"memlab: {cut(line, MESSAGE)}", file=sys.stderr)
    except (OSError, ValueError):   # stderr itself is gone: nothing more to say
        pass


def format_table(snapshots: Sequence[Snapshot], names: Sequence[str] | None = None) -> str:
    """Snapshots as an aligned table, one row each; numbers with thousands separators.

    `names`, when given, adds a first column naming each row's source.

    >>> print(format_table([Snapshot(1, "first", 135168, 135168, 1, 0, 0, 0, 0, 688, 134480, 134480, 4096)]))
    op  label      brk    arena  ordblks  smblks  hblks  hblkhd  fsmblks  uordblks  fordblks  keepcost    rss
     1  first  135,168  135,168        1       0      0       0        0       688   134,480   134,480  4,096
    """
    header = (["source"] if names is not None else []) + list(FIELDS)
    rows = []
    for k, s in enumerate(snapshots):
        cells = [s.label if f == "label" else f"{getattr(s, f):,}" for f in FIELDS]
        rows.append(([names[k]] if names is not None else []) + cells)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    left = {"label", "source"}
    lines = []
    for r in [header, *rows]:
        cells = [c.ljust(w) if h in left else c.rjust(w) for c, w, h in zip(r, widths, header)]
        lines.append("  ".join(cells))
    return "\n".join(line.rstrip() for line in lines)


def arena_cell(snapshot: Snapshot) -> str:
    """A snapshot's arenas in a table cell: SYSTEM/IN_USE per arena, main first, then the newest.

    >>> arena_cell(Snapshot(1, "", *[0] * 11, arenas=((135168, 944), (135168, 2944))))
    '135,168/944 135,168/2,944'
    """
    return " ".join(f"{system:,}/{in_use:,}" for system, in_use in snapshot.arenas or ())


class TableWriter:
    """Writes snapshot rows as they come, so that memory does not grow with their number.

    The first HOLD rows are held back to size the columns (a short table is exactly
    `format_table`); later rows keep those widths, and a wider value widens its column
    from that row on.

    >>> out = io.StringIO(); w = TableWriter(out)
    >>> w.add(Snapshot(1, "first", 135168, 135168, 1, 0, 0, 0, 0, 688, 134480, 134480, 4096)); w.close()
    >>> out.getvalue().splitlines()[1].split()[:3]
    ['1', 'first', '135,168']
    """

    HOLD = 1000

    def __init__(self, out: TextIO, named: bool = False, arenas: bool = False) -> None:
        """`arenas` adds a last column: each arena's system and in-use bytes (`arena_cell`)."""
        self._out = out
        self._named = named
        self._arenas = arenas
        self._held: list[tuple[Snapshot, str | None]] = []
        self._widths: list[int] | None = None
        self._header = (["source"] if named else []) + list(FIELDS) + ([ARENAS] if arenas else [])

    def add(self, snapshot: Snapshot, name: str | None = None) -> None:
        if self._widths is None:
            self._held.append((snapshot, name))
            if len(self._held) >= self.HOLD:
                self._release()
            return
        self._write(self._cells(snapshot, name))

    def close(self) -> None:
        if self._widths is None:
            self._release()

    def _cells(self, s: Snapshot, name: str | None) -> list[str]:
        cells = [s.label if f == "label" else f"{getattr(s, f):,}" for f in FIELDS]
        return ([name or ""] if self._named else []) + cells + ([arena_cell(s)] if self._arenas else [])

    def _release(self) -> None:
        rows = [self._cells(s, n) for s, n in self._held]
        self._held = []
        self._widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(self._header)]
        for r in [self._header, *rows]:
            self._write(r)

    def _write(self, row: list[str]) -> None:
        widths, left = self._widths, ("label", "source", ARENAS)
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
        cells = [c.ljust(w) if h in left else c.rjust(w) for c, w, h in zip(row, widths, self._header)]
        self._out.write("  ".join(cells).rstrip() + "\n")


def _model_factory(glibc: str, arch: str = DEFAULT_ARCH):
    try:
        from memlab.glibc import Malloc
    except ImportError as e:
        raise MemlabError(f"memlab's glibc model is not available ({e})") from None
    return lambda: Malloc(glibc=glibc, arch=arch)


#: Traces read before their command ran (a pipe's, to find its `# arch` line): path -> bytes.
_read_ahead: dict[str, bytes] = {}


def _read_bytes(path: str) -> bytes:
    """The trace's bytes, read once: a file, a pipe, /dev/stdin, or `-` (standard input)."""
    if path in _read_ahead:
        return _read_ahead.pop(path)
    if path == STDIN:
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise UsageError("no standard input to read the trace from")
        return stream.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise UsageError(f"cannot read trace {cut(path)!r}: {e.strerror}") from None


def _trace_arch(path: str | None) -> str | None:
    """The `# arch` a trace says it was recorded on (None if it says none): read from the start of
    a regular file; any other (standard input, a pipe) is read whole now, once, and kept for the
    command (`_read_bytes`)."""
    if path is None:
        return None
    try:
        if path != STDIN and stat.S_ISREG(os.stat(path).st_mode):
            return recorded_arch(path)
    except OSError:
        return None         # the command says why it cannot read the trace
    _read_ahead[path] = _read_bytes(path)
    return recorded_arch(_read_ahead[path])


def _model_run(ops: Trace | Sequence[Op], every: int | None, glibc: str, sink: Callable[[Snapshot], Any],
               arenas: bool = False, arch: str = DEFAULT_ARCH):
    """A Replayer of the trace on the model (of `glibc` built for `arch`) that hands each snapshot
    to `sink` (with its arenas)."""
    from memlab.replay import Replayer

    return Replayer(ops, _model_factory(glibc, arch)(), every, sink=sink, arenas=arenas)


def _libc_dir(glibc: str):
    """None to run on this machine's glibc, else the unpacked release (fetched on first use)."""
    from memlab.native import glibc_version
    from memlab.native.glibc_releases import SUITES, ensure_release

    if glibc not in SUITES:
        here = glibc_version()
        if glibc != here:
            raise MemlabError(f"this machine runs glibc {here}, and glibc {glibc} cannot be fetched "
                              f"(fetchable: {', '.join(SUITES)})")
        return None
    return ensure_release(glibc)


def _real_name(libc_dir, arch: str = DEFAULT_ARCH) -> str:
    from memlab.native import glibc_version

    if arch != DEFAULT_ARCH:
        return f"this machine's {arch} glibc {glibc_version(arch=arch)}"
    if libc_dir is None:
        return f"this machine's glibc {glibc_version()}"
    return f"the real glibc {glibc_version(libc_dir)} (unpacked in {libc_dir})"


def _native_snapshots(data: bytes, every: int | None, libc_dir=None,
                      arch: str = DEFAULT_ARCH, arenas: bool = False) -> Iterator[Snapshot]:
    """The real replayer's snapshots of the trace `data`, one at a time (closing it ends the replayer)."""
    from memlab.native import iter_native

    with closing(iter_native(data, every, libc_dir=libc_dir, arch=arch, arenas=arenas)) as lines:
        for d in lines:
            yield Snapshot.from_dict(d)


def _model_arch(command: str, arch: str, glibc: str | None) -> None:
    """Refuse, in one line, an architecture (or an architecture and release) the model does not
    implement."""
    if arch not in MODEL_ARCHES:
        raise UsageError(f"{command} --arch {arch}: memlab's model of glibc is {', '.join(MODEL_ARCHES)} "
                         f"only so far; the real {arch} glibc runs with replay --native --arch {arch}")
    if arch == DEFAULT_ARCH:
        return
    try:
        _model_factory(glibc or DEFAULT_GLIBC, arch)()
    except ValueError as e:
        raise UsageError(f"{command} --arch {arch}: {e}") from None


def _model_name(glibc: str, arch: str) -> str:
    """How the model is named in a header: `memlab's model of glibc 2.36` (`for i386`)."""
    return f"memlab's model of glibc {glibc}" + (f" for {arch}" if arch != DEFAULT_ARCH else "")


def _arenas_refused(command: str, args: argparse.Namespace) -> None:
    """Refuse, in one line, --arenas where glibc's per-arena statistics do not exist."""
    if not args.arenas:
        return
    if args.allocator not in (None, "glibc"):
        raise UsageError(f"{command} --arenas lists glibc's arenas; {args.allocator} has none of them "
                         f"(drop --arenas or --allocator {args.allocator})")


def _asked(args: argparse.Namespace) -> dict[str, bool]:
    """The real side's options beyond the usual ones: arenas=True only when --arenas asked for it."""
    return {"arenas": True} if args.arenas else {}


def _printer(out: TextIO, as_json: bool,
             arenas: bool = False) -> tuple[Callable[[Snapshot], None], Callable[[], None]]:
    """A sink that prints each snapshot as it comes (JSON lines or a table), and its closing call."""
    if as_json:
        return (lambda s: out.write(s.to_json() + "\n")), (lambda: None)
    table = TableWriter(out, arenas=arenas)
    return table.add, table.close


def _cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    _arenas_refused("replay", args)
    data = _read_bytes(args.trace)
    if args.allocator not in (None, "glibc"):
        if args.leaks:
            raise UsageError("--leaks checks glibc's model or, with --native, the real glibc under Valgrind "
                             "(which replaces the allocator): give no --allocator")
        return _replay_rival(args, data, read_trace(data), out)
    if args.native:      # without --glibc: this machine's own glibc, whatever its release
        if args.leaks and args.arch != DEFAULT_ARCH:
            raise UsageError(f"--leaks runs Valgrind on the {DEFAULT_ARCH} replayer; drop --arch {args.arch}")
        if args.arch != DEFAULT_ARCH and args.glibc is not None:
            raise UsageError(f"--arch {args.arch} runs on this machine's own {args.arch} glibc; "
                             f"drop --glibc {cut(args.glibc, 30)}")
        libc_dir = None if args.glibc is None else _libc_dir(args.glibc)
        # The C replayer checks the trace itself (in parse_trace's words): it is not parsed here.
        held: list[Snapshot] = []     # a table's header counts the operations: the end snapshot's
        emit, close = _printer(out, True) if args.json else (held.append, lambda: None)
        last = ended = None
        try:
            for last in _native_snapshots(data, args.every, libc_dir, args.arch, **_asked(args)):
                emit(last)
        except NativeError as e:
            ended = e
        if not args.json:
            count = "" if ended is not None else f"{held[-1].op} operations, "
            where = _real_name(libc_dir, args.arch)
            out.write(f"# {cut(args.trace)}: {count}on {where}\n")
            emit, close = _printer(out, False, args.arenas)
            for s in held:
                emit(s)
        if ended is not None:
            close()
            out.flush()
            raise MemlabError(_ended_early(ended, last, None, None, libc_dir, args.arch))
        if args.leaks:
            close()
            _print_leaks(out, args.json, valgrind_leaks(data), f"Valgrind {valgrind_version()}'s memcheck")
            return 0
    else:
        _model_arch("replay", args.arch, args.glibc)
        args.glibc = args.glibc or DEFAULT_GLIBC
        ops = read_trace(data)
        if not args.json:
            out.write(f"# {cut(args.trace)}: {ops.count} operations, on {_model_name(args.glibc, args.arch)}\n")
        emit, close = _printer(out, args.json, args.arenas)
        with shown(AUTO, "replay") as progress:
            replayer = _model_run(ops, args.every, args.glibc, emit, args.arenas, args.arch)
            replayer.run(progress=progress)
        if args.leaks:
            close()
            report = classify(PointerGraph.from_trace(replayer.trace, replayer.nulls))
            _print_leaks(out, args.json, report.summary, "memlab (memcheck's rules)")
            return 0
    close()
    return 0


def _print_leaks(out: TextIO, as_json: bool, summary: LeakSummary, source: str) -> None:
    """The leak summary after the snapshots: one JSON line, or memcheck's text under a comment."""
    if as_json:
        out.write(json.dumps({"leaks": summary.as_dict()}) + "\n")
        return
    out.write(f"# blocks left at exit, as {source} classifies them\n{summary}\n")


def _deviation(ops: tuple[Op, ...], field: str) -> str | None:
    """The documented deviation (DESIGN.md, "Known deviations") that explains a difference, if any."""
    if field != "op" and any(op.kind == "memalign" and op.align > PAGE for op in ops):
        return ("known deviation: memalign with an alignment above 4096 depends on the absolute "
                "(randomised) address of the heap; the model's is exact only for a break starting "
                "at its heap_start")
    return None


def _replay_rival(args: argparse.Namespace, data: bytes, ops: tuple[Op, ...], out: TextIO) -> int:
    """`replay --native --allocator NAME`: the trace on a preloaded rival; only brk and rss."""
    from memlab.native import replay_native
    from memlab.native.allocators import library

    if not args.native or args.glibc is not None:
        raise UsageError(f"--allocator {args.allocator} runs on the real library: give --native "
                         f"(and no --glibc: it runs over this machine's glibc)")
    if args.arch != DEFAULT_ARCH:
        raise UsageError(f"--allocator {args.allocator} runs on x86-64 only, not with --arch {args.arch}")
    points = replay_native(data, args.every, allocator=args.allocator)
    skipped = sum(op.kind in ("trim", "mallopt") for op in ops)
    note = (f"{skipped} t/o line(s) skipped: malloc_trim and mallopt tune glibc's malloc, "
            f"not {args.allocator}") if skipped else ""
    if args.json:
        out.write("".join(json.dumps(p) + "\n" for p in points))
        if note:
            _say(note)
        return 0
    out.write(f"# {cut(args.trace)}: {sum(op.kind != 'snapshot' for op in ops)} operations, on {args.allocator} "
              f"({library(args.allocator)}, preloaded) over this machine's glibc\n")
    out.write(f"# only the break and resident bytes: mallinfo2's fields are glibc's, "
              f"{args.allocator} does not keep them\n")
    if note:
        out.write(f"# {note}\n")
    out.write(format_points(points) + "\n")
    return 0


def format_points(points: Sequence[dict]) -> str:
    """A rival allocator's snapshots (op, label, brk, rss) as an aligned table.

    >>> print(format_points([{"op": 1, "label": "first", "brk": 0, "rss": 12288}]))
    op  label  brk     rss
     1  first    0  12,288
    """
    header = ["op", "label", "brk", "rss"]
    rows = [[p["label"] if h == "label" else f"{p[h]:,}" for h in header] for p in points]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(c.ljust(w) if h == "label" else c.rjust(w) for c, w, h in zip(r, widths, header))
             for r in [header, *rows]]
    return "\n".join(line.rstrip() for line in lines)


def _cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    """Both sides snapshot by snapshot, as the real replayer prints them: the model runs only as
    far as the real side has come, and the comparison stops at the first difference. A real
    side that ends early leaves the pairs compared so far, then one line on how it ended."""
    if args.allocator not in (None, "glibc"):
        raise UsageError(f"compare holds memlab's model of glibc against the real glibc; {args.allocator} is "
                         f"another allocator, not comparable with the model (run it with replay --native "
                         f"--allocator {args.allocator})")
    _arenas_refused("compare", args)
    _model_arch("compare", args.arch, args.glibc)
    data = _read_bytes(args.trace)
    ops = read_trace(data)
    note = ""
    if args.glibc is None or args.arch != DEFAULT_ARCH:    # this machine's glibc, against its
        from memlab.native import glibc_version            # profile if the model has one

        here = glibc_version(arch=args.arch)
        if args.glibc not in (None, here):
            raise UsageError(f"compare --arch {args.arch} runs on this machine's own {args.arch} glibc, "
                             f"{here}; drop --glibc {cut(args.glibc, 30)}")
        args.glibc = here if here in SUPPORTED_GLIBC else DEFAULT_GLIBC
        if here not in SUPPORTED_GLIBC:
            note = (f"# the model has no profile for glibc {here}; compared with {args.glibc}, "
                    f"so differences are expected (--glibc picks a release the model has)\n")
        libc_dir = None
    else:
        libc_dir = _libc_dir(args.glibc)
    out.write(f"# {cut(args.trace)}: {_model_name(args.glibc, args.arch)} against "
              f"{_real_name(libc_dir, args.arch)}\n")
    out.write(note)
    table = TableWriter(out, named=True, arenas=args.arenas)
    model: deque[Snapshot] = deque()
    replayer = _model_run(ops, args.every, args.glibc, model.append, args.arenas, args.arch)
    progress = auto("compare")        # a bar on stderr if it is a terminal, else None
    first = ended = last = None
    counts = [0, 0]
    native = iter(_native_snapshots(data, args.every, libc_dir, args.arch, **_asked(args)))
    try:
        for n in native:
            counts[1] += 1
            last = n
            if not model and not replayer.done:
                replayer.run(until=n.op, progress=progress)
            while not model and not replayer.done:   # `s` lines before the first operation
                replayer.step()
            if not model:
                table.add(n, "native")
                continue
            m = model.popleft()
            counts[0] += 1
            table.add(m, "model")
            table.add(n, "native")
            diff = m.first_difference(n)
            if diff:
                first = (n, diff)
                break
        else:
            replayer.run(progress=progress)
    except NativeError as e:
        ended = e
    finally:
        getattr(native, "close", lambda: None)()    # a stop at a difference ends the replayer
        if progress is not None:
            progress.close()
    if ended is None and first is None:
        counts[0] += len(model)
        for m in model:
            table.add(m, "model")
    table.close()
    if ended is not None:
        out.flush()
        raise MemlabError(_ended_early(ended, last, ops.count, counts[0], libc_dir, args.arch))
    if first is not None:
        n, (field, mine, theirs) = first
        where = f"DIFFER at the snapshot after op {n.op} (label {cut(n.label)!r}): "
        if field == ARENAS:
            line = where + f"the model has {mine} arena(s), the real glibc {theirs}"
        elif field.startswith(ARENAS):
            line = (where + f"arena {field[len(ARENAS) + 1:-1]} (system bytes, in-use bytes) is "
                    f"{mine!r} in the model, {theirs!r} on the real glibc")
        else:
            line = where + f"{field} is {mine!r} in the model, {theirs!r} on the real glibc"
    elif counts[0] != counts[1]:
        field = "op"
        line = f"DIFFER: the model took {counts[0]} snapshots, the real glibc {counts[1]}"
    else:
        out.write(f"AGREE: all {counts[0]} snapshots are identical\n")
        return 0
    why = _deviation(ops, field)
    out.write(line + (f" ({why})" if why else "") + "\n")
    return 1


def _ended_early(error: NativeError, last: Snapshot | None, total: int | None, compared: int | None,
                 libc_dir, arch: str = DEFAULT_ARCH) -> str:
    """The line for a real replayer that ended before the trace did (`compared`: pairs, in compare)."""
    where = f"after op {last.op:,} (its last snapshot)" if last else "before its first snapshot"
    of = f" of a trace of {total:,} operations" if total is not None else ""
    said = f" ({cut(error.detail)})" if error.detail else ""
    agreed = ("" if compared is None else f"; the {compared:,} snapshot pair(s) before agree" if compared
              else "; nothing was compared")
    return (f"the real side ended early, {where}{of}: the replayer on {_real_name(libc_dir, arch)} "
            f"{error.ended}{said}{agreed}")


def _cmd_record(args: argparse.Namespace, out: TextIO) -> int:
    from memlab.native.recorder import record

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise UsageError("record needs a program to run: python -m memlab record -o FILE -- PROGRAM ARGS")
    return record(command, args.output, say=_say)


def _parse_values(items: Sequence[str]) -> dict[str, int]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        digits = value[1:] if value[:1] == "-" else value
        if not sep or not (digits.isascii() and digits.isdigit()):
            raise UsageError(f"scenario values are PARAM=INTEGER, not {cut(item)!r}")
        if len(digits) > 20:
            raise UsageError(f"{cut(name)} = {cut(value, 30)} is out of range")
        values[name] = int(value)
    return values


def _cmd_scenario(args: argparse.Namespace, out: TextIO) -> int:
    from memlab.scenarios import SCENARIOS, scenario

    if args.name is None:
        for s in SCENARIOS.values():
            params = " ".join(f"{p.name}={p.default}" for p in s.params)
            out.write(f"{s.name:18} {s.title}" + (f"  [{params}]" if params else "") + "\n")
        return 0
    if args.n is not None or args.json or args.every is not None:
        _model_arch("scenario", args.arch, args.glibc)
        return _run_scenario(args, out)
    values = _parse_values(args.values)
    try:
        chosen = scenario(args.name)
        text = chosen.text(**values)
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(e.args[0] if e.args else e) from None
    out.write(text)
    return 0


def _step_ops(steps: Sequence[tuple]) -> int:
    """Operations in a list of bulk steps (memlab.steps).

    >>> _step_ops([("a", 0, 72), ("w", 0), ("aw", 1, 3, 4), ("s", "built"), ("f*", 1, 3), ("f", 0)])
    12
    """
    total = 0
    for step in steps:
        kind = step[0]
        total += 2 * step[2] if kind == "aw" else step[2] if kind == "f*" else 0 if kind == "s" else 1
    return total


def _run_scenario(args: argparse.Namespace, out: TextIO) -> int:
    """Run a scenario on the model and print its snapshots as `replay` does, as they are taken."""
    from memlab.scenarios import scenario
    from memlab.scenarios.bulk import parse_count, run_vecvec, vecvec_steps

    try:
        chosen = scenario(args.name)
        n = parse_count(args.n) if args.n is not None else None
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(e.args[0] if e.args else e) from None
    if args.values:
        raise UsageError("give --n, not PARAM=VALUE, when running a scenario")
    emit, close = _printer(out, args.json)
    if chosen.name == "vecvec":
        n = n if n is not None else chosen.values()["n"]
        if _VECTOR * n >= _SIZE_LIMIT:
            raise UsageError(f"--n {cut(args.n, 30)} is too large: vecvec's outer array of n vectors needs "
                             f"{_VECTOR}*n bytes, which must be below 2**64 (n below "
                             f"{-(-_SIZE_LIMIT // _VECTOR):,})")
        ops = _step_ops(vecvec_steps(n))
        run = lambda progress: run_vecvec(n, args.every, _model_factory(args.glibc, args.arch)(), sink=emit)  # noqa: E731
    else:
        names = [p.name for p in chosen.params]
        given = {names[0]: n} if n is not None and names else {}
        try:
            trace = chosen.build(**given)
        except (TypeError, ValueError) as e:
            raise UsageError(e.args[0] if e.args else e) from None
        ops = sum(op.kind != "snapshot" for op in trace)
        run = lambda progress: _model_run(trace, args.every, args.glibc, emit,  # noqa: E731
                                          arch=args.arch).run(progress=progress)
    if not args.json:
        label = f"n={n:,}" if n is not None else "defaults"
        out.write(f"# scenario {chosen.name} ({label}): {ops:,} operations, "
                  f"on {_model_name(args.glibc, args.arch)}\n")
    with shown(AUTO, "scenario") as progress:
        run(progress)
    close()
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its refusals raised as one-line UsageErrors instead of usage text and exit."""

    def error(self, message: str):
        raise UsageError(f"{message} (see {self.prog} --help)")


def _every(text: str) -> int:
    """--every's value: a whole number from 1 to 2**63 - 1."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or not 1 <= int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"needs a whole number from 1 to 2**63-1, not {cut(text, 30)!r}")
    return int(text)


def _load_allocator(path: str, name: str | None):
    """The Allocator subclass defined in the Python file `path` (the one named `name`)."""
    import importlib.util

    from memlab.allocators import Allocator

    shown_path = cut(path)
    if not os.path.isfile(path):
        raise UsageError(f"no allocator file {shown_path!r}")
    module_name = "memlab_allocator_" + "".join(c if c.isalnum() else "_" for c in Path(path).stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{shown_path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module          # as an import would (dataclasses look it up)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise UsageError(f"{shown_path}: line {e.lineno}: {e.msg}") from None
    except OSError as e:
        raise UsageError(f"cannot read {shown_path!r}: {e.strerror or e}") from None
    except BaseException as e:       # the student's module ran and failed: one line
        if isinstance(e, KeyboardInterrupt):
            raise
        raise UsageError(f"{shown_path}: running it raised {type(e).__name__}: {cut(str(e))}") from None
    found = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Allocator)
             and v.__module__ == module_name]
    if name is not None:
        found = [v for v in found if v.__name__ == name]
        if not found:
            raise UsageError(f"{shown_path} defines no Allocator subclass named {cut(name, 40)!r}")
    if not found:
        raise UsageError(f"{shown_path} defines no subclass of memlab.allocators.Allocator")
    if len(found) > 1:
        names = ", ".join(v.__name__ for v in found)
        raise UsageError(f"{shown_path} defines {len(found)} allocators ({cut(names, 60)}): "
                         "pick one with --class NAME")
    return found[0]


def _cmd_score(args: argparse.Namespace, out: TextIO) -> int:
    from memlab.scenarios.scoring import TRACES, compare, format_scores
    from memlab.score import AllocatorFailed

    cls = _load_allocator(args.allocator_file, args.class_name)
    traces = {}
    for path in args.traces:
        data = _read_bytes(path)
        try:
            text = data.decode("utf-8")
            read_trace(text)
        except UnicodeDecodeError:
            raise UsageError(f"{cut(path)}: not a text file") from None
        except TraceError as e:
            raise UsageError(f"{cut(path)}: line {e.lineno}: {e.reason}: {cut(repr(e.line))}; "
                             "nothing was scored") from None
        traces[path] = text
    if not traces:
        traces = {name: make() for name, make in TRACES.items()}
    try:
        rows = compare(cls, traces, glibc=args.glibc)
    except AllocatorFailed as e:
        raise MemlabError(f"{cls.__name__} failed on {e}") from None
    out.write(format_scores(rows) + "\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m memlab", description="memlab: glibc malloc, simulated and real.")
    sub = p.add_subparsers(dest="command_name", required=True, metavar="COMMAND")

    def glibc_option(q: argparse.ArgumentParser) -> None:
        q.add_argument("--glibc", metavar="VERSION",
                       help=f"glibc release (one of {', '.join(SUPPORTED_GLIBC)}; the model's default "
                            f"is {DEFAULT_GLIBC}; the real library's is this machine's own)")

    def allocator_option(q: argparse.ArgumentParser) -> None:
        q.add_argument("--allocator", choices=NAMES, metavar="NAME",
                       help=f"the real allocator ({', '.join(NAMES)}; default glibc): the others are "
                            f"preloaded and report only the break and resident bytes")

    def arch_option(q: argparse.ArgumentParser) -> None:
        q.add_argument("--arch", choices=tuple(ARCHES), default=None, metavar="ARCH",
                       help=f"the architecture glibc is built for ({', '.join(ARCHES)}; default: the "
                            f"trace's own, from its `# arch` line, else {DEFAULT_ARCH}); i386: glibc "
                            f"2.36 only")

    def arenas_option(q: argparse.ArgumentParser) -> None:
        q.add_argument("--arenas", action="store_true",
                       help="also give each arena's system and in-use bytes (main first, then the newest)")

    def every_option(q: argparse.ArgumentParser) -> None:
        q.add_argument("--every", type=_every, metavar="N", help="also snapshot after every N-th operation")

    q = sub.add_parser("replay", help="replay a trace and print its snapshots")
    q.add_argument("trace", help="trace file (docs/trace-format.md); - reads standard input")
    every_option(q)
    q.add_argument("--json", action="store_true", help="print the exact JSON lines")
    q.add_argument("--native", action="store_true", help="run on the real glibc instead of the model")
    q.add_argument("--leaks", action="store_true",
                   help="then print the blocks left at exit in Valgrind's leak classes (with --native: "
                        "the real memcheck's, which needs valgrind)")
    allocator_option(q)
    glibc_option(q)
    arch_option(q)
    arenas_option(q)
    q.set_defaults(run=_cmd_replay)

    q = sub.add_parser("compare", help="replay on the model and on the real glibc; name the first difference")
    q.add_argument("trace", help="trace file (docs/trace-format.md); - reads standard input")
    every_option(q)
    glibc_option(q)
    allocator_option(q)
    arch_option(q)
    arenas_option(q)
    q.set_defaults(run=_cmd_compare)

    q = sub.add_parser("record", help="record a program's malloc calls as a trace",
                       description="Run PROGRAM with memlab's recorder preloaded. The first program writes FILE; "
                                   "every other process or exec'd program it starts writes FILE.<pid> "
                                   "(FILE.<pid>.<n> for later images of the same pid). MALLOC_* and "
                                   "GLIBC_TUNABLES are removed from the environment, as for replays. "
                                   "Each call is written as it is made, so a program that crashes or is "
                                   "killed keeps its calls; the trace then ends with a comment naming the "
                                   "signal, and record exits with 128 + its number, as a shell does.")
    q.add_argument("-o", "--output", required=True, metavar="FILE", help="trace file to write")
    q.add_argument("command", nargs=argparse.REMAINDER, metavar="-- PROGRAM ARGS", help="the program to run")
    q.set_defaults(run=_cmd_record)

    q = sub.add_parser("scenario", help="print a lesson's trace (no NAME: list the scenarios)")
    q.add_argument("name", nargs="?", help="scenario name")
    q.add_argument("values", nargs="*", metavar="PARAM=VALUE", help="parameter values (defaults otherwise)")
    q.add_argument("--n", metavar="N", help="run the scenario on the model with this n (1e8 or 100000000) "
                                             "and print its snapshots")
    every_option(q)
    q.add_argument("--json", action="store_true", help="run it and print the exact JSON lines")
    glibc_option(q)
    arch_option(q)
    q.set_defaults(run=_cmd_scenario)

    q = sub.add_parser("score", help="score an allocator written in Python against glibc's model",
                       description="Replay traces on the Allocator subclass ALLOCATOR.py defines, "
                                   "checking every call (aligned, mapped, no overlap, realloc "
                                   "copies), and print its utilization, resident memory, memory "
                                   "given back and throughput beside glibc's model.")
    q.add_argument("allocator_file", metavar="ALLOCATOR.py", help="a Python file defining a "
                   "memlab.allocators.Allocator subclass")
    q.add_argument("traces", nargs="*", metavar="TRACE",
                   help="trace files (default: the lessons' traces and programs)")
    q.add_argument("--class", dest="class_name", metavar="NAME",
                   help="the allocator class, when the file defines several")
    glibc_option(q)
    q.set_defaults(run=_cmd_score)
    return p


def _run(argv: Sequence[str] | None, out: TextIO) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:            # --help
        return e.code if isinstance(e.code, int) else 0
    if getattr(args, "glibc", None) not in (None, *SUPPORTED_GLIBC):
        raise UsageError(f"--glibc {cut(args.glibc, 30)} is not modelled; choose one of {', '.join(SUPPORTED_GLIBC)}")
    if hasattr(args, "glibc") and args.glibc is None and args.run not in (_cmd_replay, _cmd_compare):
        args.glibc = DEFAULT_GLIBC
    try:
        if hasattr(args, "arch"):
            args.arch = replay_arch(_trace_arch(getattr(args, "trace", None)), args.arch)
        return args.run(args, out)
    except TraceError as e:
        raise UsageError(f"{cut(args.trace)}: line {e.lineno}: {e.reason}: {cut(repr(e.line))}; "
                         "nothing was replayed") from None
    finally:
        _read_ahead.clear()


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null, so that Python's final flush says nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 differ/failed, 2 bad input).

    Every refusal is one line on stderr, never a traceback: an unexpected error is
    summed up in one line with status 1 (MEMLAB_DEBUG=1 raises it instead). A closed
    output pipe ends the run quietly with 141 (128 + SIGPIPE), as Unix tools do.

    >>> main(["replay", "--glibc", "2.99", "x.trace"])
    2
    """
    out = out or sys.stdout
    try:
        try:
            return _run(argv, out)
        finally:
            if out is sys.stdout:
                out.flush()        # a closed pipe shows here, inside the handlers below
    except UsageError as e:
        _say(e)
        return 2
    except BrokenPipeError:
        if out is sys.stdout:
            _quiet_stdout()
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt:
        _say("interrupted")
        return 128 + signal.SIGINT
    except MemlabError as e:
        _say(e)
        return 1
    except OSError as e:
        if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
            raise
        _say(f"{e.strerror or e}" + (f": {cut(str(e.filename))}" if e.filename else ""))
        return 1
    except Exception as e:
        if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
            raise
        where = traceback.extract_tb(e.__traceback__)[-1]
        _say(f"internal error, please report it: {type(e).__name__}: {cut(str(e))} "
             f"(at {Path(where.filename).name}:{where.lineno}; {DEBUG_VARIABLE}=1 shows the traceback)")
        return 1
