"""LeakTracer: wraps any allocator and remembers, for each live block, where it was allocated.

Set ``site`` to a label (a function's name, a trace line) before the calls it should name;
``alive()`` lists the blocks never freed, with the site that allocated them.

>>> from memlab.allocators.bump import Bump
>>> t = LeakTracer(Bump())
>>> t.site = "parse"; p = t.malloc(100)
>>> t.site = "render"; q = t.malloc(30); t.free(p)
>>> [(a.addr == q, a.size, a.site) for a in t.alive()]
[(True, 30, 'render')]
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.allocators.base import Allocator

__all__ = ["LeakTracer", "Alive"]


@dataclass(frozen=True, slots=True)
class Alive:
    """A block still allocated: its address, the bytes asked for, and where it was allocated."""

    addr: int
    size: int
    site: str


class LeakTracer(Allocator):
    """Every call goes to `inner`; the live blocks are kept with their size and site."""

    def __init__(self, inner: Allocator) -> None:
        super().__init__(inner.space)
        self._copies = inner._copies            # one record of copies for realloc's check
        self._inner = inner
        self._blocks: dict[int, tuple[int, str]] = {}    # address -> (size, site)
        self.site = ""

    @property
    def inner(self) -> Allocator:
        """The allocator that does the work."""
        return self._inner

    def _keep(self, p: int, n: int) -> int:
        if p:
            self._blocks[p] = (n, self.site)
        return p

    def malloc(self, n: int) -> int:
        return self._keep(self._inner.malloc(n), n)

    def calloc(self, nmemb: int, size: int) -> int:
        return self._keep(self._inner.calloc(nmemb, size), nmemb * size)

    def memalign(self, align: int, n: int) -> int:
        return self._keep(self._inner.memalign(align, n), n)

    def realloc(self, p: int, n: int) -> int:
        q = self._inner.realloc(p, n)
        if q or n == 0:
            self._blocks.pop(p, None)
        return self._keep(q, n)

    def free(self, p: int) -> None:
        self._inner.free(p)
        self._blocks.pop(p, None)

    def size_of(self, p: int) -> int:
        return self._inner.size_of(p)

    def malloc_trim(self, pad: int) -> int:
        return self._inner.malloc_trim(pad)

    def mallopt(self, param: int, value: int) -> int:
        return self._inner.mallopt(param, value)

    def in_use(self) -> int:
        return self._inner.in_use()

    def mallinfo2(self):
        return self._inner.mallinfo2()

    def alive(self) -> list[Alive]:
        """The blocks allocated and not freed, in address order."""
        return [Alive(p, n, site) for p, (n, site) in sorted(self._blocks.items())]

    def report(self, group: str = "site") -> str:
        """One line per site (or per requested size, `group="size"`): blocks and bytes alive,
        largest first.

        >>> from memlab.allocators.bump import Bump
        >>> t = LeakTracer(Bump()); t.site = "line 3"; _ = t.malloc(8); _ = t.malloc(8)
        >>> print(t.report())
        2 blocks, 16 bytes alive, allocated at line 3
        >>> t.site = "line 4"; _ = t.malloc(8); print(t.report("size"))
        3 blocks, 24 bytes alive, allocated by malloc(8)
        """
        if group not in ("site", "size"):
            raise ValueError(f"group must be 'site' or 'size', not {group!r}")
        groups: dict[str, list[int]] = {}
        for n, site in self._blocks.values():
            key = f"by malloc({n})" if group == "size" else f"at {site or 'an unnamed site'}"
            groups.setdefault(key, []).append(n)
        rows = sorted(groups.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
        return "\n".join(f"{len(ns)} block{'s' if len(ns) != 1 else ''}, {sum(ns):,} bytes alive, "
                         f"allocated {key}" for key, ns in rows) or "no block alive"
