"""The pinned heap: many blocks, one small block kept above them, the rest freed.

The heap shrinks only at its top (``sbrk`` with a negative size), so one live block above a big
free stretch keeps the whole stretch in the process, resident. What still gives memory back:
``malloc_trim`` (which also drops the pages inside free chunks), a lower ``M_MMAP_THRESHOLD``
(the blocks never enter the heap), and the process's exit.

>>> print(pinned(2, 1000, 1, 0), end="")
a 0 1000
w 0
a 1 1000
w 1
a 2 24
w 2
s filled
f 0
f 1
s freed
>>> PINNED.values()
{'n': 100, 'size': 100000, 'pin': 1, 'trim': 0}
"""

from __future__ import annotations

from memlab.scenarios.catalog import Param, Scenario

__all__ = ["PIN_SIZE", "pinned", "PINNED"]

#: The small block that stays live (bytes).
PIN_SIZE = 24


def pinned(n: int, size: int, pin: int, trim: int) -> str:
    """Trace: ``n`` blocks of ``size`` bytes written, a 24-byte block above them when ``pin``,
    then the ``n`` blocks freed in order ("freed"); with ``trim``, malloc_trim(0) ("trimmed").

    >>> pinned(3, 64, 0, 1).splitlines()[-3:]
    ['s freed', 't 0', 's trimmed']
    """
    if n < 1 or size < 1 or pin not in (0, 1) or trim not in (0, 1):
        raise ValueError(f"need n >= 1, size >= 1, pin and trim 0 or 1; got {n}, {size}, {pin}, {trim}")
    lines = []
    for i in range(n):
        lines += [f"a {i} {size}", f"w {i}"]
    if pin:
        lines += [f"a {n} {PIN_SIZE}", f"w {n}"]
    lines.append("s filled")
    lines += [f"f {i}" for i in range(n)]
    lines.append("s freed")
    if trim:
        lines += ["t 0", "s trimmed"]
    return "\n".join(lines) + "\n"


PINNED = Scenario(
    "pinned", "n blocks of `size` bytes, a 24-byte block above them (pin), the n blocks freed",
    (Param("n", 1, 200, 1, 100, "number of blocks"),
     Param("size", 16, 200_000, 16, 100_000, "bytes per block"),
     Param("pin", 0, 1, 1, 1, "1: a 24-byte block stays live above the others"),
     Param("trim", 0, 1, 1, 0, "1: malloc_trim(0) after the frees")), pinned)
