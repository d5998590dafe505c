"""An exact model of glibc's malloc (2.36, x86-64, main arena, one thread) on an AddressSpace."""

from .malloc import NULL, ChunkView, Mallinfo2, Malloc
from .mallopt import (
    M_ARENA_MAX, M_ARENA_TEST, M_CHECK_ACTION, M_MMAP_MAX, M_MMAP_THRESHOLD, M_MXFAST,
    M_PERTURB, M_TOP_PAD, M_TRIM_THRESHOLD,
)
from .misuse import UndefinedBehavior
from .note import PathNote
from .release import DEFAULT_RELEASE, GLIBC_2_36, RELEASES, Release, release

__all__ = [
    "Malloc", "Mallinfo2", "ChunkView", "PathNote", "NULL", "Release", "GLIBC_2_36", "release",
    "RELEASES", "DEFAULT_RELEASE",
    "UndefinedBehavior",
    "M_MXFAST", "M_TRIM_THRESHOLD", "M_TOP_PAD", "M_MMAP_THRESHOLD", "M_MMAP_MAX",
    "M_CHECK_ACTION", "M_PERTURB", "M_ARENA_TEST", "M_ARENA_MAX",
]
