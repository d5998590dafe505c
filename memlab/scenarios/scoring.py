"""The traces `python -m memlab score` runs by default, and an allocator's scores beside glibc's.

The default traces are the lessons' single-threaded scenarios at their default parameters
(lesson 08's among them) and the lessons' C++ programs (``memlab/native/containers.cc``) as the recorder writes them, with their writes.

>>> list(TRACES)[:3]
['vecvec', 'push_back', 'reserve']
>>> rows = compare(Segregated, {"small": "a 0 24\\na 1 24\\nf 0\\nf 1\\n"})
>>> [(r.allocator, r.peak_payload, r.peak_heap, r.vsz_end) for r in rows]
[('Segregated', 48, 65536, 0), ('glibc 2.36', 48, 135168, 135168)]
"""

from __future__ import annotations

import re
from typing import Callable

from memlab.allocators import Allocator, Glibc, Segregated
from memlab.glibc import DEFAULT_RELEASE
from memlab.scenarios.catalog import SCENARIOS
from memlab.scenarios.own import LEAKY, ROUNDS
from memlab.scenarios.pinned import PINNED
from memlab.scenarios.programs import program_trace
from memlab.score import Score, score_trace

__all__ = ["TRACES", "PROGRAM_N", "trace_text", "compare", "format_scores", "report"]

#: Elements of the recorded programs (containers KIND N) scored by default.
PROGRAM_N = 10_000

def _threaded(text: str) -> bool:
    """Whether a trace has thread lines (an Allocator serves one thread: those are left out)."""
    return re.search(r"^[ \t]*[Tnxj][ \t]", text, re.M) is not None


#: Name -> a function making the trace text.
TRACES: dict[str, Callable[[], str]] = {
    **{name: (lambda s=s: s.text()) for name, s in SCENARIOS.items() if not _threaded(s.text())},
    "pinned": PINNED.text,
    "rounds": ROUNDS.text,
    "leaky": LEAKY.text,
    **{f"containers {kind}": (lambda kind=kind: program_trace(kind, PROGRAM_N))
       for kind in ("vector", "list", "pinned")},
}


def trace_text(name: str) -> str:
    """The text of one default trace.

    >>> trace_text("dynamic_threshold").splitlines()[1]
    'a 0 1048576'
    """
    try:
        return TRACES[name]()
    except KeyError:
        raise KeyError(f"no trace {name!r}; known: {', '.join(TRACES)}") from None


def _glibc(glibc: str) -> Callable[[], Allocator]:
    def make() -> Allocator:
        return Glibc(glibc=glibc)
    make.label = f"glibc {glibc}"
    return make


def compare(factory: Callable[[], Allocator], traces: dict[str, str] | None = None,
            glibc: str = DEFAULT_RELEASE) -> list[Score]:
    """Score ``factory()`` and glibc's model on each trace (name -> text; the defaults when
    None): two Scores per trace, the allocator's first. A broken allocator raises
    `memlab.score.AllocatorFailed`, its message starting with the trace's name."""
    from memlab.score import AllocatorFailed

    traces = traces if traces is not None else {name: make() for name, make in TRACES.items()}
    rows = []
    for name, text in traces.items():
        try:
            mine = score_trace(text, factory, name)
        except AllocatorFailed as e:
            raise AllocatorFailed(e.lineno, e.op, e.message, trace=name) from None
        theirs = score_trace(text, _glibc(glibc), name)
        rows += [mine, _named(theirs, f"glibc {glibc}")]
    return rows


def report(factory: Callable[[], Allocator], traces: dict[str, str] | None = None,
           glibc: str = DEFAULT_RELEASE) -> str:
    """`compare`'s table as text; for an allocator that breaks a rule, the one line saying where.

    >>> class Same(Allocator):
    ...     def malloc(self, n): return self.space.mmap(4096) if not self.space.vsz else p0
    ...     def free(self, p): pass
    >>> p0 = 0x7ffff7ffe000
    >>> print(report(Same, {"two": "a 0 8\\na 1 8\\n"}))
    Same failed on two: line 2 (a 1 8): Same.malloc returned 0x7ffff7ffe000, which overlaps the block of line 1 at 0x7ffff7ffe000
    """
    from memlab.score import AllocatorFailed

    try:
        return format_scores(compare(factory, traces, glibc))
    except AllocatorFailed as e:
        name = getattr(factory, "__name__", "<lambda>")
        return f"{'the allocator' if name == '<lambda>' else name} failed on {e}"


def _named(score: Score, allocator: str) -> Score:
    from dataclasses import replace

    return replace(score, allocator=allocator)


def format_scores(rows: list[Score]) -> str:
    """The scores as an aligned table, one row per allocator and trace.

    >>> print(format_scores(compare(Segregated, {"one": "a 0 100\\nw 0\\nf 0\\n"})).splitlines()[0])
    trace  allocator   ops  util  peak heap  rss peak  rss mean  rss end  returned  kops/s
    """
    header = ["trace", "allocator", "ops", "util", "peak heap", "rss peak", "rss mean", "rss end",
              "returned", "kops/s"]
    body = [[r.trace, r.allocator, f"{r.ops:,}", f"{r.utilization:.0%}", f"{r.peak_heap:,}",
             f"{r.rss_peak:,}", f"{round(r.rss_mean):,}", f"{r.rss_end:,}", f"{r.returned:,}",
             f"{r.throughput / 1000:,.0f}"] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h)
              for i, h in enumerate(header)]
    out = []
    for row in [header, *body]:
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)
