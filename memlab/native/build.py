"""Compile memlab's C programs on first use, into a cache folder keyed by a hash of the source."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from memlab.errors import MemlabError

__all__ = ["NativeUnavailable", "NativeBuildError", "cache_dir", "find_compiler", "toolchain_works",
           "compile_c", "build", "SOURCES", "HEADER", "ARCH_FLAGS"]

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
    # lesson 09: mallocs until the address space is exhausted, showing /proc/self/maps (-m32)
    "exhaust": ("-O2", "-Wall"),
    # a library with thread-local storage: preloaded to give the replayer a trace's `# tls M`
    "tls_module": ("-O2", "-Wall", "-shared", "-fPIC"),
}


#: Compiler flags per target architecture (`--arch`): i386 programs are built with -m32 against
#: the machine's 32-bit C library (Debian and Ubuntu: apt-get install gcc-multilib).
ARCH_FLAGS: dict[str, tuple[str, ...]] = {"x86-64": (), "i386": ("-m32",)}
_ARCH_HINT = {"i386": "32-bit programs need the i386 C library and a multilib compiler "
                      "(Debian/Ubuntu: apt-get install gcc-multilib)"}


class NativeUnavailable(MemlabError):
    """A real-glibc side cannot be had here: no C compiler, a failed build, a release not fetched.

    >>> str(NativeUnavailable("no C compiler"))
    'no C compiler'
    """


class NativeBuildError(MemlabError):
    """One of memlab's C files does not compile although the compiler works: a bug, never a skip.

    >>> isinstance(NativeBuildError("x"), NativeUnavailable)
    False
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


def find_compiler(environ: Mapping[str, str] | None = None) -> str:
    """The C compiler: ``$CC`` if set, else ``cc`` on PATH; NativeUnavailable if there is none.

    >>> find_compiler({"CC": "/usr/bin/cc-of-choice"})
    '/usr/bin/cc-of-choice'
    >>> find_compiler({"CC": "", "PATH": "/nonexistent"})
    Traceback (most recent call last):
    ...
    memlab.native.build.NativeUnavailable: memlab's real-glibc programs need a C compiler: set $CC or put `cc` on PATH (Debian/Ubuntu: apt-get install gcc)
    """
    env = os.environ if environ is None else environ
    if env.get("CC"):
        return env["CC"]
    path = shutil.which("cc", path=env.get("PATH"))
    if path is None:
        raise NativeUnavailable(
            "memlab's real-glibc programs need a C compiler: set $CC or put `cc` on PATH "
            "(Debian/Ubuntu: apt-get install gcc)")
    return path


@functools.cache
def toolchain_works(cc: str, flags: tuple[str, ...]) -> bool:
    """Whether `cc` builds an empty C program with `flags` (so a failure is the source's own).

    >>> toolchain_works("/bin/false", ("-O2",))
    False
    """
    with tempfile.TemporaryDirectory(prefix="memlab-cc-") as folder:
        source = Path(folder) / "empty.c"
        source.write_text("int main(void) { return 0; }\n")
        try:
            done = subprocess.run([cc, *flags, "-o", str(Path(folder) / "empty"), str(source)],
                                  capture_output=True)
        except OSError:
            return False
        return done.returncode == 0


def compile_c(source: Path, flags: Sequence[str] = ("-O2", "-Wall"), name: str | None = None,
              compiler: str | None = None, suffix: str | None = None) -> Path:
    """Compile ``source`` with ``flags`` into the cache; the program's path. ``compiler`` is the C
    compiler (`find_compiler`) unless given (a C++ or cross compiler); ``suffix`` defaults to
    ".so" for a shared library, else none.

    The output is named by a hash of the source, the shared header, flags and compiler, and is
    moved into place atomically, so concurrent first uses are safe. A compiler that fails or
    cannot run raises NativeUnavailable with its own message; a source that fails where an empty
    program builds raises NativeBuildError.

    >>> import tempfile
    >>> src = Path(tempfile.mkdtemp()) / "seven.c"
    >>> _ = src.write_text("int main(void) { return 7; }\\n")
    >>> subprocess.run([compile_c(src)]).returncode
    7
    """
    source = Path(source)
    cc = compiler or find_compiler()
    digest = hashlib.sha256(source.read_bytes() + HEADER.read_bytes()
                            + repr((tuple(flags), cc)).encode()).hexdigest()[:16]
    suffix = suffix if suffix is not None else ".so" if "-shared" in flags else ""
    target = cache_dir() / f"{name or source.stem}-{digest}{suffix}"
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    except OSError as e:
        folder = target.parent
        why = "it is not a folder" if folder.exists() and not folder.is_dir() else f"{e.strerror} ({e.filename})"
        raise NativeUnavailable(f"cannot use {str(folder)!r} as memlab's cache folder ({_cache_origin()}): "
                                f"{why}; point MEMLAB_CACHE at a writable folder") from None
    os.close(fd)
    try:
        try:
            result = subprocess.run([cc, *flags, "-o", tmp, str(source)], capture_output=True,
                                    text=True)
        except OSError as exc:
            raise NativeUnavailable(f"the C compiler {cc!r} cannot run: {exc}") from exc
        if result.returncode != 0:
            detail = result.stderr.strip() or f"exit status {result.returncode}"
            if toolchain_works(cc, tuple(flags)):
                raise NativeBuildError(f"{source.name} does not compile with {cc}, which builds an "
                                       f"empty program with the same flags: {detail}")
            raise NativeUnavailable(f"compiling {source.name} with {cc} failed: {detail}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def build(name: str, arch: str = "x86-64") -> Path:
    """Return the built program `name` (a key of SOURCES) for `arch`, compiling it if needed.

    `arch` "i386" builds with -m32; a compiler that cannot make 32-bit programs raises
    NativeUnavailable naming the package that adds it.

    >>> build("replay").name.startswith("replay-")
    True
    """
    if name not in SOURCES:
        raise ValueError(f"unknown native program {name!r}; expected one of {sorted(SOURCES)}")
    if arch not in ARCH_FLAGS:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCH_FLAGS)}")
    flags = ARCH_FLAGS[arch] + SOURCES[name]
    stem = name if not ARCH_FLAGS[arch] else f"{name}-{arch}"
    try:
        return compile_c(_HERE / f"{name}.c", flags, name=stem)
    except NativeUnavailable as e:
        if arch in _ARCH_HINT:
            raise NativeUnavailable(f"{_ARCH_HINT[arch]}: {e}") from None
        raise
