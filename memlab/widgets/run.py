"""One replay of a scenario configuration, kept for a dashboard: its Timeline and the model at any step.

A ``Run`` replays the whole trace once for the Timeline, then rebuilds the model's state only at
the step shown: forward from where it last stood, or from the nearest checkpoint (a copy of the
replayer taken every ``interval`` operations) when the step goes back. ``Runs`` keeps the most
recently used runs, keyed by their configuration, so going back to a slider value is instant.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence
from typing import Callable

from memlab.glibc import DEFAULT_RELEASE, Malloc
from memlab.replay import Replayer, timeline
from memlab.trace import parse_trace

__all__ = ["Engine", "Run", "Runs", "preamble"]


class Engine:
    """The model and replay functions a run uses (memlab's own by default).

    `allocator`, when given, is a zero-argument callable making the model instead of glibc's
    (any ``memlab.allocators.Allocator``: what the student wrote stands in for glibc).

    >>> Engine().glibc
    '2.36'
    """

    def __init__(self, glibc: str = DEFAULT_RELEASE, allocator: Callable | None = None) -> None:
        self._glibc = glibc
        self._allocator = allocator

    @property
    def allocator(self) -> Callable | None:
        """What makes the model when it is not glibc's (None: glibc's)."""
        return self._allocator

    @property
    def glibc(self) -> str:
        """The glibc release the model imitates."""
        return self._glibc

    def with_glibc(self, glibc: str) -> Engine:
        """The same engine for another glibc release (this one is left as it is).

        >>> Engine().with_glibc("2.41").glibc
        '2.41'
        """
        other = copy.copy(self)
        other._glibc = glibc
        return other

    def parse(self, text: str) -> tuple:
        """Trace text -> Op records."""
        return parse_trace(text)

    def new_malloc(self):
        """A fresh model of glibc's malloc (or of `allocator`) in a fresh address space."""
        if self._allocator is not None:
            return self._allocator()
        return Malloc(glibc=self._glibc)

    def timeline(self, ops: tuple):
        """The Timeline of a whole replay of ``ops`` on a fresh model, and that model at the end."""
        made = []

        def factory():
            made.append(self.new_malloc())
            return made[-1]

        line = timeline(ops, factory)
        return line, (made[-1] if len(made) == 1 else None)

    def replayer(self, ops: tuple):
        """A step-wise replayer of ``ops`` on a fresh model, before its first operation."""
        return Replayer(ops, self.new_malloc())


def preamble(settings: dict[str, int], engine: Engine) -> tuple:
    """The ``o`` operations that apply ``settings`` (mallopt name -> value), in the given order.

    >>> [str(op) for op in preamble({"M_MMAP_THRESHOLD": 4096}, Engine())]
    ['o M_MMAP_THRESHOLD 4096']
    """
    if not settings:
        return ()
    return tuple(engine.parse("".join(f"o {k} {v}\n" for k, v in settings.items())))


def _slice_timeline(timeline, offset: int):
    """The timeline from operation ``offset`` on, renumbered from 0."""
    if offset == 0:
        return timeline
    changes = {}
    n = len(timeline.op)
    for field in dataclasses.fields(timeline):
        value = getattr(timeline, field.name)
        if isinstance(value, Sequence) and len(value) == n:       # the series and the notes
            changes[field.name] = value[offset:]
    changes["op"] = tuple(op - offset for op in timeline.op[offset:])
    return dataclasses.replace(timeline, **changes)


class Run:
    """The replay of one configuration: ``ops`` (preamble first), Timeline, model at any step.

    Steps count the scenario's own operations: step 0 is after the preamble's mallopt calls.
    """

    def __init__(self, ops: tuple, offset: int, engine: Engine) -> None:
        self._ops = tuple(ops)
        self._offset = offset
        self._engine = engine
        full, self._end = engine.timeline(self._ops)
        self._timeline = _slice_timeline(full, offset)
        self._steps = len(self._timeline.op) - 1
        self._interval = max(256, self._steps // 16)
        self._checkpoints: dict[int, object] = {}
        self._live = None
        self._counted = None

    @property
    def ops(self) -> tuple:
        """Every operation replayed, the mallopt preamble first."""
        return self._ops

    @property
    def offset(self) -> int:
        """How many preamble operations come before the scenario's own."""
        return self._offset

    @property
    def timeline(self):
        """The Timeline from step 0 (after the preamble) to the end."""
        return self._timeline

    @property
    def steps(self) -> int:
        """The number of the scenario's operations (the last step)."""
        return self._steps

    def moments(self) -> dict[str, int]:
        """The trace's labelled snapshots and the step each is taken after, in trace order.

        >>> Run(Engine().parse("a 0 1\\ns built\\nf 0\\ns freed\\n"), 0, Engine()).moments()
        {'built': 1, 'freed': 2}
        """
        out, step = {}, -self._offset
        for op in self._ops:
            if op.kind == "snapshot":
                if op.label:
                    out.setdefault(op.label, step)
            else:
                step += 1
        return out

    def note(self, step: int) -> str:
        """What happened at ``step``: the allocator's own note, or for a write (which the
        allocator does not see) how resident memory changed (empty for step 0)."""
        if step == 0:
            return ""
        if self.op(step).kind == "write":
            before, after = self._timeline.rss[step - 1], self._timeline.rss[step]
            pages = (after - before) // 4096
            return (f"the program writes its block (malloc is not called): resident "
                    f"{before:,} -> {after:,} bytes ({pages:+,} pages)")
        return self._timeline.notes[step]

    def op(self, step: int):
        """The scenario's operation number ``step`` (1-based), or None for step 0."""
        if step == 0:
            return None
        if self._counted is None:
            self._counted = tuple(op for op in self._ops if op.kind != "snapshot")
        return self._counted[self._offset + step - 1]

    def _copy(self, replayer):
        # The operations are immutable: share them instead of copying them.
        return copy.deepcopy(replayer, {id(self._ops): self._ops})

    def model(self, step: int):
        """The malloc model after ``step`` operations of the scenario (shared: do not change it)."""
        if not 0 <= step <= self._steps:
            raise ValueError(f"step {step} outside 0..{self._steps}")
        if step == self._steps and self._end is not None:
            return self._end
        target = step + self._offset
        live = self._live
        if live is None or live.op > target:
            base = max((k for k in self._checkpoints if k <= target), default=None)
            live = (self._engine.replayer(self._ops) if base is None
                    else self._copy(self._checkpoints[base]))
        while live.op < target:
            live.step()
            if live.op % self._interval == 0 and live.op not in self._checkpoints:
                self._checkpoints[live.op] = self._copy(live)
        self._live = live
        return live.malloc


class Runs:
    """The most recently used runs, keyed by configuration.

    ``make(key)`` builds a missing run; at most ``size`` runs are kept. ``prefetch(keys)`` builds
    runs in a background thread while the kernel waits for the student (the configurations a
    slider's next move may ask for); ``get`` takes a prefetched run, or waits for one being built.
    """

    def __init__(self, make: Callable[[tuple], Run], size: int = 8) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._make = make
        self._size = size
        self._runs: OrderedDict[tuple, Run] = OrderedDict()
        self._built = 0
        self._lock = threading.Lock()
        self._pending: dict = {}
        self._pool: ThreadPoolExecutor | None = None

    @property
    def built(self) -> int:
        """How many runs have been built (cache misses, prefetched runs included)."""
        return self._built

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, key: tuple) -> bool:
        return key in self._runs

    def _keep(self, key: tuple, run: Run) -> None:
        self._runs[key] = run
        while len(self._runs) > self._size:
            self._runs.popitem(last=False)

    def get(self, key: tuple) -> Run:
        """The run of configuration ``key``, built on first use."""
        with self._lock:
            run = self._runs.pop(key, None)
            pending = self._pending.get(key)
        if run is None and pending is not None:
            try:
                run = pending.result()
            except Exception:  # noqa: BLE001 - built again below, and its error raised here
                run = None
        if run is None:
            run = self._make(key)
            with self._lock:
                self._built += 1
        with self._lock:
            self._runs.pop(key, None)
            self._keep(key, run)
        return run

    def prefetch(self, keys) -> None:
        """Build the runs of ``keys`` in the background, in order; earlier requests not yet
        started are dropped (the student has moved on)."""
        with self._lock:
            for key, future in list(self._pending.items()):
                if future.cancel():
                    del self._pending[key]
            for key in keys:
                if key in self._runs or key in self._pending:
                    continue
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="memlab-prefetch")
                self._pending[key] = self._pool.submit(self._build_later, key)

    def _build_later(self, key: tuple) -> Run:
        try:
            run = self._make(key)
        except Exception:
            with self._lock:
                self._pending.pop(key, None)
            raise
        with self._lock:
            self._built += 1
            if key not in self._runs:
                self._keep(key, run)
            self._pending.pop(key, None)
        return run
