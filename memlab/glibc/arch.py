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

The model of glibc (`memlab.glibc.Malloc(arch=...)`) reads every word-size figure from here.
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
    stack_default: int = 2 * MiB     # ARCH_STACK_DEFAULT_SIZE: a thread's stack when RLIMIT_STACK
    #                                  is unlimited (x86's, for both word sizes)

    @property
    def chunk_header(self) -> int:
        """CHUNK_HDR_SZ: prev_size and size words; the user pointer is chunk + this."""
        return 2 * self.size_sz

    @property
    def word_mask(self) -> int:
        """SIZE_MAX: the largest size_t; arithmetic on sizes wraps modulo this plus one."""
        return (1 << 8 * self.size_sz) - 1

    @property
    def ptrdiff_max(self) -> int:
        """PTRDIFF_MAX: the largest request glibc accepts."""
        return self.word_mask >> 1

    @property
    def chunk_struct(self) -> int:
        """sizeof(struct malloc_chunk): six words (what malloc_trim leaves at a chunk's start)."""
        return 6 * self.size_sz

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

    def checked_request2size(self, n: int) -> int:
        """request2size, or 0 when glibc refuses the request (above PTRDIFF_MAX).

        >>> X86_64.checked_request2size(2**31), I386.checked_request2size(2**31)
        (2147483664, 0)
        """
        return 0 if n > self.ptrdiff_max else self.request2size(n)

    @property
    def smallbin_correction(self) -> int:
        """SMALLBIN_CORRECTION: 1 when the alignment exceeds the header (i386), else 0."""
        return 1 if self.malloc_alignment > self.chunk_header else 0

    def smallbin_index(self, size: int) -> int:
        """Small bin of a chunk size below `min_large_size` (16-byte bins).

        >>> X86_64.smallbin_index(32), I386.smallbin_index(16), I386.smallbin_index(992)
        (2, 2, 63)
        """
        return (size >> 4) + self.smallbin_correction

    def largebin_index(self, size: int) -> int:
        """Large bin of a chunk size of `min_large_size` or more: glibc's largebin_index_64,
        or on a 4-byte word with 16-byte alignment its largebin_index_32_big.

        >>> [X86_64.largebin_index(s) for s in (1024, 3072, 3136, 10752, 40960, 524288)]
        [64, 96, 97, 112, 120, 126]
        >>> [I386.largebin_index(s) for s in (1008, 2880, 2944, 3072, 10752, 524288)]   # 95: never
        [64, 94, 96, 97, 112, 126]
        """
        if self.size_sz == 8:
            if (size >> 6) <= 48:
                return 48 + (size >> 6)
        elif (size >> 6) <= 45:
            return 49 + (size >> 6)
        if (size >> 9) <= 20:
            return 91 + (size >> 9)
        if (size >> 12) <= 10:
            return 110 + (size >> 12)
        if (size >> 15) <= 4:
            return 119 + (size >> 15)
        if (size >> 18) <= 2:
            return 124 + (size >> 18)
        return 126

    def bin_index(self, size: int) -> int:
        """Small or large bin of any chunk size.

        >>> X86_64.bin_index(1008), I386.bin_index(1008)
        (63, 64)
        """
        if size < self.min_large_size:
            return self.smallbin_index(size)
        return self.largebin_index(size)

    @property
    def tcache_offset(self) -> int:
        """tcache bin of a chunk size = (size - this) >> 4: glibc's csize2tidx."""
        return self.minsize - self.malloc_alignment + 1

    def tcache_index(self, size: int) -> int:
        """tcache bin of a chunk size.

        >>> X86_64.tcache_index(32), X86_64.tcache_index(1040), I386.tcache_index(16), I386.tcache_index(1024)
        (0, 63, 0, 63)
        """
        return (size - self.tcache_offset) // self.malloc_alignment

    @property
    def fastbin_base(self) -> int:
        """Fastbins are numbered by 16-byte size steps from MINSIZE: bin = (size >> 4) - this.

        On x86-64 that is glibc's fastbin_index; glibc's i386 index, (size >> 3) - 2, leaves
        every other slot empty (sizes are multiples of 16): the same bins in the same order.
        """
        return self.minsize >> 4

    def fastbin_index(self, size: int) -> int:
        """The model's fastbin of a chunk size.

        >>> X86_64.fastbin_index(32), X86_64.fastbin_index(176), I386.fastbin_index(16), I386.fastbin_index(96)
        (0, 9, 0, 5)
        """
        return (size >> 4) - self.fastbin_base

    @property
    def nfastbins(self) -> int:
        """Fastbins needed for every chunk size M_MXFAST can admit."""
        return self.fastbin_index(self.request2size(self.max_fast_size)) + 1

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
        """HEAP_MAX_SIZE: what a non-main arena's heap reserves, and the alignment of its start.

        >>> X86_64.heap_max_size >> 20, I386.heap_max_size >> 20
        (64, 1)
        """
        return 2 * self.default_mmap_threshold_max

    @property
    def heap_info_bytes(self) -> int:
        """sizeof(heap_info): five words (arena, previous heap, size, mprotect_size, page size)
        padded so that the heap's first chunk header ends on the alignment.

        >>> X86_64.heap_info_bytes, I386.heap_info_bytes
        (48, 24)
        """
        return 5 * self.size_sz + (-3 * self.size_sz) % self.malloc_alignment

    def malloc_state_bytes(self, fastbins: bool = True) -> int:
        """sizeof(struct malloc_state), the header of a non-main arena: the lock and flag ints
        (and have_fastchunks, with fastbins) padded to a word, the fastbin heads, top and
        last_remainder, 254 bin links, a 4-int binmap, then five words (next, next_free,
        attached_threads, system_mem, max_system_mem).

        >>> X86_64.malloc_state_bytes(), X86_64.malloc_state_bytes(False), I386.malloc_state_bytes()
        (2200, 2112, 1116)
        """
        ints = 4 * (3 if fastbins else 2)
        head = ints + (-ints) % self.size_sz
        fast = self.nfastbins_struct if fastbins else 0
        return head + (fast + 2 + 254 + 5) * self.size_sz + 4 * 4

    @property
    def nfastbins_struct(self) -> int:
        """NFASTBINS as glibc sizes fastbinsY: its own fastbin index of MAX_FAST_SIZE's chunk,
        plus one (on i386 that index counts 8-byte steps: 11 heads where the model uses 6).

        >>> X86_64.nfastbins_struct, I386.nfastbins_struct
        (10, 11)
        """
        shift = 4 if self.size_sz == 8 else 3
        return (self.request2size(self.max_fast_size) >> shift) - 2 + 1

    @property
    def arenas_per_core(self) -> int:
        """NARENAS_FROM_NCORES(1): arenas allowed per core (8, or 2 where a long has 4 bytes);
        also M_ARENA_TEST's default.

        >>> X86_64.arenas_per_core, I386.arenas_per_core
        (8, 2)
        """
        return 8 if self.size_sz == 8 else 2

    @property
    def dtv_entry_bytes(self) -> int:
        """sizeof(dtv_t): a union of a counter and two pointers (a new thread's DTV is
        calloc(modules + 16, this)).

        >>> X86_64.dtv_entry_bytes, I386.dtv_entry_bytes
        (16, 8)
        """
        return 2 * self.size_sz

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
