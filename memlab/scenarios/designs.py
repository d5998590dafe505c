"""Lesson 07's experiments: how glibc finds each chunk (the model's path notes), and one heap pinned
by its last block on glibc, jemalloc, tcmalloc and mimalloc.

>>> steps = find_paths("a 0 100\\nf 0\\na 1 100\\n")
>>> [s.path for s in steps]
['top', 'free-tcache', 'tcache']
>>> print(PINNED.text(n=2, size=1000, write=0), end="")
# pinned: n=2 size=1000 write=0
a 0 1000
a 1 1000
a 2 24
s built
f 0
f 1
s freed
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Mapping, Sequence

from memlab.glibc import DEFAULT_RELEASE, Malloc
from memlab.native.allocators import NAMES
from memlab.native.rivals import AllocatorRuns, run_allocators_text
from memlab.replay import Replayer
from memlab.scenarios.catalog import Param, Scenario, _at_least
from memlab.units import fmt_bytes

__all__ = [
    "FINDING", "Step", "find_paths", "path_table", "pinned", "PINNED", "DECAY_NOW", "CASES",
    "DesignCase", "run_designs", "designs_table",
]


def _finding() -> str:
    phases = [
        ("nine 100-byte blocks and a guard, then the nine freed: 7 to tcache, 2 to a fastbin",
         [f"a {i} 100" for i in range(9)] + ["a 9 24"] + [f"f {i}" for i in range(9)]),
        ("eight 100-byte blocks again: tcache's 7, then the fastbin",
         [f"a {i} 100" for i in range(10, 18)]),
        ("three big blocks (2,000, 3,000, 2,500 bytes), each behind a small guard, then freed",
         ["a 20 2000", "a 21 24", "a 22 3000", "a 23 24", "a 24 2500", "a 25 24",
          "f 20", "f 22", "f 24"]),
        ("requests that search the bins",
         ["a 26 2000", "a 27 2600", "a 28 200", "a 29 50", "a 30 2480", "a 31 120"]),
        ("a block above the mmap threshold", ["a 32 300000", "f 32"]),
    ]
    lines = []
    for title, body in phases:
        lines.append(f"# {title}")
        lines += body
    return "\n".join(lines) + "\n"


#: Characters a line of ``path_table`` may take: what a notebook's output area shows unbroken.
WIDTH = 96

#: A small trace on which glibc's malloc takes every path of its search, one after another.
FINDING = _finding()


@dataclass(frozen=True, slots=True)
class Step:
    """One operation of a trace and the path glibc's malloc took for it (the model's PathNote)."""

    line: str
    path: str
    note: str


def find_paths(text: str = FINDING, glibc: str = DEFAULT_RELEASE) -> tuple[Step, ...]:
    """Replay trace ``text`` on the model of ``glibc``; the path each operation took.

    Snapshot lines take no path and are left out.
    """
    replayer = Replayer(text, Malloc(glibc=glibc))
    steps = []
    while not replayer.done:
        op = replayer.step()
        if op is None or op.kind == "snapshot":
            continue
        note = replayer.malloc.last_note
        steps.append(Step(str(op), note.path, note.text))
    return tuple(steps)


def path_table(steps: Sequence[Step], width: int = WIDTH) -> str:
    """The steps as aligned rows (operation, path, note); runs of three or more calls of one kind
    that took one path show their first call in full and fold the rest into one row. Notes are
    wrapped at word boundaries so that no line is longer than ``width`` (a notebook's output
    would otherwise break them mid-word).

    >>> print(path_table(find_paths("a 0 100\\na 1 100\\na 2 100\\n"), width=80))
    a 0 100              top   malloc(100): 112-byte chunk: carved from the start of the top
                               chunk (sbrk(135,168))
    a 1 100 .. a 2 100   top   (2 more calls, the same path)
    """
    rows: list[tuple[str, str, str]] = []
    k = 0
    while k < len(steps):
        j = k + 1
        while (j < len(steps) and steps[j].path == steps[k].path
               and steps[j].line[0] == steps[k].line[0]):
            j += 1
        if j - k <= 2:                      # one or two: each in full
            rows += [(s.line, s.path, s.note) for s in steps[k:j]]
        else:                               # a run: the first in full, the rest folded
            first, rest = steps[k], steps[k + 1:j]
            rows.append((first.line, first.path, first.note))
            rows.append((f"{rest[0].line} .. {rest[-1].line}", first.path,
                         f"({len(rest)} more calls, the same path)"))
        k = j
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    indent = " " * (w0 + w1 + 6)
    lines = []
    for a, b, c in rows:
        lines += textwrap.wrap(c, width, initial_indent=f"{a.ljust(w0)}   {b.ljust(w1)}   ",
                               subsequent_indent=indent, break_long_words=False,
                               break_on_hyphens=False)
    return "\n".join(lines)


def pinned(n: int, size: int, write: int) -> str:
    """Trace of ``n`` blocks of ``size`` bytes, one small block after them, then the ``n`` freed.

    The small block stays: on glibc it sits just below the heap's top, so the heap cannot shrink.
    ``write`` 1 writes every block after allocating it (as a program filling its data would).
    """
    _at_least("n", n, 1)
    _at_least("size", size, 1)
    if write not in (0, 1):
        raise ValueError(f"write must be 0 or 1, got {write!r}")
    lines = []
    for i in range(n + 1):
        lines.append(f"a {i} {size if i < n else 24}")
        if write:
            lines.append(f"w {i}")
    lines.append("s built")
    lines += [f"f {i}" for i in range(n)]
    lines.append("s freed")
    return "\n".join(lines) + "\n"


PINNED = Scenario(
    "pinned", "n blocks of one size and a small block after them; the n freed, the small one kept",
    (Param("n", 1, 1_000_000, 1, 100_000, "number of blocks"),
     Param("size", 1, 100_000, 1, 1_000, "bytes per block"),
     Param("write", 0, 1, 1, 0, "1: write every block after allocating it")), pinned)

#: jemalloc told to purge freed pages at once instead of over about ten seconds (its decay).
DECAY_NOW = {"jemalloc": {"MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"}}


@dataclass(frozen=True, slots=True)
class DesignCase:
    """One experiment of lesson 07: the pinned trace with these values, allocators tuned so."""

    name: str
    values: tuple[tuple[str, int], ...]
    settings: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def settings_dict(self) -> dict[str, dict[str, str]]:
        """``settings`` as run_allocators takes them."""
        return {name: dict(pairs) for name, pairs in self.settings}


#: The lesson's three experiments on 100,000 blocks of 1,000 bytes.
CASES = (
    DesignCase("never written", (("n", 100_000), ("size", 1_000), ("write", 0))),
    DesignCase("written", (("n", 100_000), ("size", 1_000), ("write", 1))),
    DesignCase("written, jemalloc purging at once", (("n", 100_000), ("size", 1_000), ("write", 1)),
               tuple((k, tuple(v.items())) for k, v in DECAY_NOW.items())),
)


def run_designs(cases: Sequence[DesignCase] = CASES, names: Sequence[str] = NAMES,
                every: int | None = None) -> dict[str, AllocatorRuns]:
    """Run each case's pinned trace on the real allocators; their runs by case name."""
    return {case.name: run_allocators_text(PINNED.text(**dict(case.values)), f"pinned ({case.name})",
                                           every, names, settings=case.settings_dict())
            for case in cases}


def designs_table(runs: Mapping[str, AllocatorRuns], label: str = "freed") -> str:
    """Resident bytes at the snapshot ``label`` ("built" or "freed"), one row per case.

    >>> from memlab.native.rivals import AllocatorSeries, Point
    >>> r = AllocatorRuns("t", 2, 0, (AllocatorSeries("glibc", (Point(2, "freed", 0, 4096),)),))
    >>> print(designs_table({"demo": r}))
    resident after 'freed'    glibc
    demo                    4,096 B
    """
    names = next(iter(runs.values())).names
    header = [f"resident after {label!r}", *names]
    rows = [header]
    for case, r in runs.items():
        rows.append([case] + [fmt_bytes(_at(r[n], label).rss) for n in names])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in rows)


def _at(series, label: str):
    for p in series.points:
        if p.label == label:
            return p
    raise KeyError(f"{series.name} has no snapshot labelled {label!r}")
