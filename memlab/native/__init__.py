"""memlab's bridge to the machine's real glibc: a trace replayer and an allocation recorder, in C,
the rival allocators (jemalloc, tcmalloc, mimalloc) preloaded under the replayer, and Valgrind's
leak checker run on it."""

from memlab.native.allocators import ALLOCATORS, AllocatorMissing
from memlab.native.build import NativeBuildError, NativeUnavailable, build, cache_dir
from memlab.native.rivals import AllocatorRuns, run_allocators
from memlab.native.runner import NativeError, glibc_version, iter_native, replay_native, replay_native_raw
from memlab.native.valgrind import valgrind_leaks

__all__ = [
    "NativeUnavailable",
    "NativeBuildError",
    "NativeError",
    "build",
    "cache_dir",
    "replay_native",
    "replay_native_raw",
    "iter_native",
    "glibc_version",
    "ALLOCATORS",
    "AllocatorMissing",
    "AllocatorRuns",
    "run_allocators",
    "valgrind_leaks",
]
