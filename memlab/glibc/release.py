"""A glibc release's malloc constants and policies, gathered in one frozen value."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .arch import DEFAULT_ARCH, I386, X86_64, Arch, arch as _arch

__all__ = ["Release", "BUILDS", "GLIBC_2_36", "GLIBC_2_41", "GLIBC_2_43", "RELEASES", "DEFAULT_RELEASE",
           "release", "max_fast_for", "GLIBC_2_36_I386"]


@dataclass(frozen=True, slots=True)
class Release:
    """Every number and switch of one glibc release's malloc, built for one architecture.

    The chunk layout that depends on the word size only (header, MINSIZE, the bin sizes) is
    in `arch` (`memlab.glibc.arch`); everything else the model reads from here, so a later
    release is a new `Release` value plus code behind its switches (`has_fastbins`, ...), and
    another architecture a `release(name, arch)` of it.

    >>> GLIBC_2_36.tcache_max_size, GLIBC_2_36.tcache_chunk_size, GLIBC_2_36.default_max_fast
    (1040, 656, 128)
    >>> GLIBC_2_36_I386.tcache_max_size, GLIBC_2_36_I386.tcache_chunk_size, GLIBC_2_36_I386.default_max_fast
    (1024, 400, 64)
    """

    name: str
    arch: Arch = X86_64                   # the word size and the bins that follow from it
    # tcache
    has_tcache: bool = True
    tcache_bins: int = 64                 # chunk sizes 32..1040
    tcache_count: int = 7                 # chunks per tcache bin
    tcache_struct_bytes: int = 640        # 64 two-byte counts + 64 pointers
    tcache_in_heap: bool = True           # the bookkeeping is a heap chunk (656 bytes)
    # fastbins
    has_fastbins: bool = True             # False: free never uses fastbins (max_fast 0)
    nfastbins: int = 10                   # chunk sizes 32..176
    default_mxfast: int = 128             # M_MXFAST default (request bytes)
    max_fast_size: int = 160              # largest M_MXFAST value accepted
    fastbin_consolidation_threshold: int = 65536
    # regular bins
    max_iters: int = 10000                # unsorted chunks binned per malloc, at most
    # system memory
    mmap_threshold: int = 128 * 1024
    mmap_threshold_max: int = 32 * 1024 * 1024
    trim_threshold: int = 128 * 1024
    top_pad: int = 128 * 1024
    mmap_max: int = 65536
    mmap_as_morecore_size: int = 1024 * 1024
    morecore_clears: int = 2              # Linux builds malloc.c with MORECORE_CLEARS=2:
    #                                       calloc clears only what was in top before the call
    # policies that changed after 2.36 (the defaults are 2.36's)
    tcache_lazy: bool = False             # tcache made only by free (chunk <= 1040) or inside
    #                                       _int_malloc (small-bin hit, exact unsorted fit)
    small_free_to_smallbin: bool = False  # a chunk < 1024 freed to the arena skips unsorted
    calloc_uses_tcache: bool = False      # calloc pops the tcache bin of its size
    memalign_tcache_lookup: bool = False  # memalign takes an aligned tcache entry first
    memalign_pieces_to_arena: bool = False  # leader and trailer merged and binned, never cached
    memalign_trailer: str = "above-minsize"  # give the tail back when: size > nb + MINSIZE
    #                                       ("above-minsize"), size - nb >= MINSIZE ("minsize"),
    #                                       or also any excess next to top / a free chunk
    #                                       ("minsize-or-free-next")
    aligned_alloc_strict: bool = False    # aligned_alloc refuses a non power of two (EINVAL)
    realloc_keep_slack: int = 0           # realloc returns p when n <= usable < n + this
    realloc_keep_slack_mmapped: int = 0   # ... or, mmapped, when usable - n <= this
    inner_frees_to_arena: bool = False    # realloc's old block and tail, and sysmalloc's old
    #                                       top, are freed to the arena, never to tcache
    mmap_fallback: str = "swapped"        # sbrk-failure mapping size: "swapped" (1 MiB multiple,
    #                                       page minimum), "old-top" (page multiple with the old
    #                                       top, 1 MiB minimum), "request" (nb + top_pad + MINSIZE,
    #                                       1 MiB minimum)
    mmap_chunk_tail: int = 0              # bytes at the end of a mapping outside the chunk
    mremap_hblkhd_drift: int = 0          # bytes mmapped_mem gains too much per mremap
    mxfast_always_accepted: bool = False  # mallopt(M_MXFAST, v) returns 1 for every v
    mremap_failure_checks_request: bool = False  # failed mremap keeps p if n <= usable
    #                                       (else: if the chunk size - 8 >= nb)
    free_checks_size_first: bool = False  # free of an aligned non-chunk: "invalid size"
    #                                       (no wrap-around "invalid pointer" test)

    @property
    def tcache_max_size(self) -> int:
        """Largest chunk size the tcache holds (1040 for 64 bins on x86-64)."""
        a = self.arch
        return a.minsize + (self.tcache_bins - 1) * a.malloc_alignment

    @property
    def tcache_chunk_size(self) -> int:
        """Chunk size of the tcache bookkeeping block (656 for 640 bytes on x86-64)."""
        return self.arch.request2size(self.tcache_struct_bytes)

    @property
    def malloc_state_bytes(self) -> int:
        """sizeof(struct malloc_state): a non-main arena's header in its first heap.

        >>> GLIBC_2_36.malloc_state_bytes, GLIBC_2_43.malloc_state_bytes, GLIBC_2_36_I386.malloc_state_bytes
        (2200, 2112, 1116)
        """
        return self.arch.malloc_state_bytes(self.has_fastbins)

    @property
    def default_max_fast(self) -> int:
        """global_max_fast after start-up: the default M_MXFAST rounded as glibc does."""
        return max_fast_for(self, self.default_mxfast)


def max_fast_for(rel: Release, value: int) -> int:
    """The chunk-size limit of fastbins that mallopt(M_MXFAST, value) sets.

    >>> [max_fast_for(GLIBC_2_36, v) for v in (0, 7, 8, 64, 100, 120, 160)]
    [16, 16, 16, 64, 96, 128, 160]
    >>> [max_fast_for(GLIBC_2_36_I386, v) for v in (0, 11, 12, 64, 80)]
    [8, 8, 16, 64, 80]
    """
    a = rel.arch
    if value <= a.malloc_alignment - 1 - a.size_sz:
        return a.minsize // 2
    return (value + a.size_sz) & ~(a.malloc_alignment - 1)


#: glibc 2.36 as shipped by Debian 12 (2.36-9+deb12u14).
GLIBC_2_36 = Release(name="2.36")

#: glibc 2.41 as shipped by Debian 13 (2.41-12+deb13u5): small frees go to their small bin,
#: calloc and memalign look in tcache, memalign's pieces are binned, realloc keeps a block
#: that already fits, aligned_alloc checks its alignment, a new sbrk-failure fallback size.
GLIBC_2_41 = Release(
    name="2.41", small_free_to_smallbin=True, calloc_uses_tcache=True,
    memalign_tcache_lookup=True, memalign_pieces_to_arena=True,
    memalign_trailer="minsize-or-free-next", aligned_alloc_strict=True,
    realloc_keep_slack=16, realloc_keep_slack_mmapped=4096, mmap_fallback="old-top")

#: glibc 2.43 as shipped by Debian forky (2.43-7): no fastbins, 16 chunks per tcache bin in a
#: 760-byte block made lazily, realloc frees to the arena, mmapped chunks end 16 bytes short.
GLIBC_2_43 = Release(
    name="2.43", has_fastbins=False, tcache_count=16, tcache_struct_bytes=760,
    tcache_lazy=True, small_free_to_smallbin=True, calloc_uses_tcache=True,
    memalign_tcache_lookup=True, memalign_pieces_to_arena=True, memalign_trailer="minsize",
    aligned_alloc_strict=True, realloc_keep_slack=16, inner_frees_to_arena=True,
    mmap_fallback="request", mmap_chunk_tail=16, mremap_hblkhd_drift=16,
    mxfast_always_accepted=True, free_checks_size_first=True,
    mremap_failure_checks_request=True)

#: Releases the model knows, by version string (built for x86-64).
RELEASES: dict[str, Release] = {"2.36": GLIBC_2_36, "2.41": GLIBC_2_41, "2.43": GLIBC_2_43}


def _built_for(rel: Release, a: Arch) -> Release:
    """`rel` built for architecture `a`: the figures glibc derives from the word size."""
    return replace(rel, arch=a, tcache_struct_bytes=a.tcache_struct_bytes, nfastbins=a.nfastbins,
                   default_mxfast=a.default_mxfast, max_fast_size=a.max_fast_size,
                   mmap_threshold_max=a.default_mmap_threshold_max)


#: glibc 2.36 built for i386, as Debian 12's libc6:i386 (the only i386 release measured here).
GLIBC_2_36_I386 = _built_for(GLIBC_2_36, I386)

#: Releases by architecture name, then version string.
BUILDS: dict[str, dict[str, Release]] = {X86_64.name: RELEASES, I386.name: {"2.36": GLIBC_2_36_I386}}

#: The release a model, scenario or command uses when none is named.
DEFAULT_RELEASE = GLIBC_2_36.name


def release(name: str | Release, arch: str | Arch = DEFAULT_ARCH) -> Release:
    """Look a release up by its version string, built for `arch`.

    >>> release("2.36") is GLIBC_2_36, release("2.43").tcache_count, release("2.36", "i386").arch.name
    (True, 16, 'i386')
    >>> release("2.43", "i386")
    Traceback (most recent call last):
    ...
    ValueError: glibc 2.43 for i386 is not modelled; for i386: 2.36
    """
    a = _arch(arch)
    if isinstance(name, Release):
        if name.arch is not a and arch is not DEFAULT_ARCH:
            raise ValueError(f"glibc {name.name} is built for {name.arch.name}, not {a.name}")
        return name
    builds = BUILDS[a.name]
    if name in builds:
        return builds[name]
    if name in RELEASES:
        raise ValueError(f"glibc {name} for {a.name} is not modelled; for {a.name}: {', '.join(builds)}")
    raise ValueError(f"unknown glibc release {name!r}; known: {', '.join(RELEASES)}")
