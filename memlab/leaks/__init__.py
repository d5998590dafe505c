"""Leaks as Valgrind's memcheck classifies them, from the pointers a trace stores (`p` lines).

* `leak_report(trace, malloc_factory=None)` replays a trace on a model (glibc's by default;
  any allocator the `Replayer` can drive) and returns a `LeakReport`: ``.summary`` (a
  `LeakSummary`: ``definitely_lost``, ``indirectly_lost``, ``possibly_lost``,
  ``still_reachable``, each a `Count` of bytes and blocks; ``str()`` is memcheck's LEAK SUMMARY)
  and ``.blocks`` (each block left at exit, a `Block` with its ID, size and trace index, and its
  class);
* `PointerGraph` is the stored pointers themselves; `classify(graph)` is memcheck's algorithm;
* the real memcheck's summary of the same trace is `memlab.native.valgrind.valgrind_leaks`.

The rules of `p` lines are in docs/trace-format.md ("Pointers"); memcheck's, in `memcheck`.

>>> from memlab.leaks import leak_report
>>> print(leak_report("a 0 16\\na 1 16\\np g 0 0\\np 0 0 1 8").summary)
LEAK SUMMARY:
   definitely lost: 0 bytes in 0 blocks
   indirectly lost: 0 bytes in 0 blocks
     possibly lost: 16 bytes in 1 blocks
   still reachable: 16 bytes in 1 blocks
        suppressed: 0 bytes in 0 blocks
"""

from memlab.leaks.graph import Block, PointerGraph
from memlab.leaks.memcheck import LeakReport, classify, leak_report
from memlab.leaks.summary import (CLASSES, DEFINITELY, INDIRECTLY, NO_LEAKS, POSSIBLY, REACHABLE, Count,
                                  LeakSummary)

__all__ = ["Block", "PointerGraph", "LeakReport", "classify", "leak_report", "Count", "LeakSummary", "CLASSES",
           "DEFINITELY", "INDIRECTLY", "POSSIBLY", "REACHABLE", "NO_LEAKS"]
