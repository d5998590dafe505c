"""The lessons' scenarios: named, parameterised traces, and what the lessons compute from them.

    catalog    the named scenarios (VECVEC, PUSH_BACK, ...) and their trace text
    bulk       vecvec as steps with runs (N up to 10^8)
    report     a scenario replayed on the model, summed up for a lesson
    costs      what a system call per request would cost, against malloc
    real       a scenario on the machine's real glibc beside the model
    releases   one scenario on several glibc releases
    designs    lesson 07: glibc's search paths, and a pinned heap on the rival allocators
    arenas     lesson 07: worker threads and their arenas, resident memory by threads
    exhaustion lesson 09: a 32-bit process runs out of address space (`exhaustion()`)

>>> from memlab.scenarios import VECVEC
>>> VECVEC.text(n=2).splitlines()[-3:]
['f 1', 'f 2', 'f 0']
"""

from memlab.scenarios.catalog import (
    DYNAMIC_THRESHOLD, PUSH_BACK, RESERVE, SCENARIOS, SMALL_REQUESTS, TWO_SOURCES, VECVEC,
    WORKER_THREADS, Param, Scenario, dynamic_threshold, push_back, push_back_capacities, reserve,
    scenario, small_requests, two_sources, vecvec, worker_threads,
)

__all__ = [
    "Param", "Scenario", "VECVEC", "PUSH_BACK", "RESERVE", "SMALL_REQUESTS", "TWO_SOURCES",
    "DYNAMIC_THRESHOLD", "SCENARIOS", "scenario", "vecvec", "push_back", "push_back_capacities",
    "reserve", "small_requests", "two_sources", "dynamic_threshold", "WORKER_THREADS",
    "worker_threads",
]
