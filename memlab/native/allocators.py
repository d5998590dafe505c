"""The real allocators a trace can run on: glibc's own malloc and three rivals, preloaded.

jemalloc, tcmalloc and mimalloc are ordinary Debian and Ubuntu packages. memlab clears ``LD_*``
from the replayer's environment, so a rival is put in front of glibc by the dynamic loader's own
``--preload`` option: ``ld-linux-x86-64.so.2 --preload LIBRARY PROGRAM ARGS``.

>>> ALLOCATORS["tcmalloc"].packages
('libtcmalloc-minimal4', 'libtcmalloc-minimal4t64')
>>> preload_prefix("glibc")
[]
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from memlab.errors import MemlabError

__all__ = [
    "Allocator", "ALLOCATORS", "NAMES", "RIVALS", "LOADER", "AllocatorMissing", "allocator",
    "find_library", "library", "installed", "preload_prefix",
]

#: x86-64's dynamic loader, at the path every x86-64 Linux program names.
LOADER = Path("/lib64/ld-linux-x86-64.so.2")
#: Where Debian and Ubuntu put x86-64 shared libraries, searched in this order.
LIBRARY_DIRS = (Path("/usr/lib/x86_64-linux-gnu"), Path("/lib/x86_64-linux-gnu"),
                Path("/usr/lib64"), Path("/usr/lib"), Path("/usr/local/lib"))


@dataclass(frozen=True, slots=True)
class Allocator:
    """One real allocator: its shared library and the packages that install it.

    ``soname`` is None for glibc, whose malloc is the C library's own (nothing to preload);
    ``debian`` names Debian 12's package, ``ubuntu`` Ubuntu 24.04's.

    >>> a = ALLOCATORS["jemalloc"]
    >>> a.soname, a.debian, a.ubuntu, a.rival
    ('libjemalloc.so.2', 'libjemalloc2', 'libjemalloc2', True)
    """

    name: str
    soname: str | None
    debian: str | None
    ubuntu: str | None
    design: str

    @property
    def rival(self) -> bool:
        """True for a preloaded allocator (not glibc's own malloc)."""
        return self.soname is not None

    @property
    def packages(self) -> tuple[str, ...]:
        """The package names that install it (Debian's first), without repeats."""
        return tuple(dict.fromkeys(p for p in (self.debian, self.ubuntu) if p))


ALLOCATORS: dict[str, Allocator] = {a.name: a for a in (
    Allocator("glibc", None, None, None,
              "one heap of chunks with size headers, free chunks in bins, grown with brk"),
    Allocator("jemalloc", "libjemalloc.so.2", "libjemalloc2", "libjemalloc2",
              "size classes in slabs, metadata kept apart, freed pages purged over time (decay)"),
    Allocator("tcmalloc", "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4", "libtcmalloc-minimal4t64",
              "size classes in spans of pages, per-thread caches, memory taken with brk before mmap"),
    Allocator("mimalloc", "libmimalloc.so.2", "libmimalloc2.0", "libmimalloc2.0",
              "size classes in pages carved from large segments, several free lists per page"),
)}
#: Every allocator's name, glibc first.
NAMES = tuple(ALLOCATORS)
#: The preloaded ones.
RIVALS = tuple(n for n in NAMES if ALLOCATORS[n].rival)


class AllocatorMissing(MemlabError):
    """A rival allocator's shared library is not installed here; the message names its package.

    >>> str(AllocatorMissing(ALLOCATORS["tcmalloc"])).split(": ")[0]
    'tcmalloc is not installed'
    """

    def __init__(self, chosen: Allocator) -> None:
        if chosen.debian == chosen.ubuntu:
            how = f"apt-get install {chosen.debian}"
        else:
            how = f"apt-get install {chosen.debian} on Debian 12, {chosen.ubuntu} on Ubuntu 24.04"
        super().__init__(f"{chosen.name} is not installed: memlab preloads {chosen.soname}, "
                         f"from the package {' or '.join(chosen.packages)} ({how})")
        self.allocator = chosen


def allocator(name: str) -> Allocator:
    """The allocator called ``name``; ValueError naming the choices otherwise.

    >>> allocator("mimalloc").debian
    'libmimalloc2.0'
    """
    try:
        return ALLOCATORS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown allocator {name!r}; choose one of {', '.join(NAMES)}") from None


def _ldconfig_paths(soname: str) -> list[Path]:
    """Paths the loader's cache (``ldconfig -p``) gives for ``soname``, x86-64 ones only."""
    for ldconfig in ("/sbin/ldconfig", "/usr/sbin/ldconfig"):
        if os.access(ldconfig, os.X_OK):
            try:
                text = subprocess.run([ldconfig, "-p"], capture_output=True, text=True).stdout
            except OSError:
                return []
            return [Path(line.rsplit(" => ", 1)[1].strip()) for line in text.splitlines()
                    if line.strip().startswith(soname + " ") and "x86-64" in line and " => " in line]
    return []


def find_library(name: str) -> Path | None:
    """The shared library of allocator ``name`` on this machine, or None (always None for glibc).

    >>> find_library("glibc") is None
    True
    """
    chosen = allocator(name)
    if not chosen.rival:
        return None
    for folder in LIBRARY_DIRS:
        path = folder / chosen.soname
        if path.is_file():
            return path
    return next((p for p in _ldconfig_paths(chosen.soname) if p.is_file()), None)


def library(name: str) -> Path:
    """Like ``find_library``, but AllocatorMissing (naming the package) when it is not installed."""
    path = find_library(name)
    if path is None and allocator(name).rival:
        raise AllocatorMissing(ALLOCATORS[name])
    return path


def installed() -> tuple[str, ...]:
    """The allocators that can run here (glibc always), in NAMES order.

    >>> installed()[0]
    'glibc'
    """
    return tuple(n for n in NAMES if not ALLOCATORS[n].rival or find_library(n) is not None)


def preload_prefix(name: str) -> list[str]:
    """The command-line prefix that runs a program with allocator ``name`` in front of glibc.

    Empty for glibc; for a rival, the loader with ``--preload`` and the library, which works in an
    environment without ``LD_PRELOAD``.
    """
    path = library(name)
    if path is None:
        return []
    if not LOADER.exists():
        raise MemlabError(f"preloading {name} needs the x86-64 dynamic loader {LOADER}, which is missing")
    return [str(LOADER), "--preload", str(path)]
