"""Allocators a student can write, read and score: the base class, four examples, glibc's model.

    Allocator    malloc/free (realloc, calloc, memalign by default) over an AddressSpace
    Bump         one pointer up the brk heap; the break goes back when nothing is live
    Pool         per-size free lists in front of any allocator (never gives memory back)
    Segregated   size classes in spans of pages; empty spans and large blocks are unmapped
    LeakTracer   wraps any allocator; lists the blocks never freed with the site that made them
    Glibc        memlab's exact glibc model (memlab.glibc.Malloc) as one more Allocator

>>> a = Segregated(); p = a.malloc(24); a.size_of(p), a.in_use()
(32, 32)
"""

from .base import ALIGNMENT, NULL, Allocator
from .bump import Bump
from .glibc import Glibc
from .leaktrace import Alive, LeakTracer
from .pool import Pool
from .segregated import Segregated

__all__ = ["Allocator", "ALIGNMENT", "NULL", "Bump", "Pool", "Segregated", "LeakTracer", "Alive",
           "Glibc", "EXAMPLES"]

#: The example allocators, by name.
EXAMPLES = {cls.__name__: cls for cls in (Bump, Segregated, Glibc)}
