"""A model of a 32-bit Windows process's memory, as Microsoft documents it (not Windows' code).

    facts     the documented numbers: 64 KiB granularity, 4 KiB pages, 2/3/4 GiB user space,
              the large-block limit, the linker's default bases and reserves
    views     Region and AddressMap: read-only values of the address space
    space     reservations placed bottom-up at 64 KiB granules (VirtualAlloc, VirtualFree)
    heap      a growable heap: segments reserved and committed as it grows, big blocks apart
    process   a process: images, stack, the process heap, private heaps, the calls

>>> from memlab.windows import Process
>>> p = Process()
>>> h = p.heap_create()
>>> a = h.alloc(300)
>>> p.heap_destroy(h)            # the whole private heap goes back at once
>>> p.view().largest_free == Process().view().largest_free
True
"""

from memlab.windows.facts import GRANULARITY, LARGE_BLOCK, PAGE, USER_SPACE, Image
from memlab.windows.heap import Heap, block_size
from memlab.windows.process import Process
from memlab.windows.space import Space, WinApiError
from memlab.windows.views import AddressMap, Region

__all__ = ["Process", "Heap", "Space", "AddressMap", "Region", "Image", "WinApiError",
           "block_size", "GRANULARITY", "PAGE", "LARGE_BLOCK", "USER_SPACE"]
