"""Thread stacks and their cache: what pthread_create and pthread_join do to the heap.

A new stack (none cached fits) is mapped, and its DTV (the thread's table of TLS blocks,
`Arch.dtv_entry_bytes` an entry) is calloc'ed by the creating thread. pthread_join puts the stack, DTV and all, at the head of the
cache; a thread created later takes the first cached stack of its size, DTV included (no
allocation). When the cache passes 40 MiB, the joining thread frees the DTVs of the oldest
cached stacks (and unmaps them) until it is back under the limit.

    >>> default_stack_block(8 << 20)       # an 8 MiB RLIMIT_STACK, plus the guard page
    8392704
    >>> default_stack_block(None)          # unlimited: glibc's 2 MiB default for x86
    2101248
"""

from __future__ import annotations

import resource

from ..units import MiB, PAGE, align_up
from .arch import X86_64, Arch

__all__ = ["STACK_CACHE_MAX", "dtv_entries", "default_stack_block", "machine_stack_block", "Stack"]

STACK_CACHE_MAX = 40 * MiB      #: stacks kept for reuse after join, in bytes
_PTHREAD_STACK_MIN = 16384


def dtv_entries(tls: int) -> int:
    """The DTV's entries for a program whose highest TLS module ID is `tls`: the modules,
    14 spare, and two header entries (calloc(tls + 16, 16)).

    >>> dtv_entries(1) * X86_64.dtv_entry_bytes    # a C program: libc's TLS only
    272
    """
    return tls + 16


def default_stack_block(rlimit_stack: int | None, arch: Arch = X86_64) -> int:
    """The bytes of one default thread stack block (stack and guard page) for a soft
    RLIMIT_STACK of `rlimit_stack` bytes (None: unlimited: `arch`'s default)."""
    size = arch.stack_default if rlimit_stack is None else max(rlimit_stack, _PTHREAD_STACK_MIN)
    return align_up(size) + PAGE


def machine_stack_block(arch: Arch = X86_64) -> int:
    """default_stack_block for this process's own RLIMIT_STACK.

    >>> machine_stack_block() % 4096
    0
    """
    soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
    return default_stack_block(None if soft == resource.RLIM_INFINITY else soft, arch)


class Stack:
    """One thread stack block: its mapping, size and the DTV chunk's user address."""

    __slots__ = ("addr", "size", "dtv")

    def __init__(self, addr: int, size: int, dtv: int) -> None:
        self.addr, self.size, self.dtv = addr, size, dtv

    def __repr__(self) -> str:
        return f"Stack({self.addr:#x}, {self.size}, dtv={self.dtv:#x})"
