"""An exact model of glibc's malloc (2.36, x86-64, main arena, one thread) on an AddressSpace."""

from .malloc import (
    M_ARENA_MAX, M_ARENA_TEST, M_CHECK_ACTION, M_MMAP_MAX, M_MMAP_THRESHOLD, M_MXFAST,
    M_PERTURB, M_TOP_PAD, M_TRIM_THRESHOLD, NULL, ChunkView, Mallinfo2, Malloc,
)
from .misuse import UndefinedBehavior
from .note import PathNote
from .release import GLIBC_2_36, Release, release

__all__ = [
    "Malloc", "Mallinfo2", "ChunkView", "PathNote", "NULL", "Release", "GLIBC_2_36", "release",
    "UndefinedBehavior",
    "M_MXFAST", "M_TRIM_THRESHOLD", "M_TOP_PAD", "M_MMAP_THRESHOLD", "M_MMAP_MAX",
    "M_CHECK_ACTION", "M_PERTURB", "M_ARENA_TEST", "M_ARENA_MAX",
]
