"""Scoring an allocator on a trace: a checked replay (as CS:APP's malloc-lab driver) and its numbers.

Every call is checked as it returns: a payload must be 16-byte aligned (or as memalign asked),
lie inside mapped memory and overlap no other live payload; a realloc that moves a block must
copy the old bytes' extent (``Allocator.copy``). The first broken rule, or an exception the
allocator raises, stops the replay with `AllocatorFailed`: one line naming the trace line.

The numbers, all read from the address space (``memlab.space``), so the same for any allocator:

    utilization   peak payload / peak heap (CS:APP's definition), the heap being the bytes
                  mapped (VSZ): brk heap and mappings
    rss_peak      the most resident bytes at any point; rss_mean their mean over the operations
    rss_end       resident bytes after the last operation
    returned      rss_peak - rss_end: resident memory given back to the kernel by the end
    throughput    operations per second, timing only the allocator's calls

>>> from memlab.allocators import Bump
>>> s = score_trace("a 0 100\\nw 0\\na 1 4000\\nw 1\\nf 0\\nf 1\\n", Bump)
>>> s.peak_payload, s.peak_heap, s.rss_peak, s.rss_end, s.returned
(4100, 8192, 8192, 0, 8192)
>>> score_trace("a 0 10\\na 1 10\\n", Broken)
Traceback (most recent call last):
...
memlab.score.AllocatorFailed: line 2 (a 1 10): Broken.malloc returned 0x7ffff7ffe000, which overlaps the block of line 1 at 0x7ffff7ffe000
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Callable

from memlab.allocators import ALIGNMENT, Allocator, Glibc, LeakTracer
from memlab.errors import MemlabError
from memlab.space import SegmentationFault
from memlab.space.address_space import TASK_SIZE as _TASK_SIZE
from memlab.trace import Trace, read_trace

__all__ = ["Score", "AllocatorFailed", "score_trace", "entry_lines", "alive_at_end"]


class AllocatorFailed(MemlabError):
    """An allocator broke a rule (or raised) at one trace line; the message names it."""

    def __init__(self, lineno: int, op: str, message: str, trace: str = "") -> None:
        where = f"{trace}: " if trace else ""
        at = f"line {lineno} ({op}): " if lineno else ""
        super().__init__(f"{where}{at}{message}")
        self.trace = trace
        self.lineno = lineno
        self.op = op
        self.message = message


@dataclass(frozen=True, slots=True)
class Score:
    """One allocator's numbers on one trace (see the module docstring)."""

    allocator: str
    trace: str
    ops: int
    peak_payload: int
    peak_heap: int
    rss_peak: int
    rss_mean: float
    rss_end: int
    vsz_end: int
    seconds: float

    @property
    def utilization(self) -> float:
        """Peak payload over peak heap (1.0 when neither grew)."""
        return self.peak_payload / self.peak_heap if self.peak_heap else 1.0

    @property
    def returned(self) -> int:
        """Resident bytes given back by the end: rss_peak - rss_end."""
        return self.rss_peak - self.rss_end

    @property
    def throughput(self) -> float:
        """Operations per second spent in the allocator."""
        return self.ops / self.seconds if self.seconds else float("inf")


def _one_line(e: BaseException, limit: int = 160) -> str:
    """An exception's message on one line, cut to `limit` characters.

    >>> _one_line(ValueError("two\\nlines"))
    'two lines'
    """
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def entry_lines(text: str) -> list[int]:
    """The line number of each entry of trace `text` (blank lines, comments, a header skipped).

    >>> entry_lines("# a comment\\na 0 1\\n\\nf 0\\n")
    [2, 4]
    """
    lines, header = [], True
    for lineno, line in enumerate(text.splitlines(), 1):
        body = line.strip(" \t\r\x0b\x0c")
        if not body or body[0] == "#":
            continue
        if header and all(f.isdigit() for f in body.split()):
            continue          # a .rep header's integers
        header = False
        lines.append(lineno)
    return lines


class _Checker:
    """The live payloads, sorted, and the rules each call must keep."""

    def __init__(self, alloc: Allocator, lines: list[int], trace: Trace) -> None:
        self.alloc = alloc
        self.trace = trace
        self.name = alloc.name
        self.space = alloc.space
        self.lines = lines
        self.starts: list[int] = []
        self.blocks: dict[int, tuple[int, int]] = {}     # start -> (end, line of the call)
        self.null_ok = isinstance(alloc, Glibc)           # the truth may fail a call

    def fail(self, k: int, message: str) -> None:
        raise AllocatorFailed(self.lines[k] if k < len(self.lines) else k + 1,
                              str(self.trace.op(k)), message)

    def add(self, k: int, call: str, p, n: int, align: int = ALIGNMENT) -> bool:
        """Check a returned payload and record it; False for an allowed NULL."""
        if type(p) is not int or not 0 <= p < _TASK_SIZE:
            shown = f"{p:#x}" if type(p) is int else repr(p)[:40]
            self.fail(k, f"{self.name}.{call} returned {shown}, not an address")
        if p == 0:
            if self.null_ok or n >= _TASK_SIZE:     # the truth may fail; no one serves that much
                return False
            self.fail(k, f"{self.name}.{call} returned NULL")
        if p % align:
            self.fail(k, f"{self.name}.{call} returned {p:#x}, not {align}-byte aligned")
        end = p + max(n, 1)
        try:
            self.space.read(p, end - p)
        except SegmentationFault as e:
            self.fail(k, f"{self.name}.{call} returned {p:#x}, but {e.addr:#x} of its "
                             f"{n:,} bytes is not mapped")
        i = bisect.bisect_right(self.starts, p)
        for j in (i - 1, i):
            if 0 <= j < len(self.starts):
                start = self.starts[j]
                other_end, line = self.blocks[start]
                if start < end and p < other_end:
                    self.fail(k, f"{self.name}.{call} returned {p:#x}, which overlaps the "
                                     f"block of line {line} at {start:#x}")
        self.starts.insert(i, p)
        self.blocks[p] = (end, self.lines[k] if k < len(self.lines) else k + 1)
        return True

    def remove(self, p: int) -> None:
        del self.blocks[p]
        del self.starts[bisect.bisect_left(self.starts, p)]


#: The allocator method each trace letter calls (None: the program's own operation).
_CALLS = {"a": "malloc", "c": "calloc", "m": "memalign", "r": "realloc", "f": "free",
          "t": "malloc_trim", "o": "mallopt"}


def score_trace(trace: str | Trace, factory: Callable[[], Allocator], name: str = "trace"
                ) -> Score:
    """Replay `trace` (text, or a Trace) on ``factory()``, checking every call; its Score.

    IDs live and die by the replay rules of ``memlab.replay``. An allocator that breaks a rule
    or raises gives `AllocatorFailed` naming the line.
    """
    lines = entry_lines(trace) if isinstance(trace, str) else list(range(1, len(trace) + 1))
    ops = read_trace(trace) if isinstance(trace, str) else trace
    try:
        alloc = factory()
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        raise AllocatorFailed(0, "", f"making the allocator raised {type(e).__name__}: "
                                     f"{_one_line(e)}") from None
    if not isinstance(alloc, Allocator):
        raise AllocatorFailed(0, "", f"{alloc!r} is not a memlab.allocators.Allocator")
    check = _Checker(alloc, lines, ops)
    space = alloc.space
    live: dict[int, tuple[int, int]] = {}        # ID -> (pointer, requested bytes)
    payload = peak_payload = peak_heap = rss_peak = 0
    rss_sum = count = 0
    spent = 0
    copies = alloc._copies
    sited = hasattr(alloc, "site")               # a LeakTracer: each block's site is its line
    rare, args = ops.rare, ops.args
    for k, letter, ident, size in zip(range(len(ops)), ops.kinds, ops.ids, ops.sizes):
        if letter == "s":
            continue
        if sited:
            alloc.site = f"line {lines[k] if k < len(lines) else k + 1}"
        call = _CALLS.get(letter)
        try:
            t0 = perf_counter_ns()
            if letter == "a" or letter == "c" or letter == "m":
                old = live.pop(ident, None)
                if old is not None:            # the ID is reused: its old block just leaks
                    payload -= old[1]
                if letter == "a":
                    n, align = size, ALIGNMENT
                    p = alloc.malloc(n)
                elif letter == "c":
                    n, align = args[k] * size, ALIGNMENT
                    p = alloc.calloc(args[k], size)
                else:
                    n, align = size, max(ALIGNMENT, args[k])
                    p = alloc.memalign(args[k], size)
                spent += perf_counter_ns() - t0
                if check.add(k, call, p, n, align):
                    live[ident] = (p, n)
                    payload += n
            elif letter == "f":
                old = live.pop(ident, None)
                alloc.free(old[0] if old else 0)
                spent += perf_counter_ns() - t0
                if old:
                    check.remove(old[0])
                    payload -= old[1]
            elif letter == "r":
                old = live.get(ident)
                copies.clear()
                q = alloc.realloc(old[0] if old else 0, size)
                spent += perf_counter_ns() - t0
                if old and (q or size == 0):
                    check.remove(old[0])
                    del live[ident]
                    payload -= old[1]
                if (q or size != 0) and check.add(k, call, q, size):
                    keep = min(old[1], size) if old else 0
                    if old and q != old[0] and keep and not any(
                            d == q and s == old[0] and c >= keep for d, s, c in copies):
                        check.fail(k, f"{check.name}.realloc moved the block from {old[0]:#x} "
                                      f"to {q:#x} without copying its first {keep:,} bytes "
                                      "(Allocator.copy)")
                    live[ident] = (q, size)
                    payload += size
            elif letter == "w":
                block = live.get(ident)
                if block and block[1]:
                    space.touch(block[0], block[1])
            elif letter == "p":               # the program writes a pointer into a block
                op = rare[k]
                block = live.get(op.id) if op.id is not None else None
                if block and block[1] >= 8 and op.offset <= block[1] - 8:
                    space.touch(block[0] + op.offset, 8)
            elif letter == "t":
                alloc.malloc_trim(rare[k].pad)
                spent += perf_counter_ns() - t0
            elif letter == "o":
                alloc.mallopt(rare[k].param, rare[k].value)
                spent += perf_counter_ns() - t0
        except AllocatorFailed:
            raise
        except SegmentationFault as e:
            who = f"{check.name}.{call}" if call else "the program's write"
            check.fail(k, f"{who} met unmapped memory at {e.addr:#x}")
        except RecursionError:
            check.fail(k, f"{check.name}.{call} recursed without end")
        except KeyboardInterrupt:
            raise
        except BaseException as e:        # the student's code: one line, never a traceback
            who = f"{check.name}.{call}" if call else "the program's write"
            check.fail(k, f"{who} raised {type(e).__name__}: {_one_line(e)}")
        count += 1
        rss = space.rss
        rss_sum += rss
        if payload > peak_payload:
            peak_payload = payload
        vsz = space.vsz
        if vsz > peak_heap:
            peak_heap = vsz
        if rss > rss_peak:
            rss_peak = rss
    return Score(alloc.name, name, count, peak_payload, peak_heap, rss_peak,
                 rss_sum / count if count else 0.0, space.rss, space.vsz, spent / 1e9)


def alive_at_end(trace: str | Trace, factory: Callable[[], Allocator] = Glibc) -> LeakTracer:
    """Replay `trace` on ``LeakTracer(factory())``; the tracer, each block's site its trace line.

    >>> print(alive_at_end("a 0 10\\na 1 20\\n# done\\na 2 30\\nf 1\\n").report())
    1 block, 30 bytes alive, allocated at line 4
    1 block, 10 bytes alive, allocated at line 1
    """
    made = []

    def make() -> Allocator:
        made.append(LeakTracer(factory()))
        return made[-1]
    score_trace(trace, make)
    return made[-1]


class Broken(Allocator):
    """For the doctest: every block at the same address."""

    def malloc(self, n: int) -> int:
        if not self.space.vsz:
            self.space.mmap(4096)
        return self.space.mappings()[0].start

    def free(self, p: int) -> None:
        pass
