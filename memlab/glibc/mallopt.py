"""mallopt's parameter numbers, as glibc's malloc.h defines them.

>>> M_MXFAST, M_MMAP_THRESHOLD, MALLOPT_PARAMS["M_TOP_PAD"]
(1, -3, -2)
"""

from __future__ import annotations

__all__ = [
    "M_MXFAST", "M_TRIM_THRESHOLD", "M_TOP_PAD", "M_MMAP_THRESHOLD", "M_MMAP_MAX",
    "M_CHECK_ACTION", "M_PERTURB", "M_ARENA_TEST", "M_ARENA_MAX", "MALLOPT_PARAMS",
]

M_MXFAST = 1
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
M_CHECK_ACTION = -5
M_PERTURB = -6
M_ARENA_TEST = -7
M_ARENA_MAX = -8

#: Every parameter by its malloc.h name.
MALLOPT_PARAMS: dict[str, int] = {
    "M_MXFAST": M_MXFAST, "M_TRIM_THRESHOLD": M_TRIM_THRESHOLD, "M_TOP_PAD": M_TOP_PAD,
    "M_MMAP_THRESHOLD": M_MMAP_THRESHOLD, "M_MMAP_MAX": M_MMAP_MAX,
    "M_CHECK_ACTION": M_CHECK_ACTION, "M_PERTURB": M_PERTURB, "M_ARENA_TEST": M_ARENA_TEST,
    "M_ARENA_MAX": M_ARENA_MAX,
}
