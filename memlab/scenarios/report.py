"""Run a scenario on the model and tell its story: where each call went, what went back, what stayed."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Mapping

from memlab.glibc import DEFAULT_RELEASE, Malloc
from memlab.replay import Replayer
from memlab.scenarios.catalog import Scenario
from memlab.trace import parse_trace
from memlab.units import fmt_bytes

__all__ = [
    "MALLOC_PATHS",
    "FREE_PATHS",
    "FIELDS",
    "Outcome",
    "run_scenario",
    "seconds_for",
    "Reach",
    "largest_within",
]

MALLOC_PATHS = {
    "tcache": "reused from tcache",
    "tcache-stash": "reused from tcache",
    "fastbin": "reused from a fastbin",
    "smallbin": "reused from a small bin",
    "unsorted-exact": "reused from the unsorted bin",
    "last-remainder": "cut from a free chunk",
    "largebin": "cut from a free chunk",
    "binmap": "cut from a free chunk",
    "top": "carved from the top chunk",
    "sbrk": "heap grown with sbrk first",
    "mmap": "own mapping (mmap)",
    "mmap-fallback": "heap continued in a mapping",
}
"""Short words for the paths a malloc can take (the model's ``PathNote.path``)."""

FREE_PATHS = {
    "free-tcache": "kept in tcache",
    "free-fastbin": "kept in a fastbin",
    "free-unsorted": "kept in the unsorted bin",
    "free-top": "merged into top",
    "free-top-trim": "merged into top, heap trimmed",
    "munmap": "unmapped: back to the kernel",
}
"""Short words for the paths a free can take."""

FIELDS = ("brk", "arena", "hblks", "hblkhd", "uordblks", "fordblks", "smblks", "fsmblks", "rss")
"""The snapshot fields a report compares."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A scenario replayed on the model: the path counts, the snapshots, the bytes returned.

    ``snapshots`` holds (label, {field: value}) pairs in trace order, the last labelled 'end'.

    >>> o = Outcome("reserve", (("n", 1000),), (), 3, 0.01, (("top", 1),), (("free-top", 1),),
    ...             (("end", {"brk": 135168, "arena": 135168, "hblkhd": 0, "uordblks": 656,
    ...                       "rss": 8192}),), 8192, 135168, 0, 0, 0, 0)
    >>> o.end["uordblks"], o.returned
    (656, 0)
    """

    scenario: str
    values: tuple[tuple[str, int], ...]
    settings: tuple[tuple[str, int], ...]
    ops: int
    seconds: float
    malloc_paths: tuple[tuple[str, int], ...]
    free_paths: tuple[tuple[str, int], ...]
    snapshots: tuple[tuple[str, Mapping[str, int]], ...]
    peak_rss: int
    peak_heap: int
    peak_mmapped: int
    released_brk: int
    released_munmap: int
    released_madvise: int
    tcache_chunks: int = 0   # at the end: freed chunks waiting in tcache (counted in use)
    tcache_bytes: int = 0
    tcache_block: int = 0    # glibc's own tcache bookkeeping chunk, when it is on the heap

    @property
    def in_use_words(self) -> str:
        """What the end's bytes counted in use (``uordblks``) are made of.

        >>> o = Outcome("x", (), (), 1, 0.0, (), (), (("end", {"uordblks": 880}),),
        ...             0, 0, 0, 0, 0, 0, 7, 224, 656)
        >>> o.in_use_words
        "glibc's 656 B tcache block, 7 freed chunks waiting in tcache (224 B)"
        """
        held = self.end["uordblks"] - self.tcache_bytes - self.tcache_block
        parts = []
        if held:
            parts.append(f"{fmt_bytes(held)} in blocks the program holds")
        if self.tcache_block:
            parts.append(f"glibc's {fmt_bytes(self.tcache_block)} tcache block")
        if self.tcache_chunks:
            parts.append(f"{self.tcache_chunks:,} freed chunk{'s' * (self.tcache_chunks > 1)} "
                         f"waiting in tcache ({fmt_bytes(self.tcache_bytes)})")
        return ", ".join(parts) or "nothing"

    @property
    def end(self) -> Mapping[str, int]:
        """The last snapshot."""
        return self.snapshots[-1][1]

    def snapshot(self, label: str) -> Mapping[str, int]:
        """The first snapshot with this label."""
        for name, snap in self.snapshots:
            if name == label:
                return snap
        raise KeyError(f"no snapshot {label!r}; have {[n for n, _ in self.snapshots]}")

    @property
    def returned(self) -> int:
        """Bytes given back to the kernel: heap shrunk, mappings unmapped, pages madvised."""
        return self.released_brk + self.released_munmap + self.released_madvise

    def table(self) -> str:
        """One line per snapshot: the heap's size, the mapped bytes, the resident bytes.

        >>> o = Outcome("x", (), (), 1, 0.0, (), (), (("end", {"arena": 135168, "hblkhd": 0,
        ...             "uordblks": 656, "rss": 4096}),), 0, 0, 0, 0, 0, 0)
        >>> print(o.table())
        snapshot            heap      in use      mapped    resident
        end              135,168         656           0       4,096
        """
        lines = [f"{'snapshot':<14}{'heap':>10}{'in use':>12}{'mapped':>12}{'resident':>12}"]
        for label, snap in self.snapshots:
            lines.append(f"{label:<14}{snap['arena']:>10,}{snap['uordblks']:>12,}"
                         f"{snap['hblkhd']:>12,}{snap['rss']:>12,}")
        return "\n".join(lines)

    def report(self) -> str:
        """Where each allocation went, what returned to the kernel, and what the process kept."""
        config = " ".join(f"{k}={v:,}" for k, v in self.values + self.settings)
        end = self.end
        name = f"{self.scenario} {config}" if config else self.scenario
        lines = [f"{name}: {self.ops:,} operations on the glibc model "
                 f"in {self.seconds:.2f} s"]
        for what, paths, words in (("malloc", self.malloc_paths, MALLOC_PATHS),
                                   ("free", self.free_paths, FREE_PATHS)):
            total = sum(n for _, n in paths)
            parts = Counter()
            for path, n in paths:
                parts[words.get(path, path)] += n
            detail = ", ".join(f"{n:,} {w}" for w, n in parts.most_common())
            lines.append(f"{total:,} {what} calls: {detail or 'none'}")
        lines.append(f"at the peak: heap {fmt_bytes(self.peak_heap)}, mappings "
                     f"{fmt_bytes(self.peak_mmapped)}, resident {fmt_bytes(self.peak_rss)}")
        given = (f"given back to the kernel: {fmt_bytes(self.released_munmap)} unmapped, "
                 f"{fmt_bytes(self.released_brk)} by shrinking the heap")
        if self.released_madvise:
            given += f", {fmt_bytes(self.released_madvise)} by madvise"
        lines.append(given)
        lines.append(f"kept at the end: heap {fmt_bytes(end['arena'])}, mappings "
                     f"{fmt_bytes(end['hblkhd'])}, resident {fmt_bytes(end['rss'])}")
        lines.append(f"  counted in use: {fmt_bytes(end['uordblks'])}: {self.in_use_words}")
        if end.get("smblks"):
            lines.append(f"  {end['smblks']:,} free chunks wait in fastbins "
                         f"({fmt_bytes(end['fsmblks'])}); fastbin chunks are never merged "
                         "until something consolidates them")
        return "\n".join(lines)


def _ops(scenario: Scenario, settings: Mapping[str, int], values: Mapping[str, int],
         after: str = "") -> tuple:
    pre = "".join(f"o {name} {value}\n" for name, value in settings.items())
    return parse_trace(pre + scenario.text(**values) + after)


def run_scenario(scenario: Scenario, settings: Mapping[str, int] | None = None,
                 glibc: str = DEFAULT_RELEASE, after: str = "", **values: int) -> Outcome:
    """Replay ``scenario`` (after mallopt calls for ``settings``) on a fresh model; ``after``
    is trace text replayed after the scenario's own operations.

    >>> from memlab.scenarios import RESERVE
    >>> o = run_scenario(RESERVE, n=100_000)   # 400,000 bytes: above the mmap threshold
    >>> o.malloc_paths, o.free_paths, o.released_munmap
    ((('mmap', 1),), (('munmap', 1),), 401408)
    """
    settings = dict(settings or {})
    values = scenario.values(**values)
    ops = _ops(scenario, settings, values, after)
    start = time.perf_counter()
    m = Malloc(glibc=glibc)
    space = m.space
    replayer = Replayer(ops, m)
    paths = {"malloc": Counter(), "free": Counter()}
    peak_rss = peak_heap = peak_mmapped = 0
    while (op := replayer.step()) is not None:
        if op.kind in paths:
            paths[op.kind][m.last_note.path] += 1
        heap = space.brk - space.heap_start
        peak_rss = max(peak_rss, space.rss)
        peak_heap = max(peak_heap, heap)
        peak_mmapped = max(peak_mmapped, space.vsz - heap)
    seconds = time.perf_counter() - start
    waiting = [c.size for c in m.chunks() if c.state == "tcache"]
    tcache = getattr(m, "_tcache", None)
    block = m.release.tcache_chunk_size if tcache is not None and tcache.addr else 0
    snapshots = tuple((snap.label, {f: getattr(snap, f) for f in FIELDS})
                      for snap in replayer.snapshots)
    return Outcome(scenario.name, tuple(values.items()), tuple(settings.items()), replayer.op,
                   seconds, tuple(paths["malloc"].most_common()),
                   tuple(paths["free"].most_common()), snapshots, peak_rss, peak_heap,
                   peak_mmapped, space.released_brk, space.released_munmap,
                   space.released_madvise, len(waiting), sum(waiting), block)


def seconds_for(scenario: Scenario, glibc: str = DEFAULT_RELEASE, **values: int) -> float:
    """Wall-clock seconds the model takes to replay ``scenario`` with these values."""
    return run_scenario(scenario, glibc=glibc, **values).seconds


@dataclass(frozen=True, slots=True)
class Reach:
    """How far a parameter went within a time budget: the value and the seconds it took.

    >>> r = Reach("vecvec", "n", 50_000, 1.0, 1.0)
    >>> r.estimate(100_000_000)    # seconds, if the time grows in proportion
    2000.0
    """

    scenario: str
    name: str
    value: int
    seconds: float
    budget: float

    def estimate(self, value: int) -> float:
        """Seconds for ``value``, scaling the measured time in proportion."""
        return self.seconds * value / self.value

    def summary(self) -> str:
        """One line: the largest value replayed within the budget, and how long it took."""
        return (f"{self.scenario}: {self.name} = {self.value:,} replayed in {self.seconds:.2f} s "
                f"(budget {self.budget:g} s)")


def largest_within(scenario: Scenario, name: str, budget: float = 1.0, start: int = 1000,
                   glibc: str = DEFAULT_RELEASE) -> Reach:
    """The largest ``name`` (doubling from ``start``) whose replay fits in ``budget`` seconds.

    Stops at the parameter's maximum, or once the next doubling would clearly overrun (the
    time grows in proportion); so it runs for about 2-3 x budget seconds at most.

    >>> from memlab.scenarios import RESERVE
    >>> largest_within(RESERVE, "n", budget=5.0, start=4_000_000).value   # one block: fast
    8000000
    """
    param = next((p for p in scenario.params if p.name == name), None)
    if param is None:
        raise KeyError(f"scenario {scenario.name} has no parameter {name!r}")
    best, best_s = None, 0.0
    value = max(start, param.min)
    while value <= param.max:
        took = seconds_for(scenario, glibc, **{name: value})
        if took > budget:
            break
        best, best_s = value, took
        if 2 * took > 1.25 * budget:  # the next doubling would almost surely overrun: skip it
            break
        value *= 2
    if best is None:
        raise ValueError(f"{scenario.name} with {name}={start} already takes over {budget} s")
    return Reach(scenario.name, name, best, best_s, budget)
