"""Plain records an AddressSpace hands out: mappings, system-call events, a full state view."""

from __future__ import annotations

import errno as _errno
from dataclasses import dataclass

__all__ = ["Mapping", "Event", "SpaceState"]


@dataclass(frozen=True, slots=True)
class Mapping:
    """One region of the address space: kind 'heap' (the brk area) or 'mmap'.

    >>> m = Mapping(0x1000, 0x3000, "mmap"); m.length, str(m)
    (8192, 'mmap [0x1000, 0x3000) 8,192 B')
    """

    start: int
    end: int
    kind: str

    @property
    def length(self) -> int:
        """Bytes mapped (end - start).

        >>> Mapping(0x1000, 0x2000, "heap").length
        4096
        """
        return self.end - self.start

    def __str__(self) -> str:
        return f"{self.kind} [{self.start:#x}, {self.end:#x}) {self.length:,} B"


@dataclass(frozen=True, slots=True)
class Event:
    """One system call: its name, arguments, and result or errno (like a line of strace).

    >>> str(Event(1, "munmap", (0x1001, 4096), None, 22))
    'munmap(0x1001, 4096) = -1 EINVAL'
    >>> str(Event(2, "sbrk", (4096,), 0x5000, None)), str(Event(3, "madvise", (0x5000, 4096, 4), 0, None))
    ('sbrk(4096) = 0x5000', 'madvise(0x5000, 4096, 4) = 0')
    """

    seq: int
    call: str
    args: tuple[int, ...]
    result: int | None
    errno: int | None

    def __str__(self) -> str:
        args = [f"{a:#x}" if k == 0 and self.call in _ADDRESS_FIRST else str(a)
                for k, a in enumerate(self.args)]
        text = f"{self.call}({', '.join(args)})"
        if self.errno is not None:
            return f"{text} = -1 {_errno.errorcode.get(self.errno, self.errno)}"
        if self.call in _ADDRESS_RESULT and self.result is not None:
            return f"{text} = {self.result:#x}"
        return f"{text} = {self.result}"


_ADDRESS_FIRST = frozenset({"munmap", "mremap", "madvise"})
_ADDRESS_RESULT = frozenset({"sbrk", "mmap", "mremap"})


@dataclass(frozen=True, slots=True)
class SpaceState:
    """Everything observable about an AddressSpace except its call log (for comparisons).

    >>> SpaceState(0, 0, 0, 0, 0, 0, (), (), (), (), 0, 0, 0).rss
    0
    """

    brk: int
    vsz: int
    rss: int
    swap: int
    lazy_free: int
    commit_charge: int
    mappings: tuple[Mapping, ...]
    resident: tuple[tuple[int, int], ...]
    swapped: tuple[tuple[int, int], ...]
    lazy: tuple[tuple[int, int], ...]
    released_brk: int
    released_munmap: int
    released_madvise: int
