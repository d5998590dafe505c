"""PathNote: which branch of glibc's code the latest call took, explained in one sentence."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PathNote", "PATHS", "describe"]

#: What each path means, in words a student can check against the counters.
PATHS: dict[str, str] = {
    "tcache": "reused the newest chunk of its tcache bin",
    "tcache-stash": "the unsorted scan moved exact fits into tcache, then returned the last one",
    "fastbin": "popped the head of its fastbin (others of that size moved into tcache)",
    "smallbin": "took the oldest chunk of its small bin (others of that size moved into tcache)",
    "unsorted-exact": "the unsorted scan found a chunk of exactly this size",
    "last-remainder": "split the last remainder, the only chunk in the unsorted bin",
    "largebin": "best fit in its own large bin; any remainder went to the unsorted bin",
    "binmap": "took the smallest chunk of the next non-empty bin, splitting off the rest",
    "top": "carved from the start of the top chunk",
    "sbrk": "top was too small: the heap grew with sbrk, then top was carved",
    "mmap": "at or above the mmap threshold: a mapping of its own",
    "mmap-fallback": "sbrk failed: a 1 MiB (or larger) mapping became the new top",
    "free-tcache": "went to its tcache bin (still counted as in use)",
    "free-fastbin": "went to the head of its fastbin (not coalesced)",
    "free-unsorted": "coalesced with free neighbours and went to the unsorted bin",
    "free-smallbin": "coalesced with free neighbours and went to its small bin",
    "free-top": "coalesced into top",
    "free-top-trim": "coalesced into top, and top above the trim threshold was given back",
    "munmap": "an mmapped chunk: its mapping was unmapped",
    "realloc-inplace": "resized in place",
    "realloc-move": "moved: a new chunk, the old contents copied, the old chunk freed",
    "mremap": "an mmapped chunk: its mapping was resized with mremap",
    "trim": "consolidated fastbins, released whole free pages, trimmed top",
    "mallopt": "consolidated fastbins and set the parameter",
    "null": "nothing to do",
    "fail": "failed: returned NULL",
    "query": "read the arena's state without changing it",
}


@dataclass(frozen=True, slots=True)
class PathNote:
    """The path one public call took.

    >>> n = PathNote("malloc(1)", "top", "malloc(1): 32-byte chunk carved from the start of the top chunk")
    >>> n.path
    'top'
    """

    call: str
    path: str
    text: str


def describe(call: str, path: str, detail: str = "", numbers: str = "") -> PathNote:
    """Build the note for `call` that took `path`, with the numbers behind it.

    >>> describe("free(0)", "null").text
    'free(0): nothing to do'
    >>> describe("malloc(5)", "sbrk", "32-byte chunk:", "sbrk(135,168)").text
    'malloc(5): 32-byte chunk: top was too small: the heap grew with sbrk, then top was carved (sbrk(135,168))'
    """
    what = PATHS.get(path, path)
    text = f"{call}: {detail + ' ' if detail else ''}{what}{f' ({numbers})' if numbers else ''}"
    return PathNote(call, path, text)
