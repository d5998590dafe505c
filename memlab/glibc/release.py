"""A glibc release's malloc constants and policies, gathered in one frozen value."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Release", "GLIBC_2_36", "RELEASES", "release", "max_fast_for"]


@dataclass(frozen=True, slots=True)
class Release:
    """Every number and switch of one glibc release's malloc (x86-64, main arena).

    The model reads its constants only from here, so a later release is a new
    `Release` value plus code behind its switches (`has_fastbins`, ...).

    >>> GLIBC_2_36.minsize, GLIBC_2_36.tcache_max_size, GLIBC_2_36.default_max_fast
    (32, 1040, 128)
    """

    name: str
    size_sz: int = 8                      # one machine word
    alignment: int = 16                   # MALLOC_ALIGNMENT
    minsize: int = 32                     # smallest chunk: prev_size, size, fd, bk
    page: int = 4096
    ptrdiff_max: int = (1 << 63) - 1      # larger requests fail with ENOMEM
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
    nbins: int = 128
    min_large_size: int = 1024            # chunks >= this live in large bins
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

    @property
    def tcache_max_size(self) -> int:
        """Largest chunk size the tcache holds (1040 for 64 bins)."""
        return self.minsize + (self.tcache_bins - 1) * self.alignment

    @property
    def tcache_chunk_size(self) -> int:
        """Chunk size of the tcache bookkeeping block (656 for 640 bytes)."""
        n = self.tcache_struct_bytes + self.size_sz + self.alignment - 1
        return max(self.minsize, n & ~(self.alignment - 1))

    @property
    def default_max_fast(self) -> int:
        """global_max_fast after start-up: the default M_MXFAST rounded as glibc does."""
        return max_fast_for(self, self.default_mxfast)


def max_fast_for(rel: Release, value: int) -> int:
    """The chunk-size limit of fastbins that mallopt(M_MXFAST, value) sets.

    >>> [max_fast_for(GLIBC_2_36, v) for v in (0, 7, 8, 64, 100, 120, 160)]
    [16, 16, 16, 64, 96, 128, 160]
    """
    if value <= rel.alignment - 1 - rel.size_sz:
        return rel.minsize // 2
    return (value + rel.size_sz) & ~(rel.alignment - 1)


#: glibc 2.36 as shipped by Debian 12 (2.36-9+deb12u14).
GLIBC_2_36 = Release(name="2.36")

#: Releases the model knows, by version string.
RELEASES: dict[str, Release] = {"2.36": GLIBC_2_36}


def release(name: str | Release) -> Release:
    """Look a release up by its version string.

    >>> release("2.36") is GLIBC_2_36
    True
    """
    if isinstance(name, Release):
        return name
    try:
        return RELEASES[name]
    except KeyError:
        raise ValueError(f"unknown glibc release {name!r}; known: {', '.join(RELEASES)}") from None
