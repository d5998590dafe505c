"""Chunk arithmetic: flag bits, size_t checks, and x86-64's word-size figures by name.

A heap chunk is a prev_size word, a size word, then the user area: on x86-64 the user
pointer is the chunk address + 16. While a chunk is in use, the next chunk's prev_size
word is lent to it, so its usable size is size - 8. The model itself reads the word-size
figures from its release's `Arch` (`memlab.glibc.arch`), so that one code runs for x86-64
and i386; the names here are x86-64's, for code outside the model and for examples.
"""

from __future__ import annotations

from ..units import PAGE
from .arch import X86_64

__all__ = [
    "HDR", "SIZE_SZ", "MINSIZE", "ALIGN", "MIN_LARGE", "PTRDIFF_MAX", "MASK64",
    "PREV_INUSE", "IS_MMAPPED", "SIZE_BITS",
    "request2size", "checked_request2size", "tcache_index", "fastbin_index",
    "to_signed", "is_power_of_two", "as_size_t", "mmapped_chunk_ok",
]

SIZE_SZ = X86_64.size_sz                  #: one machine word
HDR = X86_64.chunk_header                 #: chunk header (prev_size + size); user pointer = chunk + HDR
MINSIZE = X86_64.minsize                  #: smallest chunk
ALIGN = X86_64.malloc_alignment           #: MALLOC_ALIGNMENT (16 on every Arch memlab knows)
MIN_LARGE = X86_64.min_large_size         #: smallest chunk size of the large bins (MIN_LARGE_SIZE)
PTRDIFF_MAX = X86_64.ptrdiff_max
MASK64 = X86_64.word_mask                 #: a trace's sizes and the API's arguments are 64-bit

PREV_INUSE = 1         #: size-word flag: the chunk below is in use (or cached)
IS_MMAPPED = 2         #: size-word flag: the chunk has a mapping of its own
SIZE_BITS = 7          #: the three flag bits of a size word


def request2size(n: int) -> int:
    """Chunk size glibc uses for a request of `n` bytes: max(32, 16*ceil((n+8)/16)).

    >>> [request2size(n) for n in (0, 24, 25, 40, 120, 121, 1000, 1032, 1033)]
    [32, 32, 48, 48, 128, 144, 1008, 1040, 1056]
    """
    return X86_64.request2size(n)


def checked_request2size(n: int) -> int:
    """request2size, or 0 when glibc refuses the request (above PTRDIFF_MAX).

    >>> checked_request2size(1), checked_request2size(2**63)
    (32, 0)
    """
    return X86_64.checked_request2size(n)


def tcache_index(size: int) -> int:
    """tcache bin of a chunk size: 32 -> 0, 48 -> 1, ..., 1040 -> 63.

    >>> tcache_index(32), tcache_index(1040), tcache_index(1056)
    (0, 63, 64)
    """
    return X86_64.tcache_index(size)


def fastbin_index(size: int) -> int:
    """Fastbin of a chunk size: 32 -> 0, 48 -> 1, ..., 176 -> 9.

    >>> fastbin_index(32), fastbin_index(128)
    (0, 6)
    """
    return X86_64.fastbin_index(size)


def mmapped_chunk_ok(c: int, offset: int, total: int, hdr: int = HDR) -> bool:
    """munmap_chunk's and mremap_chunk's test on a chunk at `c` that claims a mapping:
    the mapping (c - offset, `total` bytes) is page aligned, and the user pointer's offset
    in its page is 0 or a power of two.

    >>> mmapped_chunk_ok(0x10000, 0, 8192), mmapped_chunk_ok(0x10010, 0, 8192)
    (True, False)
    >>> mmapped_chunk_ok(0x10010, 16, 8192)     # memalign's offset chunk: pointer at +32
    True
    """
    return not ((c - offset) | total) & (PAGE - 1) and is_power_of_two((c + hdr) & (PAGE - 1))


def to_signed(n: int, mask: int = MASK64) -> int:
    """Read a word (64-bit unless `mask` says otherwise) as a signed C `long`.

    >>> to_signed(2**64 - 1), to_signed(2**32 - 4096, 2**32 - 1)
    (-1, -4096)
    """
    n &= mask
    return n - mask - 1 if n > mask >> 1 else n


def is_power_of_two(n: int) -> bool:
    """glibc's powerof2: true for 0 and for powers of two.

    >>> is_power_of_two(0), is_power_of_two(64), is_power_of_two(48)
    (True, True, False)
    """
    return n & (n - 1) == 0


def as_size_t(name: str, value: int) -> int:
    """Check that an argument is a C size_t; TypeError or ValueError naming it otherwise.

    >>> as_size_t("n", 5)
    5
    """
    if value.__class__ is int and 0 <= value <= MASK64:
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0 or value > MASK64:
        raise ValueError(f"{name} must be a size_t (0 <= {name} < 2**64), got {value}")
    return value
