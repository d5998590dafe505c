"""memcheck's leak classes, computed from a `PointerGraph` as Valgrind's leak checker computes them.

At exit, memcheck puts every block still allocated in one class:

* still reachable: a chain of start-pointers (pointers to a block's first byte) leads to it
  from a root;
* possibly lost: a chain leads to it from a root, but every such chain holds at least one
  interior pointer (into the block, past its first byte);
* definitely lost / indirectly lost: no chain from a root reaches it. memcheck then takes the
  unreached blocks in address order; each one that is still unclaimed when its turn comes
  leads a "clique": every unclaimed block reachable from it (through start or interior
  pointers) becomes indirectly lost, including leaders of earlier cliques. The leaders that
  are left are definitely lost. In a cycle that nothing else points to, the first block in
  address order is therefore definitely lost and the others indirectly lost.

Roots are the program's global roots (`p g` lines); a pointer to a block of size 0 counts
only at its start. memcheck's heuristics, which may call some interior pointers reachable,
are left out: compare with ``valgrind --leak-check-heuristics=none``. Bytes are requested
sizes. memlab takes allocation order for address order: so it is under Valgrind, whose
allocator hands out fresh memory upwards while freed blocks wait in its queue (20 MB by
default, ``--freelist-vol``) and the blocks fit in its first superblock; memalign may break it.

>>> report = classify(PointerGraph.from_trace("a 0 16\\na 1 32\\np 0 0 1\\np 1 0 0\\na 2 8\\np g 0 2 4"))
>>> print(report.summary)
LEAK SUMMARY:
   definitely lost: 16 bytes in 1 blocks
   indirectly lost: 32 bytes in 1 blocks
     possibly lost: 8 bytes in 1 blocks
   still reachable: 0 bytes in 0 blocks
        suppressed: 0 bytes in 0 blocks
>>> [(b.id, kind) for b, kind in report.blocks]
[(0, 'definitely lost'), (1, 'indirectly lost'), (2, 'possibly lost')]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from memlab.leaks.graph import Block, PointerGraph
from memlab.leaks.summary import DEFINITELY, INDIRECTLY, POSSIBLY, REACHABLE, Count, LeakSummary
from memlab.glibc import Malloc
from memlab.replay import Replayer
from memlab.trace import Op, Trace

__all__ = ["LeakReport", "classify", "leak_report"]


@dataclass(frozen=True, slots=True)
class LeakReport:
    """Every block left at exit with its class, and the totals (`summary`)."""

    blocks: tuple[tuple[Block, str], ...]
    summary: LeakSummary

    def kind_of(self, order: int) -> str:
        """The class of the block `order` (see `Block.order`).

        >>> classify(PointerGraph.from_trace("a 5 1")).kind_of(0)
        'definitely lost'
        """
        for block, kind in self.blocks:
            if block.order == order:
                return kind
        raise KeyError(f"no block {order} is left at exit")

    def __str__(self) -> str:
        return str(self.summary)


def classify(graph: PointerGraph) -> LeakReport:
    """memcheck's class of each block still allocated in `graph` (see the module's text)."""
    blocks = graph.blocks
    edges = {b.order: [(t, off == 0) for t, off in graph.pointers(b.order).values()] for b in blocks}
    roots = list(graph.roots.values())
    # Reached through start-pointers only, from the roots ...
    reachable: set[int] = set()
    stack = [t for t, off in roots if off == 0]
    while stack:
        b = stack.pop()
        if b not in reachable:
            reachable.add(b)
            stack.extend(t for t, start in edges[b] if start)
    # ... and through any pointers: what is reached but not so is possibly lost.
    reached = set(reachable)
    stack = [t for t, _ in roots] + [t for b in reachable for t, _ in edges[b]]
    while stack:
        b = stack.pop()
        if b not in reached:
            reached.add(b)
            stack.extend(t for t, _ in edges[b])
    # Cliques of the unreached, leaders taken in address order.
    indirect: set[int] = set()
    for block in blocks:
        leader = block.order
        if leader in reached or leader in indirect:
            continue
        stack = [leader]
        while stack:
            b = stack.pop()
            for t, _ in edges[b]:
                if t != leader and t not in reached and t not in indirect:
                    indirect.add(t)
                    stack.append(t)
    kinds = []
    totals = {DEFINITELY: [0, 0], INDIRECTLY: [0, 0], POSSIBLY: [0, 0], REACHABLE: [0, 0]}
    for block in blocks:
        b = block.order
        kind = (REACHABLE if b in reachable else POSSIBLY if b in reached
                else INDIRECTLY if b in indirect else DEFINITELY)
        kinds.append((block, kind))
        totals[kind][0] += block.size
        totals[kind][1] += 1
    summary = LeakSummary(*(Count(*totals[k]) for k in (DEFINITELY, INDIRECTLY, POSSIBLY, REACHABLE)))
    return LeakReport(tuple(kinds), summary)


def leak_report(ops: Sequence[Op] | Trace | str, malloc_factory: Callable[[], Any] | None = None) -> LeakReport:
    """Replay a trace on a fresh model (glibc's by default) and classify what is left at exit.

    The model decides which allocation calls fail (they return NULL and make no block).

    >>> print(leak_report("a 0 100\\np g 0 0\\na 1 24\\nf 0").summary)
    LEAK SUMMARY:
       definitely lost: 24 bytes in 1 blocks
       indirectly lost: 0 bytes in 0 blocks
         possibly lost: 0 bytes in 0 blocks
       still reachable: 0 bytes in 0 blocks
            suppressed: 0 bytes in 0 blocks
    """
    replayer = Replayer(ops, (malloc_factory or Malloc)())
    replayer.run()
    return classify(PointerGraph.from_trace(replayer.trace, replayer.nulls))
