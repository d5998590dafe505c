"""Lesson 09's problem: a 32-bit Windows heap and the address space it leaves (the Windows model).

The answers are never stored: the assignment's tests compute them on ``memlab.windows`` and
``memlab.scenarios.windows.seed_run``, as the student is asked to.

>>> p = OutOfAddressSpace(count=3000, size=1000, objects_mib=256, big_mib=300)
>>> p.reserved() // MiB          # 3,000 blocks of 1,008 bytes fit in segments of 1 + 2 MiB
3
>>> p.longest_free_mib("none") < p.longest_free_mib("private heap")
True
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.homework.seeds import student_rng
from memlab.scenarios.windows import seed_run
from memlab.units import MiB
from memlab.windows import Process

__all__ = ["OutOfAddressSpace"]


@dataclass(frozen=True, slots=True)
class OutOfAddressSpace:
    """Lesson 09: heap segments, and the longest free range without and with a private heap."""

    ASSIGNMENT = "09_out_of_address_space"

    count: int          # q1: `count` blocks of `size` bytes on a fresh private heap;
    size: int           #     predict the address space its segments reserve
    objects_mib: int    # q2, q3: the lesson's scenario with this many MiB of objects and this
    big_mib: int        #     big request: the longest free range without a fix, and with a private heap

    @classmethod
    def for_student(cls, seed: int, student: str) -> OutOfAddressSpace:
        rng = student_rng(seed, student, cls.ASSIGNMENT)
        return cls(count=rng.randint(1_000, 60_000), size=rng.randint(100, 4_000),
                   objects_mib=rng.randrange(512, 1025, 64), big_mib=rng.randrange(400, 1001, 100))

    def reserved(self) -> int:
        """Bytes of address space a fresh private heap's segments take after the q1 blocks."""
        heap = Process().heap_create()
        heap.alloc_many([self.size] * self.count)
        return heap.reserved

    def longest_free_mib(self, fix: str = "none") -> int:
        """The scenario's longest free range once half the objects are dropped (whole MiB)."""
        run = seed_run(self.objects_mib * MiB, self.big_mib * MiB, fix)
        return run.stage("half dropped").map.largest_free // MiB
