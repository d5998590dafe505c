"""A student's own problem seed: the class's seed and the student's ID, hashed together."""

from __future__ import annotations

import hashlib
import random

from memlab.errors import MemlabError

__all__ = ["HomeworkError", "normal_id", "student_seed", "student_rng"]


class HomeworkError(MemlabError, ValueError):
    """An assignment cannot be set up: says what the student has to fix, in one line."""


def normal_id(student: object) -> str:
    """The student's ID as the seed uses it: stripped and case-folded; refused when not set.

    >>> normal_id("  Ada.Lovelace@Example.org ")
    'ada.lovelace@example.org'
    >>> normal_id("")
    Traceback (most recent call last):
    ...
    memlab.homework.seeds.HomeworkError: STUDENT_ID is not set: put your student ID in quotes, as in STUDENT_ID = "s1234567"
    """
    if not isinstance(student, str) or not student.strip():
        raise HomeworkError('STUDENT_ID is not set: put your student ID in quotes, '
                            'as in STUDENT_ID = "s1234567"')
    return student.strip().casefold()


def student_seed(seed: int, student: str, assignment: str) -> int:
    """A 64-bit seed for one student's problem in one assignment.

    The same class seed, ID and assignment always give the same number; changing any
    of them gives an unrelated one.

    >>> student_seed(1, "ada", "00_start_here") == student_seed(1, "ADA", "00_start_here")
    True
    >>> student_seed(1, "ada", "00_start_here") == student_seed(2, "ada", "00_start_here")
    False
    """
    if type(seed) is not int:
        raise HomeworkError(f"SEED must be an int, got {seed!r}")
    text = f"memlab homework|{assignment}|{seed}|{normal_id(student)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def student_rng(seed: int, student: str, assignment: str) -> random.Random:
    """A random generator seeded for one student's problem (see `student_seed`).

    >>> student_rng(7, "ada", "x").randint(1, 10**6) == student_rng(7, "ada", "x").randint(1, 10**6)
    True
    """
    return random.Random(student_seed(seed, student, assignment))
