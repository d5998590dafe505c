"""Replaying a trace on the malloc model: step by step, with snapshots and a Timeline.

The rules for live IDs and for when a snapshot is taken are the real replayer's
(``memlab/native/replay.c``), so the two can be compared line by line:

* ``a``/``c``/``m``/``r`` make the ID live with the requested size when the call
  returns a pointer; a NULL result leaves it not live, except that a failed
  ``realloc`` to a non-zero size keeps the old block live (as careful C code does);
* ``f`` and ``r ID 0`` of a live ID end it; of an ID not live they pass NULL;
* ``w`` writes the requested bytes (nothing if the ID is not live or the size is 0);
* ``p`` writes one pointer into a live block (its 8 bytes, when they fit in the requested
  size); which block points to which is `memlab.leaks`'s business, not the allocator's.
"""

from __future__ import annotations

import copy
import csv
import gc
import io
import re
from bisect import bisect_left
from dataclasses import dataclass, fields
from typing import Any, Callable, Sequence

from memlab.errors import UsageError
from memlab.progress import AUTO, shown
from memlab.snapshot import Snapshot
from memlab.trace import Op, Trace, parse_trace, read_trace

__all__ = ["Replayer", "replay", "Timeline", "timeline"]

NULL = 0
_PROGRESS_STEP = 1 << 16      # operations between two progress reports of a replay
_TIMELINE_STEP = 1 << 12      # ... of a timeline (each operation costs more there)
_BEFORE_ANY_CALL = "otspw"     # kinds that never make the tcache: mallopt, trim, snapshot, stores


def _default_factory(trace: Trace) -> Callable[[], Any]:
    """The model of glibc for the architecture the trace was recorded on (`# arch`, else x86-64)."""
    from memlab.glibc import Malloc
    from memlab.glibc.arch import DEFAULT_ARCH

    return lambda: Malloc(arch=trace.arch or DEFAULT_ARCH)


def _threads_for(trace: Trace, malloc: Any) -> Any:
    """The threaded model for a trace with thread lines, on `malloc`'s (unused) address space and
    release; the trace's `# cpus` and `# tls` lines set the arena limit and the DTV's size."""
    from memlab.glibc.threads import Threads

    if not hasattr(malloc, "space") or not hasattr(malloc, "release"):
        raise UsageError("this trace has thread lines (T, n, x, j): it needs memlab's glibc model "
                         "(memlab.glibc.Malloc) or the real glibc (replay --native)")
    return Threads(malloc.space, malloc.release, cores=trace.cpus, tls=trace.tls or 1)


def _first_tcache_fails(trace: Trace, malloc: Any) -> bool:
    """Whether the trace's first call will find no room for the tcache in the main arena, after
    the mallopt and trim lines that come before it (tried on a copy of the model)."""
    if not hasattr(malloc, "tcache_init_fails"):
        return False
    first = re.search(f"[^{_BEFORE_ANY_CALL}]", trace.kinds)
    if first is None:
        return False
    if first.start() == 0:
        return malloc.tcache_init_fails()
    probe = copy.deepcopy(malloc)
    Replayer(trace[:first.start()], probe).run()
    return probe.tcache_init_fails()


def _threads_around(trace: Trace, malloc: Any) -> Any:
    """The threaded model with `malloc` as its main arena: glibc's tcache_init retries in a second
    arena when the main one has no room, even in a process with one thread."""
    from memlab.glibc.threads import Threads

    return Threads(cores=trace.cpus, tls=trace.tls or 1, main=malloc)


def _as_trace(ops: Sequence[Op] | Trace | str) -> Trace:
    if isinstance(ops, Trace):
        return ops
    if isinstance(ops, str):
        return read_trace(ops)
    return Trace.from_ops(tuple(ops))


class Replayer:
    """Runs a trace's operations on a malloc model, one at a time, taking snapshots.

    `step()` runs the next operation, then the `s` lines after it; `run(until)`
    steps until `until` operations have run (all by default). The end snapshot is
    taken as soon as the last operation (and any `s` lines after it) has run.

    >>> r = Replayer(parse_trace("a 0 10\\ns one\\nf 0"), _Fake())
    >>> str(r.peek()), str(r.step()), r.op, r.held, [s.label for s in r.snapshots]
    ('a 0 10', 'a 0 10', 1, 10, ['one'])
    >>> r.run(); r.op, r.held, [s.label for s in r.snapshots]
    (2, 0, ['one', 'end'])
    """

    def __init__(self, ops: Sequence[Op] | Trace | str, malloc: Any, every: int | None = None,
                 sink: Callable[[Snapshot], Any] | None = None, arenas: bool = False) -> None:
        """`sink`, when given, receives each snapshot as it is taken instead of `snapshots`;
        with `arenas`, each snapshot carries the per-arena pairs (`Snapshot.arenas`)."""
        if every is not None and (type(every) is not int or every < 1):
            raise ValueError(f"every must be a positive int or None (got {every!r})")
        self._trace = _as_trace(ops)
        if self._trace.threaded and not hasattr(malloc, "switch"):
            malloc = _threads_for(self._trace, malloc)
        elif _first_tcache_fails(self._trace, malloc):
            malloc = _threads_around(self._trace, malloc)
        self._malloc = malloc
        self._every = every
        self._arenas = arenas
        self._next = 0                 # index in the trace of the next entry to look at
        self._op = 0                   # operations run so far
        self._live: dict[int, tuple[int, int]] = {}   # ID -> (pointer, requested size)
        self._held = 0
        self._snapshots: list[Snapshot] = []
        self._sink = sink or self._snapshots.append
        self._last_snapshot: int | None = None        # op count of the latest snapshot
        self._finished = False
        self._marks: list[int] | None = None          # indices of `s` lines, found on first use
        self._nulls: list[int] = []                   # indices of allocation calls that gave NULL

    # --- views ------------------------------------------------------------------------
    @property
    def malloc(self) -> Any:
        """The model the trace runs on."""
        return self._malloc

    @property
    def trace(self) -> Trace:
        """The whole trace, in compact columns."""
        return self._trace

    @property
    def ops(self) -> tuple[Op, ...]:
        """Every entry of the trace as Op records, snapshots included."""
        return self._trace.ops()

    @property
    def op(self) -> int:
        """Operations run so far."""
        return self._op

    @property
    def total(self) -> int:
        """Operations in the whole trace (`s` lines are not operations)."""
        return self._trace.count

    @property
    def done(self) -> bool:
        """True once every operation has run and the end snapshot rule applied."""
        return self._finished

    @property
    def held(self) -> int:
        """Sum of the requested sizes of the live IDs."""
        return self._held

    @property
    def live(self) -> dict[int, tuple[int, int]]:
        """A copy of the live IDs: ID -> (pointer, requested size)."""
        return dict(self._live)

    def block(self, ident: int) -> tuple[int, int] | None:
        """The live block of ID `ident` as (pointer, requested size), or None (no copy made).

        >>> r = Replayer("a 7 10", _Fake()); r.run(); r.block(7), r.block(8)
        ((4118, 10), None)
        """
        return self._live.get(ident)

    @property
    def nulls(self) -> frozenset[int]:
        """Trace indices of the allocation calls run so far that returned NULL (a, c, m, r).

        >>> r = Replayer("a 0 1\\nr 0 0", _Fake()); r.run(); r.nulls
        frozenset({1})
        """
        return frozenset(self._nulls)

    @property
    def snapshots(self) -> tuple[Snapshot, ...]:
        """The snapshots taken so far, in order."""
        return tuple(self._snapshots)

    def peek(self) -> Op | None:
        """The next operation to run (not an `s` line), or None at the end."""
        kinds = self._trace.kinds
        for k in range(self._next, len(kinds)):
            if kinds[k] != "s":
                return self._trace.op(k)
        return None

    # --- running ----------------------------------------------------------------------
    def step(self) -> Op | None:
        """Run the next operation and the `s` lines after it; return it (None at the end)."""
        kinds, end = self._trace.kinds, len(self._trace)
        if self._next < end and kinds[self._next] == "s":
            self._snapshot_lines()
        if self._next == end:
            self._finish()
            return None
        k = self._next
        self._apply_entries(k, k + 1)
        took = self._next < end and kinds[self._next] == "s" and self._snapshot_lines()
        if not took and self._every and self._op % self._every == 0:
            self._take("")
        if self._next == end:
            self._finish()
        return self._trace.op(k)

    def run(self, until: int | None = None, progress: Callable[[int, int], None] | None = None) -> None:
        """Step until `until` operations have run (or to the end when None).

        `progress`, if given, is called as ``progress(operations run, operations in the trace)``
        about every 65,536 operations (`memlab.progress` has displays for it).
        """
        if until is not None and (type(until) is not int or until < 0):
            raise ValueError(f"until must be a non-negative int or None (got {until!r})")
        if not self._finished:
            self._run_to(until, progress)
        if until is None:
            self._finish()

    def _run_to(self, until: int | None, progress: Callable[[int, int], None] | None = None) -> None:
        """`step()` repeated until `until` operations have run (None: the end).

        The trace is cut into runs of operations with no snapshot inside (between `s`
        lines, `every` multiples and `until`, and every _PROGRESS_STEP operations when
        progress is reported); each run is one call of `_apply_entries`.
        """
        kinds, end, every = self._trace.kinds, len(self._trace), self._every
        limit = self.total if until is None else until
        marks = self._snapshot_marks()
        if self._op >= limit:                  # step() would not be called at all
            return
        if self._next < end and kinds[self._next] == "s":
            self._snapshot_lines()
        # The loop makes millions of short-lived tuples, none in a cycle: the cyclic
        # collector would only walk the model's (large) state again and again, so it waits.
        collecting = gc.isenabled()
        gc.disable()
        total = self.total
        try:
            while self._next < end and self._op < limit:
                i, count = self._next, self._op
                m_at = bisect_left(marks, i)
                stop = min(marks[m_at] if m_at < len(marks) else end, i + (limit - count))
                if every:
                    stop = min(stop, i + (every - count % every))
                if progress is not None:
                    stop = min(stop, i + _PROGRESS_STEP)
                self._apply_entries(i, stop)
                if self._next < end and kinds[self._next] == "s":
                    self._snapshot_lines()
                elif every and self._op % every == 0:
                    self._take("")
                if progress is not None:
                    progress(self._op, total)
        finally:
            if collecting:
                gc.enable()
        if self._next == end:
            self._finish()

    def _apply_entries(self, i: int, stop: int) -> None:
        """Run the trace's entries i..stop-1 (no `s` line among them) on the model.

        The one per-operation loop of every replay (`step`, `run`, `timeline`): the common
        calls are applied inline with the live IDs and held bytes in locals. If an
        operation raises, it counts as taken but not run, and the state stays consistent.
        """
        trace = self._trace
        m, live, rare, args = self._malloc, self._live, trace.rare, trace.args
        malloc, free = m.malloc, m.free
        held, k, nulls = self._held, i, self._nulls
        try:
            for k, kind, ident, size in zip(range(i, stop), trace.kinds[i:stop], trace.ids[i:stop],
                                            trace.sizes[i:stop]):
                if kind == "a":
                    block = live.pop(ident, None)
                    if block is not None:
                        held -= block[1]
                    p = malloc(size)
                    if p:
                        live[ident] = (p, size)
                        held += size
                    else:
                        nulls.append(k)
                elif kind == "f":
                    block = live.pop(ident, None)
                    if block is None:
                        free(NULL)
                    else:
                        held -= block[1]
                        free(block[0])
                elif kind == "r":
                    old = live.get(ident)
                    q = m.realloc(old[0] if old else NULL, size)
                    if q:
                        if old is not None:
                            held -= old[1]
                        live[ident] = (q, size)
                        held += size
                    else:
                        nulls.append(k)
                        if size == 0 and old is not None:
                            del live[ident]
                            held -= old[1]
                elif kind == "w":
                    block = live.get(ident)
                    if block and block[1]:
                        m.space.touch(block[0], block[1])
                elif kind == "c" or kind == "m":
                    block = live.pop(ident, None)
                    if block is not None:
                        held -= block[1]
                    first = args[k]
                    p = m.calloc(first, size) if kind == "c" else m.memalign(first, size)
                    if p:
                        requested = first * size if kind == "c" else size
                        live[ident] = (p, requested)
                        held += requested
                    else:
                        nulls.append(k)
                elif kind == "p":
                    op = rare[k]
                    block = live.get(op.id) if op.id is not None else None
                    if block and block[1] >= 8 and op.offset <= block[1] - 8:
                        m.space.touch(block[0] + op.offset, 8)
                elif kind == "t":
                    m.malloc_trim(rare[k].pad)
                elif kind == "o":
                    m.mallopt(rare[k].param, rare[k].value)
                elif kind == "T":
                    m.switch(rare[k].tid)
                elif kind == "n":
                    m.create(rare[k].tid)
                elif kind == "x":
                    m.exit(rare[k].tid)
                elif kind == "j":
                    m.join(rare[k].tid)
                else:
                    raise ValueError(f"cannot run operation {trace.op(k)}")
        except BaseException:           # the operation at k was taken but did not finish
            self._next, self._op, self._held = k + 1, self._op + (k - i), held
            raise
        self._next, self._op, self._held = stop, self._op + (stop - i), held

    def _snapshot_marks(self) -> list[int]:
        """Indices of the trace's `s` lines, in order (found once)."""
        if self._marks is None:
            self._marks = self._trace.marks()
        return self._marks

    def _snapshot_lines(self) -> bool:
        """Take the snapshots of the `s` lines at the current place; True if any."""
        kinds, end, took = self._trace.kinds, len(self._trace), False
        while self._next < end and kinds[self._next] == "s":
            self._take(self._trace.rare[self._next].label)
            self._next += 1
            took = True
        return took

    def _take(self, label: str) -> None:
        self._sink(Snapshot.from_model(self._op, label, self._malloc, self._arenas))
        self._last_snapshot = self._op

    def _finish(self) -> None:
        if self._finished:
            return
        self._snapshot_lines()
        if self._op == 0 or self._last_snapshot != self._op:
            self._take("end")
        self._finished = True


def replay(ops: Sequence[Op] | Trace | str, malloc_factory: Callable[[], Any] | None = None,
           every: int | None = None, progress: Callable[[int, int], None] | str | None = AUTO
           ) -> list[Snapshot]:
    """Replay a whole trace on a fresh model (by default glibc's, for the architecture of the
    trace's `# arch` line); return its snapshots.

    `progress` is passed to `Replayer.run`; by default (`memlab.progress.AUTO`) a long replay
    shows a bar in a notebook, or on stderr when it is a terminal.

    >>> [(s.op, s.label) for s in replay("a 0 1\\na 1 2\\ns two\\nf 0", _Fake, every=1)]
    [(1, ''), (2, 'two'), (3, '')]
    """
    ops = _as_trace(ops)
    r = Replayer(ops, (malloc_factory or _default_factory(ops))(), every)
    with shown(progress, "replay") as display:
        r.run(progress=display)
    return list(r.snapshots)


@dataclass(frozen=True, slots=True)
class Timeline:
    """Per-operation series of a replay; index 0 is before any operation.

    >>> t = timeline("a 0 100\\nf 0", _Fake)
    >>> t.op, t.held, t.uordblks
    ((0, 1, 2), (0, 100, 0), (0, 112, 0))
    """

    op: tuple[int, ...]
    held: tuple[int, ...]
    arena: tuple[int, ...]
    hblkhd: tuple[int, ...]
    uordblks: tuple[int, ...]
    fordblks: tuple[int, ...]
    rss: tuple[int, ...]
    trimmed: tuple[int, ...]
    munmapped: tuple[int, ...]
    madvised: tuple[int, ...]
    notes: Sequence[str]              # worded on first look

    def __len__(self) -> int:
        return len(self.op)

    def to_csv(self) -> str:
        """The series as CSV text with a header row.

        >>> timeline("a 0 100", _Fake).to_csv().splitlines()[1]
        '0,0,0,0,0,0,0,0,0,0,'
        """
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        names = [f.name for f in fields(self)]
        writer.writerow(names)
        writer.writerows(zip(*(getattr(self, n) for n in names)))
        return out.getvalue()


def timeline(ops: Sequence[Op] | Trace | str, malloc_factory: Callable[[], Any] | None = None,
             progress: Callable[[int, int], None] | str | None = AUTO) -> Timeline:
    """Replay a trace on a fresh model and record the Timeline's series after every operation.

    `progress` as for `replay` (called every 4,096 operations).
    """
    ops = _as_trace(ops)
    r = Replayer(ops, (malloc_factory or _default_factory(ops))())
    malloc = r.malloc                  # the threaded model when the trace has thread lines
    series: dict[str, list] = {f.name: [] for f in fields(Timeline)}
    (add_op, add_held, add_arena, add_hblkhd, add_uordblks, add_fordblks, add_rss, add_trimmed,
     add_munmapped, add_madvised, add_note) = (values.append for values in series.values())
    space = malloc.space
    count = 0

    def record(note: str) -> None:
        info = malloc.mallinfo2()
        add_op(count)
        add_held(r._held)
        add_arena(info.arena)
        add_hblkhd(info.hblkhd)
        add_uordblks(info.uordblks)
        add_fordblks(info.fordblks)
        add_rss(space.rss)
        add_trimmed(space.released_brk)
        add_munmapped(space.released_munmap)
        add_madvised(space.released_madvise)
        add_note(note)

    record("")
    # The note after one operation is the note before the next: an operation that leaves it as
    # it was (a snapshot line) gets none. A model with note tokens is read unformatted here and
    # its notes are worded only when looked at (most never are).
    token = getattr(malloc, "note_token", None) is not None
    read = (lambda: malloc.note_token) if token else (lambda: getattr(malloc, "last_note", None))
    before = read()
    apply = r._apply_entries           # snapshots are not needed: each operation, applied
    trace = r.trace
    total = trace.count
    with shown(progress, "timeline") as display:
        for k, kind in enumerate(trace.kinds):
            if kind == "s":
                continue
            apply(k, k + 1)
            count += 1
            note = read()
            same = note[0] is before[0] if token else note is before
            if kind == "w":
                record(_write_note(trace.ids[k], r))
            else:
                record(None if same else note)
            before = note
            if display is not None and count % _TIMELINE_STEP == 0:
                display(count, total)
    notes = series.pop("notes")
    word = malloc.note_of if token else (lambda n: n.text)
    return Timeline(**{name: tuple(values) for name, values in series.items()},
                    notes=_Notes(notes, word))


class _Notes(Sequence):
    """A Timeline's notes, worded on first look (a string, a model note, or None for none)."""

    __slots__ = ("_raw", "_word")

    def __init__(self, raw: list, word: Callable[[Any], Any]) -> None:
        self._raw = raw
        self._word = word

    def __len__(self) -> int:
        return len(self._raw)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return _Notes(self._raw[i], self._word)
        raw = self._raw[i]
        if raw is None or isinstance(raw, str):
            return raw or ""
        text = self._word(raw)
        return text if isinstance(text, str) else text.text

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


def _write_note(ident: int, r: Replayer) -> str:
    """The Timeline's words for `w ident`, which the model does not see as a call."""
    block = r.block(ident)
    if not block or not block[1]:
        return f"w {ident}: p[{ident}] is not live (or empty): nothing written"
    return f"w {ident}: wrote {block[1]:,} bytes at {block[0]:#x} (their pages become resident)"


class _Fake:
    """A stand-in model for the doctests: a bump allocator that never frees (16-byte headers)."""

    def __init__(self) -> None:
        self.space = _FakeSpace()
        self._used = 0
        self.last_note = None

    def malloc(self, n: int) -> int:
        self._used += n + 12
        return 0x1000 + self._used

    def free(self, p: int) -> None:
        self._used = 0 if p else self._used

    def realloc(self, p: int, n: int) -> int:
        if n == 0 and p:
            self.free(p)
            return 0
        return self.malloc(n)

    def mallinfo2(self) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(arena=0, ordblks=1, smblks=0, hblks=0, hblkhd=0, fsmblks=0,
                               uordblks=self._used, fordblks=0, keepcost=0)


class _FakeSpace:
    heap_start = brk = rss = released_brk = released_munmap = released_madvise = 0
