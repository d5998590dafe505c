"""memlab: a live, exact model of a process's memory and of glibc's malloc, for teaching.

>>> import memlab
>>> m = memlab.Malloc()
>>> p = m.malloc(100)
>>> m.malloc_usable_size(p), m.mallinfo2().uordblks     # a 112-byte chunk + the 656-byte tcache
(104, 768)
"""

from .errors import MallocAbort, MemlabError, OutOfMemoryKill, SyscallError, TraceError
from .glibc import Malloc, Mallinfo2, UndefinedBehavior
from .leaks import LeakReport, LeakSummary, leak_report
from .replay import Replayer, Timeline, replay, timeline
from .snapshot import Snapshot
from .space import MADV_DONTNEED, MADV_FREE, AddressSpace, SegmentationFault
from .trace import Op, format_trace, parse_trace

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "AddressSpace", "SegmentationFault", "MADV_DONTNEED", "MADV_FREE",
    "Malloc", "Mallinfo2", "UndefinedBehavior",
    "Op", "parse_trace", "format_trace", "Snapshot",
    "Replayer", "replay", "Timeline", "timeline",
    "leak_report", "LeakReport", "LeakSummary",
    "MemlabError", "SyscallError", "OutOfMemoryKill", "MallocAbort", "TraceError",
]
