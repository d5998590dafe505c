"""The pointer graph of a replay: which block (or global root) holds a pointer to which block.

A trace's `p` lines (docs/trace-format.md, "Pointers") store pointers; its allocation
lines make and end the blocks. `PointerGraph` follows them with the replay's rules and
keeps, for every block still allocated, the pointers stored in it.

>>> g = PointerGraph.from_trace("a 0 32\\na 1 16\\np g 0 0\\np 0 8 1 4\\nf 1")
>>> g.blocks, g.roots, g.pointers(0)
((Block(order=0, id=0, size=32, at=0),), {0: (0, 0)}, {})
>>> g = PointerGraph.from_trace("a 0 32\\na 1 16\\np g 0 0\\np 0 8 1 4")
>>> g.roots, g.pointers(0)
({0: (0, 0)}, {8: (1, 4)})
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from memlab.trace import Op, Trace, read_trace

__all__ = ["Block", "PointerGraph"]

_WORD = 8       # bytes in a pointer


@dataclass(frozen=True, slots=True)
class Block:
    """A block still allocated: its place in allocation order, the ID that allocated it, its
    size (requested bytes) and the index in the trace of the entry that allocated it.

    `order` counts every block the replay allocated, from 0 (a realloc that moves makes a new
    block). It stands for the block's address in Valgrind's order (see `memlab.leaks.memcheck`).
    """

    order: int
    id: int
    size: int
    at: int | None = None


class PointerGraph:
    """Blocks still allocated and the pointers stored in them and in the global roots.

    Pointers are kept as ``offset -> (target order, target offset)``. A pointer to a
    block that has been freed (or reallocated, which moves it) points to no block.
    """

    def __init__(self) -> None:
        self._blocks: dict[int, Block] = {}                  # order -> block
        self._slots: dict[int, dict[int, tuple[int, int]]] = {}
        self._roots: dict[int, tuple[int, int]] = {}
        self._ids: dict[int, int] = {}                       # live ID -> order
        self._count = 0

    @classmethod
    def from_trace(cls, trace: Trace | Sequence[Op] | str, nulls: Iterable[int] = ()) -> PointerGraph:
        """The graph at the end of a trace. `nulls`: trace indices of the allocation calls that
        returned NULL (`memlab.replay.Replayer.nulls`; none by default)."""
        if isinstance(trace, str):
            trace = read_trace(trace)
        graph, nulls = cls(), frozenset(nulls)
        for k, op in enumerate(trace):
            graph.apply(op, k in nulls, k)
        return graph

    # --- views ------------------------------------------------------------------------
    @property
    def blocks(self) -> tuple[Block, ...]:
        """The blocks still allocated, in allocation order."""
        return tuple(self._blocks[k] for k in sorted(self._blocks))

    @property
    def roots(self) -> dict[int, tuple[int, int]]:
        """The global roots that point into a block: offset -> (target order, target offset)."""
        return {o: t for o, t in self._roots.items() if t[0] in self._blocks}

    def pointers(self, order: int) -> dict[int, tuple[int, int]]:
        """The pointers stored in block `order` that point into a block still allocated."""
        return {o: t for o, t in self._slots.get(order, {}).items() if t[0] in self._blocks}

    def block_of(self, ident: int) -> Block | None:
        """The block ID `ident` names now, or None if the ID is not live."""
        order = self._ids.get(ident)
        return None if order is None else self._blocks[order]

    # --- changes ----------------------------------------------------------------------
    def apply(self, op: Op, null: bool = False, at: int | None = None) -> None:
        """Follow one trace entry (`at`: its index in the trace); `null`: the allocation call
        returned NULL."""
        kind = op.kind
        if kind in ("malloc", "calloc", "memalign"):
            self._ids.pop(op.id, None)               # a live ID's old block is leaked, not freed
            if not null:
                self._new(op.id, op.requested, at)
        elif kind == "free":
            self._end(self._ids.pop(op.id, None))
        elif kind == "realloc":
            old = self._ids.get(op.id)
            if old is not None and op.size == 0:     # realloc(p, 0) frees p (glibc's rule)
                self._end(self._ids.pop(op.id))
            elif not null:
                self._move(old, op.id, op.size, at) if old is not None else self._new(op.id, op.size, at)
        elif kind == "write":                        # the bytes written overwrite every pointer
            order = self._ids.get(op.id)
            if order is not None:
                self._slots.pop(order, None)
        elif kind == "store":
            self._store(op)

    def _new(self, ident: int, size: int, at: int | None) -> int:
        order = self._count
        self._count += 1
        self._blocks[order] = Block(order, ident, size, at)
        self._ids[ident] = order
        return order

    def _end(self, order: int | None) -> None:
        if order is not None:
            del self._blocks[order]
            self._slots.pop(order, None)

    def _move(self, old: int, ident: int, size: int, at: int | None) -> None:
        """realloc: a new block holding the old one's pointers that fit in both sizes."""
        keep = min(size, self._blocks[old].size)
        slots = {o: t for o, t in self._slots.get(old, {}).items() if o + _WORD <= keep}
        self._end(old)
        order = self._new(ident, size, at)
        if slots:
            self._slots[order] = slots

    def _store(self, op: Op) -> None:
        if op.id is None:
            slots = self._roots
        else:
            order = self._ids.get(op.id)
            if order is None or op.offset + _WORD > self._blocks[order].size:
                return
            slots = self._slots.setdefault(order, {})
        target = self._ids.get(op.target) if op.target is not None else None
        if target is not None and (op.target_offset == 0 or op.target_offset < self._blocks[target].size):
            slots[op.offset] = (target, op.target_offset)
        else:
            slots.pop(op.offset, None)
