"""Compile memlab's C programs on first use, into a cache folder keyed by a hash of the source."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from memlab.errors import MemlabError

__all__ = ["NativeUnavailable", "cache_dir", "find_compiler", "build", "SOURCES", "HEADER"]

_HERE = Path(__file__).resolve().parent
#: Shared by the programs (and by the tests' own C programs): output and measuring.
HEADER = _HERE / "measure.h"

#: The C programs, with the compiler flags each is built with.
SOURCES: dict[str, tuple[str, ...]] = {
    # -z now: bind every library call at start-up, so that no lazy binding writes
    # a page in the middle of a measured replay.
    "replay": ("-O2", "-Wall", "-Wl,-z,now"),
    "record": ("-O2", "-Wall", "-shared", "-fPIC", "-Wl,-z,now"),
    # the overcommit probe: reserves memory with malloc and realloc, never writes it
    "overcommit": ("-O2", "-Wall"),
}


class NativeUnavailable(MemlabError):
    """The real-glibc tools cannot be built here (no C compiler, or it failed).

    >>> str(NativeUnavailable("no C compiler"))
    'no C compiler'
    """


def cache_dir() -> Path:
    """The folder for built programs: $MEMLAB_CACHE, else $XDG_CACHE_HOME/memlab, else ~/.cache/memlab.

    >>> cache_dir().is_absolute()
    True
    """
    if os.environ.get("MEMLAB_CACHE"):
        return Path(os.environ["MEMLAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "memlab"


def _cache_origin() -> str:
    """Which variable chose the cache folder, for messages.

    >>> os.environ["MEMLAB_CACHE"] = "/x"; _cache_origin(); del os.environ["MEMLAB_CACHE"]
    'set by MEMLAB_CACHE'
    """
    if os.environ.get("MEMLAB_CACHE"):
        return "set by MEMLAB_CACHE"
    if os.environ.get("XDG_CACHE_HOME"):
        return "set by XDG_CACHE_HOME"
    return "the default, ~/.cache/memlab"


def find_compiler() -> str:
    """Path of the system C compiler (`cc`, else `gcc`); NativeUnavailable if there is none.

    >>> find_compiler().endswith(("cc", "gcc"))
    True
    """
    for name in ("cc", "gcc"):
        path = shutil.which(name)
        if path:
            return path
    raise NativeUnavailable(
        "memlab's real-glibc replayer and recorder need a C compiler, and neither `cc` nor `gcc` "
        "is on PATH; install one (Debian/Ubuntu: apt-get install gcc; conda: conda install gcc)")


def build(name: str) -> Path:
    """Return the built program `name` ('replay' or 'record'), compiling it if needed.

    The output is named by a hash of the source, the shared header, flags and compiler, and is moved
    into place atomically, so concurrent first uses are safe.

    >>> build("replay").name.startswith("replay-")
    True
    """
    if name not in SOURCES:
        raise ValueError(f"unknown native program {name!r}; expected one of {sorted(SOURCES)}")
    source = _HERE / f"{name}.c"
    flags = SOURCES[name]
    cc = find_compiler()
    digest = hashlib.sha256(source.read_bytes() + HEADER.read_bytes()
                            + repr((flags, cc)).encode()).hexdigest()[:16]
    suffix = ".so" if "-shared" in flags else ""
    target = cache_dir() / f"{name}-{digest}{suffix}"
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", dir=target.parent)
    except OSError as e:
        folder = target.parent
        why = "it is not a folder" if folder.exists() and not folder.is_dir() else f"{e.strerror} ({e.filename})"
        raise NativeUnavailable(f"cannot use {str(folder)!r} as memlab's cache folder ({_cache_origin()}): "
                                f"{why}; point MEMLAB_CACHE at a writable folder") from None
    os.close(fd)
    try:
        result = subprocess.run([cc, *flags, "-o", tmp, str(source)], capture_output=True, text=True)
        if result.returncode != 0:
            raise NativeUnavailable(f"compiling {source.name} with {cc} failed:\n{result.stderr.strip()}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
