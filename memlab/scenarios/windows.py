"""Lesson 09's Windows scenario: small objects fill a heap, half are dropped, a big block fails.

A 32-bit Windows program (the model in ``memlab.windows``) builds ``objects`` bytes of small
objects of 300 to 400 bytes, drops every other one, and then asks VirtualAlloc for one ``big``
block. The heap's segments stay reserved around the surviving objects, so the free address space
is cut into ranges too short for the big block although, free inside the heap and outside it, far
more than ``big`` is free. The fixes change one thing each:

    none           the objects live in the process heap (what the seed's program did)
    private heap   the dropped objects live in a private heap, destroyed whole once done
    reserve early  the big block is reserved before the objects are made
    4 GiB          the program is linked /LARGEADDRESSAWARE and runs on 64-bit Windows
    64-bit         the program is built for 64 bits

>>> run = seed_run(objects=64 * MiB, big=100 * MiB)
>>> [s.label for s in run.stages]
['start', 'built', 'half dropped', 'big block']
>>> run.big_ok, run.stage("half dropped").map.largest_free > 100 * MiB
(True, True)
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import memlab.windows
from memlab.native.build import cache_dir
from memlab.units import MiB
from memlab.windows import AddressMap, Process, Region

__all__ = ["FIXES", "Stage", "SeedRun", "seed_run", "OBJECT_SIZES", "SEED", "fixes_table",
           "segments_table", "Refill", "refill", "linux_map"]

FIXES = ("none", "private heap", "reserve early", "4 GiB", "64-bit")
#: The seed's objects: 300 to 400 bytes each, drawn with this seed.
OBJECT_SIZES = (300, 400)
SEED = 2026


@dataclass(frozen=True, slots=True)
class Stage:
    """The address space after one step of the scenario."""

    label: str
    map: AddressMap
    in_heaps: int          # bytes of live blocks in the heaps (headers included)


@dataclass(frozen=True, slots=True)
class SeedRun:
    """One run of the scenario: its parameters, its stages, and whether the big block came."""

    objects: int
    big: int
    fix: str
    made: int              # objects made (fewer than asked when the heap ran out of room)
    asked: int
    stages: tuple[Stage, ...]
    big_ok: bool

    def stage(self, label: str) -> Stage:
        return next(s for s in self.stages if s.label == label)

    def summary(self, label: str = "half dropped") -> str:
        """One line: the objects made, then the numbers at ``label`` and the big block's fate."""
        m = self.stage(label).map
        lo, hi = OBJECT_SIZES
        made = (f"{self.made:,} objects of {lo}-{hi} bytes"
                + ("" if self.made == self.asked else f" (of {self.asked:,}: the heap ran out)"))
        fate = "succeeds" if self.big_ok else "fails"
        return (f"{self.fix}: {made}; at '{label}': longest free range {m.largest_free // MiB:,} MiB, "
                f"free address space {m.free_total // MiB:,} MiB, free inside heaps "
                f"{m.heap_free // MiB:,} MiB; in the end VirtualAlloc({self.big // MiB:,} MiB) {fate}")


def _sizes(objects: int, seed: int) -> list[int]:
    lo, hi = OBJECT_SIZES
    return random.Random(seed).choices(range(lo, hi + 1), k=objects // ((lo + hi) // 2))


def _code_digest() -> str:
    """A hash of the model's and this scenario's source: a saved run is used only with them."""
    package = Path(memlab.windows.__file__).parent
    files = sorted(package.glob("*.py")) + [Path(__file__), package.parent / "units.py",
                                            package.parent / "space" / "ranges.py"]
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]


@lru_cache(maxsize=32)
def seed_run(objects: int = 1024 * MiB, big: int = 500 * MiB, fix: str = "none",
             seed: int = SEED) -> SeedRun:
    """Run the scenario (see the module). Millions of heap calls take seconds, so runs are
    kept in memory and saved in memlab's cache folder, under a hash of the model's source."""
    if fix not in FIXES:
        raise ValueError(f"fix {fix!r}: choose one of {', '.join(FIXES)}")
    key = hashlib.sha256(repr((objects, big, fix, seed, _code_digest())).encode()).hexdigest()
    path = cache_dir() / "windows" / f"{key[:24]}.pickle"
    try:
        with open(path, "rb") as f:
            found = pickle.load(f)
        if isinstance(found, SeedRun):
            return found
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        pass
    result = _seed_run(objects, big, fix, seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".run-", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(result, f)
        os.replace(tmp, path)
    except OSError:
        pass                       # no cache folder: the run is still right, only slower
    return result


def _seed_run(objects: int, big: int, fix: str, seed: int) -> SeedRun:
    if fix not in FIXES:
        raise ValueError(f"fix {fix!r}: choose one of {', '.join(FIXES)}")
    if objects < 0 or big <= 0:
        raise ValueError(f"need objects >= 0 and big > 0, got {objects:,} and {big:,}")
    space = {"4 GiB": "4 GiB", "64-bit": "64-bit"}.get(fix, "2 GiB")
    p = Process(space)
    stages = []

    def snap(label):
        stages.append(Stage(label, p.view(), sum(h.in_use for h in p.heaps)))

    snap("start")
    early = p.virtual_alloc(big, commit=False) if fix == "reserve early" else None
    sizes = _sizes(objects, seed)
    if fix == "private heap":   # the dropped half goes to a private heap, the kept half stays
        temp = p.heap_create(name="private heap")
        kept = p.process_heap.alloc_many(sizes[1::2])
        dropped = temp.alloc_many(sizes[0::2])
        made = len(kept) + len(dropped)
        snap("built")
        p.heap_destroy(temp)
    else:
        blocks = p.process_heap.alloc_many(sizes)
        made = len(blocks)
        snap("built")
        p.process_heap.free_many(blocks[0::2])
    snap("half dropped")
    got = early if early is not None else p.virtual_alloc(big)
    snap("big block")
    return SeedRun(objects, big, fix, made, len(sizes), tuple(stages), got is not None)


def fixes_table(objects: int = 1024 * MiB, big: int = 500 * MiB) -> str:
    """The scenario with each fix: the numbers once half the objects are dropped, and the big block.

    >>> print(fixes_table(64 * MiB, 100 * MiB).splitlines()[0])
    fix             longest free  free space  free in heaps  VirtualAlloc(100 MiB)
    """
    rows = [f"{'fix':15} {'longest free':>12}  {'free space':>10}  {'free in heaps':>13}  "
            f"VirtualAlloc({big // MiB:,} MiB)"]
    for fix in FIXES:
        run = seed_run(objects, big, fix)
        m = run.stage("half dropped").map
        rows.append(f"{fix:15} {_mib(m.largest_free):>12}  {_mib(m.free_total):>10}  "
                    f"{_mib(m.heap_free):>13}  {'succeeds' if run.big_ok else 'fails'}")
    return "\n".join(rows)


def _mib(n: int) -> str:
    """Whole MiB, rounded down, for a table (a 64-bit space is shown in TiB).

    >>> _mib(3 * MiB - 1), _mib(2**47)
    ('2 MiB', '128 TiB')
    """
    if n >= 2**40:
        return f"{n // 2**40:,} TiB"
    return f"{n // MiB:,} MiB"


def segments_table(run: SeedRun, label: str = "built") -> str:
    """The heap segments at ``label``, oldest first: base address and size.

    >>> print(segments_table(seed_run(4 * MiB, MiB)).splitlines()[1])
    0x0011_0000    1 MiB  process heap
    """
    rows = ["base         size      heap"]
    segs = sorted((r for r in run.stage(label).map.regions if r.kind == "heap"),
                  key=lambda r: r.base)
    for r in segs:
        rows.append(f"{r.base:#011_x}  {_mib(r.size):>7}  {r.owner}")
    return "\n".join(rows)


@dataclass(frozen=True, slots=True)
class Refill:
    """After the scenario's objects are half dropped, ``count`` more objects of ``size`` bytes."""

    count: int
    size: int
    in_holes: int           # how many took a block freed when the objects were dropped
    space_before: int       # free address space before and after
    space_after: int


def refill(objects: int = 256 * MiB, count: int = 1000, size: int = 350, seed: int = SEED) -> Refill:
    """Drop every other object of the scenario's heap, then allocate ``count`` objects again.

    >>> r = refill(16 * MiB, 100)
    >>> r.in_holes, r.space_after == r.space_before
    (100, True)
    """
    p = Process()
    blocks = p.process_heap.alloc_many(_sizes(objects, seed))
    dropped = set(blocks[0::2])
    p.process_heap.free_many(blocks[0::2])
    before = p.view().free_total
    again = p.process_heap.alloc_many([size] * count)
    return Refill(count, size, sum(a in dropped for a in again), before, p.view().free_total)


#: How the 32-bit Linux picture's kinds of mapping are drawn (memlab.charts.windows colours).
_LINUX_KINDS = {"program": "image", "library": "image", "heap": "heap", "stack": "stack",
                "mmap": "large"}


def linux_map(picture, user_space: int) -> AddressMap:
    """A 32-bit Linux picture (``regions`` with start, end, kind and name; ``free`` ranges) as
    an AddressMap, so that lesson 09 draws both systems with one chart. The brk heap is drawn
    as a heap; each block glibc mapped on its own as a big block.

    >>> from types import SimpleNamespace as S
    >>> pic = S(regions=(S(start=0x1000, end=0x3000, kind="mmap", name=""),), free=((0x3000, 0x8000),))
    >>> m = linux_map(pic, 0x8000)
    >>> m.regions[0].kind, m.largest_free
    ('large', 20480)
    """
    regions = tuple(Region(r.start, r.end - r.start, r.end - r.start,
                           _LINUX_KINDS.get(r.kind, "image"), r.name or r.kind)
                    for r in picture.regions)
    return AddressMap(0, user_space, regions, tuple(picture.free), 0)
