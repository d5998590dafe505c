"""Homework: per-student problems for the lessons' assignments, and grading by replay on the model.

    seeds      a student's own problem seed, from the class seed and the student's ID
    attempt    a student's trace replayed on the model, operation by operation
    problems   one problem per assignment: its numbers, its traces and its goals
    windows    lesson 09's problem, on the Windows model

The assignments themselves are Otter-Grader master notebooks in the repository's
``homework/`` folder; their tests call this package, never the other way round.

>>> from memlab.homework import StartHere
>>> p = StartHere.for_student(seed=1, student="ada")
>>> p == StartHere.for_student(seed=1, student=" ADA ")     # IDs ignore case and blanks
True
"""

from memlab.homework.attempt import Attempt, attempt
from memlab.homework.problems import (
    ASSIGNMENTS, MALLOC_PATHS, FindingAChunk, LockedIn, Overcommitting, StartHere, TwoSources,
    VectorOfVectors, WhatTopShows, WhyAllocators, YourOwnAllocator, tcache_chunk,
)
from memlab.homework.seeds import HomeworkError, student_rng, student_seed
from memlab.homework.windows import OutOfAddressSpace

__all__ = [
    "HomeworkError", "student_seed", "student_rng",
    "Attempt", "attempt",
    "ASSIGNMENTS", "StartHere", "WhyAllocators", "TwoSources", "VectorOfVectors", "Overcommitting",
    "WhatTopShows", "LockedIn", "FindingAChunk", "YourOwnAllocator", "MALLOC_PATHS", "tcache_chunk",
    "OutOfAddressSpace",
]
