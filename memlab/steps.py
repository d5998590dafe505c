"""Traces as runs of like operations, replayed with the model's bulk steps (no Op per call).

A step list is the trace of a scenario with its repetitive stretches written once:

    ("a", ID, SIZE)             p[ID] = malloc(SIZE)
    ("w", ID)                   write p[ID]'s requested bytes
    ("f", ID)                   free(p[ID])
    ("s", LABEL)                snapshot
    ("aw", FIRST, COUNT, SIZE)  for ID in FIRST..FIRST+COUNT-1: "a ID SIZE" then "w ID"
    ("f*", FIRST, COUNT)        for ID in FIRST..FIRST+COUNT-1: "f ID"
    ("op", OP)                  any other trace operation (a memlab.trace.Op)

`run_steps` numbers operations and takes snapshots exactly as `memlab.replay.replay`
does for the expanded trace (docs/trace-format.md), splitting a run wherever `every`
asks for a snapshot inside it.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from memlab.glibc import Malloc
from memlab.glibc.bulk import Block
from memlab.snapshot import Snapshot
from memlab.trace import parse_trace
from memlab.units import PAGE

__all__ = ["run_steps", "steps_from_ops", "replay_bulk"]


class _Runner:
    def __init__(self, malloc: Any, every: int | None, sink: Any = None) -> None:
        self.m = malloc
        self.every = every
        self.op = 0
        self.snapshots: list[Snapshot] = []
        self.sink = sink or self.snapshots.append
        self.last: int | None = None
        self.live: dict[int, tuple[int, int]] = {}          # single IDs: (pointer, size)
        self.runs: list[tuple[int, int, list]] = []         # (first ID, size, [Block, ...])

    # snapshots ---------------------------------------------------------------------
    def take(self, label: str) -> None:
        self.sink(Snapshot.from_model(self.op, label, self.m))
        self.last = self.op

    def tick(self) -> None:
        if self.every and self.op % self.every == 0:
            self.take("")

    def room(self) -> int:
        """Operations that may run before the next `every` snapshot is due."""
        return self.every - self.op % self.every if self.every else 1 << 62

    # single operations ---------------------------------------------------------------
    def single(self, step: tuple) -> None:
        m, kind = self.m, step[0]
        if kind == "a":
            self.forget(step[1])
            p = m.malloc(step[2])
            if p:
                self.live[step[1]] = (p, step[2])
        elif kind == "w":
            p, size = self.lookup(step[1])
            if p and size:
                m.space.touch(p, size)
        elif kind == "f":
            p = self.forget(step[1])
            m.free(p)
        elif kind == "op":
            self.other(step[1])
        else:
            raise ValueError(f"unknown step {step!r}")
        self.op += 1

    def other(self, op: Any) -> None:
        """A trace operation other than malloc/write/free, with replay's rules for IDs."""
        m, kind = self.m, op.kind
        if kind == "realloc":
            p, _ = self.lookup(op.id)
            q = m.realloc(p, op.size)
            if q:
                self.forget(op.id)
                self.live[op.id] = (q, op.size)
            elif op.size == 0:
                self.forget(op.id)
        elif kind in ("calloc", "memalign"):
            self.forget(op.id)
            q = m.calloc(op.nmemb, op.size) if kind == "calloc" else m.memalign(op.align, op.size)
            if q:
                self.live[op.id] = (q, op.requested)
        elif kind == "trim":
            m.malloc_trim(op.pad)
        elif kind == "mallopt":
            m.mallopt(op.param, op.value)
        elif kind == "store":           # writes one pointer: its 8 bytes, when they fit the block
            p, size = self.lookup(op.id) if op.id is not None else (0, 0)
            if p and size >= 8 and op.offset <= size - 8:
                m.space.touch(p + op.offset, 8)
        elif kind == "malloc":
            self.single(("a", op.id, op.size))
            self.op -= 1
        elif kind in ("write", "free"):
            self.single((kind[0], op.id))
            self.op -= 1
        else:
            raise ValueError(f"cannot run operation {op}")

    def lookup(self, ident: int) -> tuple[int, int]:
        """(pointer, requested size) of a live ID, or (0, 0)."""
        if ident in self.live:
            return self.live[ident]
        for first, size, blocks in self.runs:
            if first <= ident < first + sum(b.count for b in blocks):
                return _address(blocks, ident - first), size
        return 0, 0

    def forget(self, ident: int) -> int:
        """End ID `ident` wherever it is live; return its pointer (0 if it was not)."""
        block = self.live.pop(ident, None)
        if block:
            return block[0]
        for k, (first, size, blocks) in enumerate(self.runs):
            count = sum(b.count for b in blocks)
            if first <= ident < first + count:
                p = _address(blocks, ident - first)
                self._drop_from_run(k, ident, ident + 1)
                return p
        return 0

    def forget_range(self, lo: int, hi: int) -> None:
        """End every live ID in lo..hi-1 (a malloc into a live ID leaks the old block)."""
        for i in [i for i in self.live if lo <= i < hi]:
            del self.live[i]
        k = 0
        while k < len(self.runs):
            first, _, blocks = self.runs[k]
            end = first + sum(b.count for b in blocks)
            if first < hi and lo < end:
                self._drop_from_run(k, max(lo, first), min(hi, end))
                k = 0
            else:
                k += 1

    def _drop_from_run(self, k: int, lo: int, hi: int) -> None:
        """IDs lo..hi-1 of run k are no longer live: keep the rest as singles or a shorter run."""
        first, size, blocks = self.runs.pop(k)
        count = sum(b.count for b in blocks)
        if first < lo:
            self.runs.append((first, size, _slice(blocks, 0, lo - first)))
        if hi < first + count:
            self.runs.append((hi, size, _slice(blocks, hi - first, count)))

    # runs -----------------------------------------------------------------------------
    def alloc_write(self, first: int, count: int, size: int, last_step: bool) -> None:
        m = self.m
        ident = first
        while count:
            pairs = min(count, self.room() // 2)
            if pairs == 0:                       # a snapshot falls between "a" and "w"
                self.single(("a", ident, size))
                self.tick()
                self.single(("w", ident))
                ident += 1
                count -= 1
            else:
                self.forget_range(ident, ident + pairs)
                blocks = list(m.malloc_run(size, pairs))
                for b in blocks:
                    _write(m.space, b, size)
                self.runs.append((ident, size, blocks))
                self.op += 2 * pairs
                ident += pairs
                count -= pairs
            if count or not last_step:
                self.tick()

    def free_all(self, first: int, count: int, last_step: bool) -> None:
        m = self.m
        ident = first
        while count:
            k = min(count, self.room())
            for idx, (f, size, blocks) in enumerate(self.runs):
                total = sum(b.count for b in blocks)
                if f <= ident < f + total:
                    k = min(k, f + total - ident)
                    for b in _slice(blocks, ident - f, ident - f + k):
                        if b.addr:
                            m.free_run(b.addr, b.stride, b.count)
                        else:
                            m.free(0)
                    self._drop_from_run(idx, ident, ident + k)
                    break
            else:
                k = 1
                m.free(self.forget(ident))
            self.op += k
            ident += k
            count -= k
            if count or not last_step:
                self.tick()


def _address(blocks: list, i: int) -> int:
    for b in blocks:
        if i < b.count:
            return b.addr + i * b.stride if b.addr else 0
        i -= b.count
    raise IndexError(i)


def _slice(blocks: list, lo: int, hi: int) -> list:
    """The Blocks covering positions lo..hi-1 of a list of Blocks."""
    out = []
    at = 0
    for b in blocks:
        s, e = max(lo, at), min(hi, at + b.count)
        if s < e:
            addr = b.addr + (s - at) * b.stride if b.addr else 0
            out.append(Block(addr, b.stride, e - s))
        at += b.count
    return out


def _write(space, b, size: int) -> None:
    """The writes of `size` bytes at every address of Block `b`, as one page-exact touch."""
    if not b.addr or not size:
        return
    if b.stride - size < PAGE:          # no whole page fits between two writes
        space.touch(b.addr, (b.count - 1) * b.stride + size)
    else:
        for p in b:
            space.touch(p, size)


def run_steps(steps: Sequence[tuple], malloc: Any, every: int | None = None,
              sink: Callable[[Snapshot], Any] | None = None) -> list[Snapshot]:
    """Replay steps on `malloc` (a memlab.glibc.Malloc); the snapshots `replay` would take.

    With a `sink`, each snapshot goes to it as it is taken, and the list returned is empty.

    >>> from memlab.glibc import Malloc
    >>> steps = [("a", 0, 24000), ("w", 0), ("aw", 1, 1000, 4), ("s", "built"), ("f*", 1, 1000), ("f", 0)]
    >>> [(s.op, s.label, s.smblks) for s in run_steps(steps, Malloc())]
    [(2002, 'built', 0), (3003, 'end', 993)]
    """
    if every is not None and (type(every) is not int or every < 1):
        raise ValueError(f"every must be a positive int or None (got {every!r})")
    r = _Runner(malloc, every, sink)
    steps = list(steps)
    for k, step in enumerate(steps):
        kind = step[0]
        if kind == "s":
            r.take(step[1])
            continue
        last = k + 1 < len(steps) and steps[k + 1][0] == "s"
        if kind == "aw":
            r.alloc_write(step[1], step[2], step[3], last)
        elif kind == "f*":
            r.free_all(step[1], step[2], last)
        else:
            r.single(step)
            if not last:
                r.tick()
    if r.op == 0 or r.last != r.op:
        r.take("end")
    return r.snapshots


def steps_from_ops(ops: Sequence[Any], least: int = 4) -> list[tuple]:
    """Steps for a sequence of trace Ops: stretches of at least `least` like operations on
    consecutive IDs ("a ID SIZE" + "w ID" pairs, or "f ID") become runs.

    >>> from memlab.trace import parse_trace
    >>> steps_from_ops(parse_trace("a 5 4\\nw 5\\na 6 4\\nw 6\\nf 5\\nf 6\\ns x"), least=2)
    [('aw', 5, 2, 4), ('f*', 5, 2), ('s', 'x')]
    """
    ops = list(ops)
    out: list[tuple] = []
    i, n = 0, len(ops)
    while i < n:
        op = ops[i]
        kind = op.kind
        if kind == "malloc":
            k = 0
            while (i + 2 * k + 1 < n and ops[i + 2 * k].kind == "malloc"
                   and ops[i + 2 * k].id == op.id + k and ops[i + 2 * k].size == op.size
                   and ops[i + 2 * k + 1].kind == "write" and ops[i + 2 * k + 1].id == op.id + k):
                k += 1
            if k >= least:
                out.append(("aw", op.id, k, op.size))
                i += 2 * k
                continue
        elif kind == "free":
            k = 1
            while i + k < n and ops[i + k].kind == "free" and ops[i + k].id == op.id + k:
                k += 1
            if k >= least:
                out.append(("f*", op.id, k))
                i += k
                continue
        if kind == "snapshot":
            out.append(("s", op.label))
        else:
            out.append(("op", op))
        i += 1
    return out


def replay_bulk(ops: Sequence[Any] | str, malloc_factory: Any = None,
                every: int | None = None) -> list[Snapshot]:
    """`memlab.replay.replay` with runs of like operations detected and run as bulk steps.

    >>> from memlab.glibc import Malloc
    >>> from memlab.scenarios import vecvec
    >>> replay_bulk(vecvec(100), Malloc)[-1].smblks
    93
    """
    if isinstance(ops, str):
        ops = parse_trace(ops)
    if malloc_factory is None:
        malloc_factory = Malloc
    return run_steps(steps_from_ops(ops), malloc_factory(), every)
