"""memlab's bridge to the machine's real glibc: a trace replayer and an allocation recorder, in C."""

from memlab.native.build import NativeUnavailable, build, cache_dir
from memlab.native.runner import NativeError, glibc_version, iter_native, replay_native, replay_native_raw

__all__ = [
    "NativeUnavailable",
    "NativeError",
    "build",
    "cache_dir",
    "replay_native",
    "replay_native_raw",
    "iter_native",
    "glibc_version",
]
