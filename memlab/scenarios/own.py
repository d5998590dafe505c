"""Lesson 08's traces: objects of one type made and freed in rounds, and a program that leaks.

>>> print(ROUNDS.text(n=2, size=200, rounds=1, other=300), end="")
# rounds: n=2 size=200 rounds=1 other=300
a 0 200
w 0
a 1 200
w 1
f 0
f 1
s round 1
a 2 300
w 2
a 3 300
w 3
s other type
f 2
f 3
s end
"""

from __future__ import annotations

from memlab.scenarios.catalog import Param, Scenario

__all__ = ["rounds", "ROUNDS", "LEAKY", "leaky"]


def rounds(n: int, size: int, rounds: int, other: int) -> str:
    """Trace: `rounds` times, `n` objects of `size` bytes made, written and all freed; then `n`
    objects of another type (`other` bytes) made and written ("other type"), and freed ("end")."""
    lines = []
    for r in range(rounds):
        for i in range(n):
            lines += [f"a {i} {size}", f"w {i}"]
        lines += [f"f {i}" for i in range(n)]
        lines.append(f"s round {r + 1}")
    for i in range(n, 2 * n):
        lines += [f"a {i} {other}", f"w {i}"]
    lines.append("s other type")
    lines += [f"f {i}" for i in range(n, 2 * n)]
    lines.append("s end")
    return "\n".join(lines) + "\n"


ROUNDS = Scenario(
    "rounds", "n objects of one type made and freed, `rounds` times; then n of another type",
    (Param("n", 1, 10_000, 1, 2_000, "objects per round"),
     Param("size", 1, 4_096, 1, 200, "bytes per object"),
     Param("rounds", 1, 20, 1, 5, "rounds"),
     Param("other", 1, 4_096, 1, 300, "bytes per object of the other type")), rounds)


def leaky(n: int, every: int = 4) -> str:
    """Trace: a 64-byte configuration a global points to for the whole run; `n` requests, each a
    1,000-byte buffer (freed) and a 48-byte record the global `current` points to until the
    next request's; every `every`-th record is never freed.

    >>> leaky(4).splitlines()[:8]
    ['a 0 64', 'w 0', 'p g 0 0', 'a 1 1000', 'w 1', 'a 2 48', 'w 2', 'p g 8 2']
    """
    lines = ["a 0 64", "w 0", "p g 0 0"]
    for k in range(n):
        buf, rec = 1 + 2 * k, 2 + 2 * k
        lines += [f"a {buf} 1000", f"w {buf}", f"a {rec} 48", f"w {rec}", f"p g 8 {rec}",
                  f"f {buf}"]
        if k % every != every - 1:
            lines.append(f"f {rec}")
    lines.append("s end")
    return "\n".join(lines) + "\n"


LEAKY = Scenario("leaky", "a configuration kept; n requests, every `every`-th record never freed",
                 (Param("n", 1, 10_000, 1, 100, "requests"),
                  Param("every", 1, 100, 1, 4, "one record in this many is never freed")), leaky)
