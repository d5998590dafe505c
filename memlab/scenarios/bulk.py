"""The vecvec scenario as steps with runs, so that N may be 10^8 (see memlab.steps)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from memlab.glibc import Malloc
from memlab.snapshot import Snapshot
from memlab.steps import run_steps

__all__ = ["parse_count", "vecvec_steps", "run_vecvec"]


#: Counts have fewer digits than this (2**64 has 20).
_MAX_DIGITS = 20


def parse_count(text: str) -> int:
    """A positive whole number written as digits or in exponent form.

    >>> parse_count("1e8"), parse_count("100000000"), parse_count("2.5e3")
    (100000000, 100000000, 2500)
    """
    try:
        value = Decimal(text.replace("_", ""))
    except InvalidOperation:
        raise ValueError(f"not a number: {_cut(text)!r}") from None
    if not value.is_finite() or value < 1 or value.adjusted() >= _MAX_DIGITS:
        raise ValueError(f"expected a whole number from 1 to below 1e{_MAX_DIGITS}, got {_cut(text)!r}")
    if value != value.to_integral_value():
        raise ValueError(f"expected a whole number >= 1, got {_cut(text)!r}")
    return int(value)


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def vecvec_steps(n: int) -> list[tuple]:
    """The vecvec scenario (memlab.scenarios.vecvec) as steps.

    >>> vecvec_steps(3)
    [('a', 0, 72), ('w', 0), ('aw', 1, 3, 4), ('s', 'built'), ('f*', 1, 3), ('f', 0)]
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    return [("a", 0, 24 * n), ("w", 0), ("aw", 1, n, 4), ("s", "built"), ("f*", 1, n), ("f", 0)]


def run_vecvec(n: int, every: int | None = None, malloc: Any = None,
               sink: Callable[[Snapshot], Any] | None = None) -> list[Snapshot]:
    """The vecvec scenario for any n, with bulk steps; the snapshots of its replay (or each to `sink`).

    >>> s = run_vecvec(10**6)[-1]
    >>> s.op, s.smblks, s.fsmblks
    (3000003, 999993, 31999776)
    """
    if malloc is None:
        malloc = Malloc()
    return run_steps(vecvec_steps(n), malloc, every, sink)
