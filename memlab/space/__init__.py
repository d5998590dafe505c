"""The simulated kernel: one process's address space (brk, mmap, resident pages, swap, overcommit);
`Layout32`/`Space32`: where a 32-bit process's mappings go (lesson 09).

>>> from memlab.space import AddressSpace, PAGE
>>> s = AddressSpace()
>>> a = s.mmap(3 * PAGE); s.touch(a, 5000)       # a write to bytes 0..4999 makes 2 pages resident
>>> s.vsz, s.rss
(12288, 8192)
"""

from memlab.space.address_space import (
    HEAP_START, MADV_DONTNEED, MADV_FREE, MMAP_BASE, OVERCOMMIT_ALWAYS, OVERCOMMIT_GUESS,
    OVERCOMMIT_NEVER, SYSCALLS, AddressSpace, Event, Mapping, SegmentationFault, SpaceState,
)
from memlab.space.layout32 import Layout32, Region
from memlab.space.space32 import Space32
from memlab.units import PAGE

__all__ = [
    "AddressSpace", "SegmentationFault", "MADV_DONTNEED", "MADV_FREE", "OVERCOMMIT_GUESS",
    "OVERCOMMIT_ALWAYS", "OVERCOMMIT_NEVER", "HEAP_START", "MMAP_BASE", "SYSCALLS", "Mapping",
    "Event", "SpaceState", "PAGE", "Layout32", "Space32", "Region",
]
