"""glibc malloc's word-size constants for each architecture memlab knows (x86-64, i386).

What changes when the same glibc 2.36 is built for 32-bit x86 is the size of a word
(`size_t` and pointers: SIZE_SZ), and from it the chunk header, the smallest chunk, the
tcache bookkeeping block, the fastbin limit and the cap of the dynamic mmap threshold.
MALLOC_ALIGNMENT stays 16 on i386 (glibc's i386 port raised it from 8 to 16 in 2.26), so
with 8-byte headers the first chunk of the heap and of every mmapped chunk starts 8 bytes
in: the front padding. Each figure below is derived from glibc's source for that
architecture; `tests/test_arch_i386.py` holds the observable ones against the real library
(`replay --native --arch i386`), the others are marked unobserved.

>>> I386.minsize, I386.tcache_chunk_size, I386.first_heap_bytes, I386.after_malloc_one
(16, 400, 139264, 424)
>>> X86_64.minsize, X86_64.tcache_chunk_size, X86_64.first_heap_bytes, X86_64.after_malloc_one
(32, 656, 135168, 688)

The model of glibc (`memlab.glibc.Malloc`) implements X86_64 only, so far.
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.units import KiB, MiB, PAGE, align_up

__all__ = ["Arch", "X86_64", "I386", "ARCHES", "DEFAULT_ARCH", "arch"]


@dataclass(frozen=True, slots=True)
class Arch:
    """One architecture's malloc constants (glibc 2.36, main arena, 4096-byte pages).

    >>> I386.request2size(12), I386.request2size(13), X86_64.request2size(24), X86_64.request2size(25)
    (16, 32, 32, 48)
    """

    name: str
    size_sz: int                     # SIZE_SZ: sizeof(size_t), also the pointer size here
    malloc_alignment: int            # MALLOC_ALIGNMENT
    default_mmap_threshold_max: int  # DEFAULT_MMAP_THRESHOLD_MAX: the dynamic threshold's cap
    tcache_bins: int = 64            # TCACHE_MAX_BINS
    mmap_threshold: int = 128 * KiB  # DEFAULT_MMAP_THRESHOLD_MIN: the starting threshold
    top_pad: int = 128 * KiB         # DEFAULT_TOP_PAD

    @property
    def chunk_header(self) -> int:
        """CHUNK_HDR_SZ: prev_size and size words; the user pointer is chunk + this."""
        return 2 * self.size_sz

    @property
    def minsize(self) -> int:
        """MINSIZE: four words (prev_size, size, fd, bk) rounded up to the alignment."""
        mask = self.malloc_alignment - 1
        return (4 * self.size_sz + mask) & ~mask

    @property
    def front_padding(self) -> int:
        """Bytes skipped at the start of a page-aligned block so that user pointers are aligned."""
        return (self.malloc_alignment - self.chunk_header % self.malloc_alignment) % self.malloc_alignment

    def request2size(self, n: int) -> int:
        """The chunk size for a request of n bytes: header word added, aligned, at least MINSIZE."""
        mask = self.malloc_alignment - 1
        if n + self.size_sz + mask < self.minsize:
            return self.minsize
        return (n + self.size_sz + mask) & ~mask

    @property
    def tcache_struct_bytes(self) -> int:
        """sizeof(tcache_perthread_struct): a 2-byte count and a pointer per bin."""
        return self.tcache_bins * (2 + self.size_sz)

    @property
    def tcache_chunk_size(self) -> int:
        """The chunk holding the tcache bookkeeping, the heap's first chunk."""
        return self.request2size(self.tcache_struct_bytes)

    @property
    def tcache_max_chunk(self) -> int:
        """Largest chunk size a tcache bin holds."""
        return self.minsize + (self.tcache_bins - 1) * self.malloc_alignment

    @property
    def default_mxfast(self) -> int:
        """DEFAULT_MXFAST: 64 * SIZE_SZ / 4 request bytes."""
        return 64 * self.size_sz // 4

    @property
    def max_fast(self) -> int:
        """global_max_fast at start-up: the largest chunk size that goes to a fastbin."""
        return (self.default_mxfast + self.size_sz) & ~(self.malloc_alignment - 1)

    @property
    def max_fast_size(self) -> int:
        """MAX_FAST_SIZE: the largest value M_MXFAST accepts (80 * SIZE_SZ / 4)."""
        return 80 * self.size_sz // 4

    @property
    def heap_max_size(self) -> int:
        """HEAP_MAX_SIZE: the most a secondary arena's heap reserves (unobserved: main arena only)."""
        return 2 * self.default_mmap_threshold_max

    @property
    def min_large_size(self) -> int:
        """MIN_LARGE_SIZE: the smallest chunk of a large bin (unobserved by mallinfo2)."""
        correction = 1 if self.malloc_alignment > 2 * self.size_sz else 0
        return (64 - correction) * self.malloc_alignment

    def mmapped(self, n: int) -> tuple[int, int]:
        """(mapping length, chunk size) of a request of n bytes served by its own mmap.

        The mapping is the chunk size plus one word (plus room to align, when the header is
        not a multiple of the alignment), in whole pages; the chunk is the mapping less the
        front padding.

        >>> I386.mmapped(524252), I386.mmapped(524253), X86_64.mmapped(524264)
        ((524288, 524280), (528384, 528376), (524288, 524288))
        """
        slack = self.malloc_alignment - 1 if self.front_padding else 0
        length = align_up(self.request2size(n) + self.size_sz + slack, PAGE)
        return length, length - self.front_padding

    @property
    def first_heap_bytes(self) -> int:
        """The break's first move: room for the tcache chunk, the top pad and MINSIZE, in whole
        pages, plus one page when the front padding has to be added (the correction's sbrk)."""
        size = align_up(self.tcache_chunk_size + self.top_pad + self.minsize, PAGE)
        return size + (align_up(self.front_padding, PAGE) if self.front_padding else 0)

    @property
    def after_malloc_one(self) -> int:
        """mallinfo2's uordblks after malloc(1) (and after freeing it: it stays in tcache)."""
        return self.front_padding + self.tcache_chunk_size + self.request2size(1)


#: glibc 2.36 on x86-64: the architecture memlab's model implements.
X86_64 = Arch(name="x86-64", size_sz=8, malloc_alignment=16, default_mmap_threshold_max=32 * MiB)

#: glibc 2.36 built for i386 (Debian's libc6:i386): 32-bit words, 16-byte alignment, the
#: dynamic threshold capped at 512 KiB (its address space: `memlab.space.layout32`).
I386 = Arch(name="i386", size_sz=4, malloc_alignment=16, default_mmap_threshold_max=512 * KiB)

#: Architectures by name, as `--arch` spells them.
ARCHES: dict[str, Arch] = {"x86-64": X86_64, "i386": I386}

#: The architecture used when none is named.
DEFAULT_ARCH = X86_64.name


def arch(name: str | Arch) -> Arch:
    """Look an architecture up by name.

    >>> arch("i386").size_sz
    4
    >>> arch("arm")
    Traceback (most recent call last):
    ...
    ValueError: unknown architecture 'arm'; known: x86-64, i386
    """
    if isinstance(name, Arch):
        return name
    try:
        return ARCHES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHES)}") from None
