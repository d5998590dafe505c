"""The exceptions memlab raises, one per kind of failure a student can meet."""

from __future__ import annotations

__all__ = [
    "MemlabError",
    "SyscallError",
    "OutOfMemoryKill",
    "MallocAbort",
    "TraceError",
    "UsageError",
]


class MemlabError(Exception):
    """Base class of every error memlab raises on purpose."""


class SyscallError(MemlabError, OSError):
    """A simulated system call failed with an errno, as the kernel's would.

    >>> import errno
    >>> e = SyscallError(errno.ENOMEM, "mmap: no room for 4096 bytes")
    >>> e.errno == errno.ENOMEM, e.strerror
    (True, 'mmap: no room for 4096 bytes')
    """


class OutOfMemoryKill(MemlabError):
    """The simulated OOM killer ended the process: RAM and swap are both full."""


class MallocAbort(MemlabError):
    """glibc found misuse of the heap and would abort the process with this message.

    >>> str(MallocAbort("free(): invalid pointer"))
    'free(): invalid pointer'
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TraceError(MemlabError, ValueError):
    """A trace line that does not parse: names the line number and the line.

    >>> str(TraceError(3, "a 1", "malloc needs an ID and a SIZE"))
    "line 3: malloc needs an ID and a SIZE: 'a 1'"
    """

    def __init__(self, lineno: int, line: str, reason: str) -> None:
        super().__init__(f"line {lineno}: {reason}: {line!r}")
        self.lineno = lineno
        self.line = line
        self.reason = reason


class UsageError(MemlabError):
    """Bad usage or input refused before anything runs (the command line exits with status 2).

    >>> str(UsageError("no folder 'x' for the trace"))
    "no folder 'x' for the trace"
    """
