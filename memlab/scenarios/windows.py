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

import random
from dataclasses import dataclass
from functools import lru_cache

from memlab.units import MiB
from memlab.windows import AddressMap, Process

__all__ = ["FIXES", "Stage", "SeedRun", "seed_run", "OBJECT_SIZES", "SEED"]

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
                f"{m.heap_free // MiB:,} MiB; VirtualAlloc({self.big // MiB:,} MiB) {fate}")


def _sizes(objects: int, seed: int) -> list[int]:
    lo, hi = OBJECT_SIZES
    return random.Random(seed).choices(range(lo, hi + 1), k=objects // ((lo + hi) // 2))


@lru_cache(maxsize=32)
def seed_run(objects: int = 1536 * MiB, big: int = 500 * MiB, fix: str = "none",
             seed: int = SEED) -> SeedRun:
    """Run the scenario (see the module); cached, so a dashboard can come back to it."""
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
