"""Threads: glibc's malloc for a multi-threaded process: arenas, per-thread tcaches, thread exit.

    >>> t = Threads(cores=2)
    >>> t.create(1); t.switch(1); p = t.malloc(100)
    >>> t.arena_of(p), t.mallinfo2().arena        # the main arena has only the DTV
    (1, 270336)
    >>> t.switch(0); t.free(p); t.exit(1); t.join(1)   # to thread 0's tcache; thread 1 ends
    >>> [a.index for a in t.arenas], t.free_list
    ([0, 1], (1,))
"""

from __future__ import annotations

import copy
import os

from ..errors import MemlabError
from .arch import DEFAULT_ARCH, I386, X86_64, Arch
from .check import check_heap
from .heap import INUSE, TCACHE
from .heaps import HeapArena, Heaps, first_top
from .info import Mallinfo2, make_mallinfo2
from .malloc import NULL, Malloc
from .mallopt import M_ARENA_MAX, M_ARENA_TEST
from .release import DEFAULT_RELEASE, Release, release
from .stacks import STACK_CACHE_MAX, Stack, dtv_entries, machine_stack_block

__all__ = ["Threads", "ArenaView", "ThreadError", "default_cores", "narenas_from_ncores"]

# the parameters mallopt sets for the whole process (glibc's mp_ and global_max_fast)
_SHARED = ("_mmap_threshold", "_trim_threshold", "_top_pad", "_mmap_max", "_no_dyn_threshold",
           "_perturb", "_max_fast")


class ThreadError(MemlabError, ValueError):
    """A thread line that names a thread that does not exist, or one that exists already."""


def default_cores() -> int:
    """The machine's online CPUs (glibc's get_nprocs): what glibc 2.36 counts for the arena limit,
    whatever CPUs this process may run on (measured: restricted to one CPU of two with
    taskset, the real glibc still allows 16 arenas).

    >>> default_cores() >= 1
    True
    """
    return os.sysconf("SC_NPROCESSORS_ONLN") or os.cpu_count() or 1


def narenas_from_ncores(n: int, arch: Arch = X86_64) -> int:
    """The arena limit glibc derives from `n` cores: 8 per core on a 64-bit system, 2 on i386.

    >>> narenas_from_ncores(2), narenas_from_ncores(2, I386)
    (16, 4)
    """
    return arch.arenas_per_core * n


class ArenaView:
    """One arena as charts and `--arenas` see it (read-only).

    >>> Threads().arenas[0].index, Threads().arenas[0].heaps
    (0, ())
    """

    __slots__ = ("_t", "_a")

    def __init__(self, threads: Threads, arena: Malloc) -> None:
        self._t, self._a = threads, arena

    @property
    def index(self) -> int:
        """0 for the main arena, then 1, 2, ... in order of creation."""
        return self._t._index[id(self._a)]

    @property
    def malloc(self) -> Malloc:
        """The arena's model (its bins and top; tables are the process's)."""
        return self._a

    @property
    def heaps(self) -> tuple:
        """The arena's heaps (HeapInfo), oldest first; () for the main arena."""
        return self._a.heaps if isinstance(self._a, HeapArena) else ()

    @property
    def threads(self) -> tuple[int, ...]:
        """The live threads attached to the arena."""
        return tuple(sorted(tid for tid, th in self._t._threads.items() if th.arena is self._a))

    def mallinfo2(self) -> Mallinfo2:
        """int_mallinfo of this arena alone (glibc's figures for one arena)."""
        return self._t._arena_info(self._a)


class _Thread:
    __slots__ = ("arena", "tcache", "pending", "shutting_down", "stack")

    def __init__(self, arena, pending: bool, stack: Stack | None = None) -> None:
        self.arena = arena
        self.stack = stack
        self.tcache = None
        self.pending = pending              # 2.43: tcache still to be made on first need
        self.shutting_down = False


class Threads:
    """glibc's malloc family in a process with threads: one Malloc per arena, one tcache per thread.

    Calls run on the current thread (`switch`). Thread 0 is the main thread, attached to the
    main arena. A thread's first call that needs its tcache (or an arena) runs `arena_get2`:
    an arena from the free list, a new arena while fewer than the limit exist, else
    `reused_arena`. `cores` sets the limit (8 per core on x86-64, 2 on i386); the default is
    the machine's online CPUs.

    >>> t = Threads(cores=1)
    >>> for tid in range(1, 10): t.create(tid); t.switch(tid); _ = t.malloc(10)
    >>> len(t.arenas), t.arena_limit     # M_ARENA_TEST (8) arenas made before the limit counts
    (9, 8)
    >>> t = Threads(cores=1, arch="i386")   # 2 per core, and M_ARENA_TEST 2
    >>> for tid in range(1, 6): t.create(tid); t.switch(tid); _ = t.malloc(10)
    >>> len(t.arenas), t.arena_limit, t.arenas[1].heaps[0].size
    (3, 2, 135168)
    """

    def __init__(self, space=None, glibc: str | Release = DEFAULT_RELEASE,
                 cores: int | None = None, tls: int = 1, stack_block: int | None = None,
                 arch: str | Arch = DEFAULT_ARCH, main: Malloc | None = None) -> None:
        """`main`, when given, is a Malloc that has allocated nothing yet (its mallopt settings
        kept): it becomes the main arena, with its space and release."""
        rel = release(glibc, arch) if main is None else main.release
        self._main = Malloc(space, rel) if main is None else main
        space = self._main.space
        self._rel = rel
        arch = self._arch = rel.arch
        self._hdr, self._sz, self._mask = arch.chunk_header, arch.size_sz, arch.word_mask
        self._ptrdiff_max = arch.ptrdiff_max
        self._heaps = Heaps(space, arch)
        self._cores = default_cores() if cores is None else int(cores)
        if self._cores < 1:
            raise ValueError(f"cores must be at least 1, got {cores!r}")
        self._list = [self._main]           # main_arena.next order: main, newest, ..., oldest
        self._created = [self._main]        # creation order (arena numbers)
        self._index = {id(self._main): 0}
        self._narenas = 1
        self._limit = 0                     # narenas_limit: latched once computed
        self._arena_test = narenas_from_ncores(1, arch)
        self._arena_max = 0
        self._free_list: list = []          # head last
        self._next_to_use = None
        self._threads = {0: _Thread(self._main, rel.has_tcache and rel.tcache_lazy)}
        self._attached = {id(self._main): 1}
        self._cur = 0
        self._tmax = rel.tcache_max_size if rel.has_tcache else 0
        self._last = self._main             # the arena the latest call ran in
        self._max_n_mmaps = 0
        self._max_mmapped_mem = 0
        self._stack_block = machine_stack_block(arch) if stack_block is None else int(stack_block)
        self._dtv_entries = dtv_entries(tls)
        self._stack_cache: list[Stack] = []     # head first
        self._stack_cache_size = 0
        self._multi = False                     # SINGLE_THREAD_P false once a thread was made
        self._exited: dict[int, Stack] = {}     # exited, not yet joined: their stacks
        self._pending_joins: list[Stack] = []   # joins waiting for a running thread
        self._stacks_unmapped = 0
        self._fast_ceiling = self._main._max_fast   # the largest max_fast set so far (check)

    # --- views -------------------------------------------------------------------------------
    @property
    def space(self):
        """The process's AddressSpace."""
        return self._main.space

    @property
    def release(self) -> Release:
        """The glibc release modelled."""
        return self._rel

    @property
    def main(self) -> Malloc:
        """The main arena's model."""
        return self._main

    @property
    def current(self) -> int:
        """The thread the next call runs on."""
        return self._cur

    @property
    def threads(self) -> tuple[int, ...]:
        """The live threads.

        >>> t = Threads(); t.create(3); t.threads
        (0, 3)
        """
        return tuple(sorted(self._threads))

    @property
    def cores(self) -> int:
        """The number of cores the arena limit is computed from."""
        return self._cores

    @property
    def stacks_unmapped(self) -> int:
        """Stacks glibc's stack cache has unmapped (beyond 40 MiB of joined threads' stacks)."""
        return self._stacks_unmapped

    @property
    def arena_limit(self) -> int:
        """narenas_limit: 0 until glibc computes it (when the arena count passes M_ARENA_TEST)."""
        return self._limit

    @property
    def arenas(self) -> tuple[ArenaView, ...]:
        """Every arena, main first, then in order of creation."""
        return tuple(ArenaView(self, a) for a in self._created)

    @property
    def free_list(self) -> tuple[int, ...]:
        """The arenas on the free list, next to be handed out first."""
        return tuple(self._index[id(a)] for a in reversed(self._free_list))

    @property
    def last_note(self):
        """What the latest call did (its arena's note)."""
        return self._last.last_note

    @property
    def note_token(self) -> tuple:
        """The latest call's note, unformatted (see Malloc.note_token)."""
        return self._last.note_token

    note_of = staticmethod(Malloc.note_of)

    def arena_of(self, p: int) -> int:
        """The number of the arena a heap block belongs to (arena_for_chunk)."""
        return self._index[id(self._owner(p - self._hdr))]

    # --- threads -----------------------------------------------------------------------------
    def switch(self, tid: int) -> None:
        """Run the following calls on thread `tid` (a join left by an exited thread runs first)."""
        if tid not in self._threads:
            raise ThreadError(f"thread {tid} is not running")
        self._cur = tid
        pending, self._pending_joins = self._pending_joins, []
        for stack in pending:
            self._join(stack)

    def create(self, tid: int) -> None:
        """The current thread creates thread `tid` (no arena and no tcache yet): a cached
        stack is taken if one fits, else a stack is mapped and its DTV calloc'ed here."""
        if tid in self._threads or tid in self._exited:
            raise ThreadError(f"thread {tid} already exists")
        self._running("create a thread")
        size = self._stack_block
        stack = None
        for i, s in enumerate(self._stack_cache):
            if s.size >= size and (stack is None or s.size < stack[1].size):
                stack = (i, s)
                if s.size == size:
                    break
        if stack is not None and stack[1].size <= 4 * size:
            del self._stack_cache[stack[0]]
            self._stack_cache_size -= stack[1].size
            stack = stack[1]
        else:
            addr = self.space.mmap(size)
            dtv = self.calloc(self._dtv_entries, self._arch.dtv_entry_bytes)
            stack = Stack(addr, size, dtv)
        self._threads[tid] = _Thread(None, self._rel.has_tcache and self._rel.tcache_lazy, stack)
        self._multi = True

    def _running(self, what: str) -> None:
        if self._cur not in self._threads:
            raise ThreadError(f"thread {self._cur} has exited; switch to a running thread to {what}")

    def exit(self, tid: int) -> None:
        """Thread `tid` returns from its start routine: on that thread, its tcache goes back
        to the arenas and its arena, when no other thread uses it, to the free list. Its
        stack stays until a `join`."""
        if tid == 0:
            raise ThreadError("thread 0 (the main thread) cannot exit")
        if tid not in self._threads:
            raise ThreadError(f"thread {tid} is not running")
        cur = self._cur
        self._cur = tid
        try:
            self._tcache_thread_shutdown()
        finally:
            self._cur = cur
        th = self._threads.pop(tid)
        a = th.arena
        if a is not None:
            n = self._attached[id(a)] - 1
            self._attached[id(a)] = n
            if n == 0:
                self._free_list.append(a)
        self._exited[tid] = th.stack

    def join(self, tid: int) -> None:
        """The current thread joins exited thread `tid` (after the current thread's own exit,
        the thread the next `switch` names does): its stack goes to glibc's cache."""
        if tid not in self._exited:
            raise ThreadError(f"thread {tid} has not exited" if tid in self._threads
                              else f"thread {tid} was not created or was already joined")
        stack = self._exited.pop(tid)
        if self._cur in self._threads:
            self._join(stack)
        else:
            self._pending_joins.append(stack)

    def _join(self, stack: Stack) -> None:
        """pthread_join on the current thread: the stack goes to the head of the cache, and
        the oldest cached stacks are freed while the cache is over its limit."""
        self._stack_cache.insert(0, stack)
        self._stack_cache_size += stack.size
        while self._stack_cache_size > STACK_CACHE_MAX and self._stack_cache:
            old = self._stack_cache.pop()
            self._stack_cache_size -= old.size
            self.free(old.dtv)
            self.space.munmap(old.addr, old.size)
            self._stacks_unmapped += 1

    def _tcache_thread_shutdown(self) -> None:
        th = self._threads[self._cur]
        th.shutting_down = True
        th.pending = False
        tc = th.tcache
        if tc is None:
            return
        th.tcache = None
        state = self._main._state
        for b in tc.bins:
            while b:
                c = b.pop()                   # each bin from its head; the chunk looks in use
                state[c] = INUSE
                self.free(c + self._hdr)
        if tc.addr:
            self.free(tc.addr + self._hdr)

    # --- arenas ------------------------------------------------------------------------------
    def _owner(self, c: int) -> Malloc:
        h = self._heaps.heap_for_ptr(c)
        return h.arena if h is not None else self._main

    def _arena_get(self, th: _Thread, size: int) -> Malloc | None:
        if th.arena is None:
            self._arena_get2(th, size)
        return th.arena

    def _arena_for_call(self, th: _Thread, size: int) -> Malloc | None:
        """Where an allocating call runs: the main arena while the process has had no thread
        (SINGLE_THREAD_P, even if tcache_init's retry gave the main thread another arena),
        else the thread's arena."""
        return self._arena_get(th, size) if self._multi else self._main

    def _arena_get2(self, th: _Thread, size: int) -> Malloc | None:
        """Attach thread `th` to an arena: the free list's head, a new arena, or a reused one."""
        if self._free_list:
            a = self._free_list.pop()
            self._attached[id(a)] = 0
            return self._attach(th, a)
        if self._limit == 0:
            if self._arena_max:
                self._limit = self._arena_max
            elif self._narenas > self._arena_test:
                self._limit = narenas_from_ncores(self._cores, self._arch)
        if self._narenas <= (self._limit - 1) & self._mask:
            self._narenas += 1
            a = self._int_new_arena(size)
            if a is None:
                self._narenas -= 1
                return None
            return self._attach(th, a)
        return self._attach(th, self._reused_arena())

    def _attach(self, th: _Thread, a: Malloc) -> Malloc:
        old = th.arena
        if old is not None:                  # detach_arena: never put on the free list here
            self._attached[id(old)] -= 1
        th.arena = a
        self._attached[id(a)] += 1
        return a

    def _arena_get_retry(self, th: _Thread, a: Malloc, size: int) -> Malloc | None:
        """After a failed allocation: the main arena, or from the main arena another arena."""
        if a is not self._main:
            return self._main
        return self._arena_get2(th, size)

    def _int_new_arena(self, size: int) -> Malloc | None:
        pad = self._main._top_pad
        arch = self._arch
        header = arch.heap_info_bytes + self._rel.malloc_state_bytes + arch.malloc_alignment
        h = self._heaps.new_heap((size + header) & self._mask, pad)
        if h is None:
            h = self._heaps.new_heap(header, pad)
            if h is None:
                return None
        a = HeapArena(self._main, self._heaps, h)
        for name in _SHARED:
            setattr(a, name, getattr(self._main, name))
        self._index[id(a)] = len(self._created)
        self._created.append(a)
        self._list.insert(1, a)
        self._attached[id(a)] = 0            # _attach counts the thread
        return a

    def _reused_arena(self) -> Malloc:
        # with one thread running at a time no arena lock is ever held when a thread looks
        # for one, so glibc's trylock succeeds on the first arena it tries: next_to_use
        if self._next_to_use is None:
            self._next_to_use = self._main
        a = self._next_to_use
        if a in self._free_list:
            self._free_list.remove(a)
        lst = self._list
        self._next_to_use = lst[(lst.index(a) + 1) % len(lst)]
        return a

    def _enter(self, a: Malloc, th: _Thread) -> None:
        """Give arena `a` the current thread's tcache for one call."""
        a._tcache = th.tcache
        a._tcache_pending = th.pending
        a._no_tcache_init = th.shutting_down

    def _leave(self, a: Malloc, th: _Thread) -> None:
        th.tcache = a._tcache
        th.pending = a._tcache_pending
        a._tcache = None
        self._last = a
        self._share(a)
        mm = sum(x._mmapped_mem for x in self._created)
        n = len(self._main._mmapped)
        if n > self._max_n_mmaps:
            self._max_n_mmaps = n
        if mm > self._max_mmapped_mem:
            self._max_mmapped_mem = mm

    def _share(self, a: Malloc) -> None:
        """The parameters are the process's: copy what the call changed to every arena."""
        for x in self._created:
            if x is not a:
                for name in _SHARED:
                    setattr(x, name, getattr(a, name))

    def _maybe_init_tcache(self, th: _Thread) -> None:
        """MAYBE_INIT_TCACHE: the thread's first call makes its tcache in its arena (which
        tcache_init gets, the thread's first arena_get)."""
        rel = self._rel
        if th.tcache is None and rel.has_tcache and not rel.tcache_lazy and not th.shutting_down:
            a = self._arena_get(th, rel.tcache_struct_bytes)
            if a is None:
                return
            self._enter(a, th)
            a._maybe_init_tcache()
            self._leave(a, th)
            if th.tcache is None:
                a = self._arena_get_retry(th, a, rel.tcache_struct_bytes)
                if a is not None:
                    self._enter(a, th)
                    a._maybe_init_tcache()
                    self._leave(a, th)

    def _call(self, a: Malloc, th: _Thread, name: str, *args):
        self._enter(a, th)
        try:
            return getattr(a, name)(*args)
        finally:
            self._leave(a, th)

    # --- the malloc family ---------------------------------------------------------------------
    def _with_retry(self, th: _Thread, a: Malloc | None, size: int, name: str, *args,
                    always: bool = False) -> int:
        """Run the call in arena `a`; when it fails in a process that has had threads, once
        more in the arena arena_get_retry gives (glibc's retry after a failed allocation)."""
        if a is None:
            return NULL
        r = self._call(a, th, name, *args)
        if not r and self._multi and a.last_note.path == "fail" and (always or self._retryable(size)):
            a = self._arena_get_retry(th, a, size)
            if a is not None:
                a._clear_all = name == "calloc"
                try:
                    r = self._call(a, th, name, *args)
                finally:
                    a._clear_all = False
        return r

    def _retryable(self, size: int) -> bool:
        return size <= self._ptrdiff_max      # else checked_request2size fails first: no retry

    def malloc(self, n: int) -> int:
        """malloc(n) on the current thread."""
        th = self._threads[self._cur]
        n = self._main._fit("n", n)
        if n > self._ptrdiff_max:            # refused before any tcache or arena is sought
            return self._call(self._main, th, "malloc", n)
        self._maybe_init_tcache(th)
        return self._with_retry(th, self._arena_for_call(th, n), n, "malloc", n)

    def free(self, p: int) -> None:
        """free(p) on the current thread: the chunk goes back to the arena that owns it."""
        th = self._threads[self._cur]
        c = p - self._hdr
        if p and c not in self._main._mmapped:
            self._maybe_init_tcache(th)
            if th.tcache is None and th.pending and self._main._size.get(c, self._tmax + 1) <= self._tmax:
                self._lazy_tcache(th)
        self._call(self._owner(c) if p else self._main, th, "free", p)

    def _lazy_tcache(self, th: _Thread) -> None:
        """2.43: a free that can cache its chunk first makes the tcache, in the thread's arena."""
        a = self._arena_get(th, self._rel.tcache_struct_bytes)
        if a is not None:
            self._enter(a, th)
            a._lazy_tcache(self._rel.tcache_struct_bytes)
            self._leave(a, th)

    def realloc(self, p: int, n: int) -> int:
        """realloc(p, n) on the current thread: resized in the arena that owns the block;
        when that fails, malloc in the thread's arena, copy, and free the old block."""
        th = self._threads[self._cur]
        if p == NULL:
            return self.malloc(n)
        if n == 0:                          # realloc(p, 0) is free(p)
            self.free(p)
            return NULL
        c = p - self._hdr
        if c in self._main._mmapped:
            a = (th.arena or self._main) if self._multi else self._main   # a move mallocs there
            return self._call(a, th, "realloc", p, n)
        self._maybe_init_tcache(th)
        a = self._owner(c)
        r = self._call(a, th, "realloc", p, n)
        if not r and n and self._multi and self._retryable(n) and a.last_note.path == "fail" \
                and self._main._state.get(c) == INUSE:
            r = self.malloc(n)
            if r:
                old = self._main._size[c] - self._sz
                self.space.touch(r, old)
                self._call(a, th, "free", p)
        return r

    def calloc(self, nmemb: int, size: int) -> int:
        """calloc(nmemb, size) on the current thread."""
        th = self._threads[self._cur]
        fit = self._main._fit
        n = fit("nmemb", nmemb) * fit("size", size)
        if n > self._ptrdiff_max:            # the product overflows ptrdiff_t: refused at once
            return self._call(self._main, th, "calloc", nmemb, size)
        self._maybe_init_tcache(th)
        return self._with_retry(th, self._arena_for_call(th, n), n, "calloc", nmemb, size, always=True)

    def memalign(self, align: int, n: int) -> int:
        """memalign(align, n) on the current thread."""
        th = self._threads[self._cur]
        fit = self._main._fit
        align, n = fit("align", align), fit("n", n)
        arch = self._arch
        if align <= arch.malloc_alignment:
            return self.malloc(n)
        a = max(align, arch.minsize)
        if a & (a - 1):
            a = 2 * arch.malloc_alignment
            while a < align:
                a <<= 1
        if align > self._mask // 2 + 1:
            return self._call(self._main, th, "memalign", align, n)
        return self._with_retry(th, self._arena_for_call(th, (n + a + arch.minsize) & self._mask), n,
                                "memalign", align, n, always=True)

    def malloc_usable_size(self, p: int) -> int:
        """malloc_usable_size(p)."""
        return self._owner(p - self._hdr).malloc_usable_size(p) if p else 0

    def malloc_trim(self, pad: int) -> int:
        """malloc_trim(pad): every arena in glibc's list order; 1 if any gave memory back."""
        r = 0
        for a in self._list:
            r |= a.malloc_trim(pad)
        self._last = self._main
        return r

    def mallopt(self, param: int, value: int) -> int:
        """mallopt(param, value): consolidates the main arena, sets the process's parameter."""
        m = self._main
        res = m.mallopt(param, value)
        self._fast_ceiling = max(self._fast_ceiling, m._max_fast)
        if param == M_ARENA_TEST and value > 0:
            self._arena_test = value
        elif param == M_ARENA_MAX and value > 0:
            self._arena_max = value
        self._last = m
        self._share(m)
        return res

    # --- statistics ----------------------------------------------------------------------------
    def _arena_info(self, a: Malloc) -> Mallinfo2:
        fast, bins = a._fast, a._bins
        free = a._top_size + fast.bytes + bins.bytes
        main = a is self._main
        return make_mallinfo2(a._system_mem, 1 + bins.count, fast.count,
                              len(a._mmapped) if main else 0,
                              sum(x._mmapped_mem for x in self._created) if main else 0,
                              fast.bytes, a._system_mem - free, free,
                              a._top_size if main else 0)

    def mallinfo2(self) -> Mallinfo2:
        """glibc's mallinfo2(): int_mallinfo summed over the arenas (hblks, hblkhd and keepcost
        come from the main arena's pass: process-wide counts and the main top)."""
        tot = [0] * 10
        for a in self._list:
            mi = self._arena_info(a)
            for i, name in enumerate(Mallinfo2.__slots__):
                tot[i] += getattr(mi, name)
        return Mallinfo2(*tot)

    def arena_pairs(self) -> tuple[tuple[int, int], ...]:
        """(system bytes, in use bytes) of each arena in glibc's order (main, then the newest):
        the figures malloc_stats() prints, and the real replayer's `arenas` key.

        >>> t = Threads(); t.create(1); t.switch(1); _ = t.malloc(1); t.arena_pairs()
        ((135168, 944), (135168, 2944))
        """
        return tuple((mi.arena, mi.uordblks) for mi in map(self._arena_info, self._list))

    def malloc_stats(self) -> str:
        """The text glibc's malloc_stats() writes: each arena, then the totals."""
        u32 = 0xFFFFFFFF
        mm = sum(x._mmapped_mem for x in self._created)
        system_b = in_use_b = mm
        out = []
        for i, a in enumerate(self._list):
            mi = self._arena_info(a)
            out.append(f"Arena {i}:\nsystem bytes     = {mi.arena & u32:10d}\n"
                       f"in use bytes     = {mi.uordblks & u32:10d}\n")
            system_b += mi.arena
            in_use_b += mi.uordblks
        out.append("Total (incl. mmap):\n"
                   f"system bytes     = {system_b & u32:10d}\n"
                   f"in use bytes     = {in_use_b & u32:10d}\n"
                   f"max mmap regions = {self._max_n_mmaps & u32:10d}\n"
                   f"max mmap bytes   = {self._max_mmapped_mem:10d}\n")
        return "".join(out)

    # --- invariants ----------------------------------------------------------------------------
    def check(self) -> None:
        """Verify every arena's invariants, each thread's tcache and the arena bookkeeping;
        AssertionError names the first one broken.

        >>> t = Threads(); t.create(1); t.switch(1); _ = t.malloc(10); t.check()
        """
        def fail(msg: str) -> None:
            raise AssertionError(msg)

        self.space.check()
        main = self._main
        state, size = main._state, main._size
        cached = 0
        for tid, th in self._threads.items():
            tc = th.tcache
            if tc is None:
                continue
            if tc.addr and state.get(tc.addr) != INUSE and tc.addr not in main._mmapped:
                fail(f"thread {tid}: tcache bookkeeping chunk is not in use")
            for i, lst in enumerate(tc.bins):
                if len(lst) > tc.limit:
                    fail(f"thread {tid}: tcache bin {i} holds {len(lst)} > {tc.limit}")
                for c in lst:
                    if state.get(c) != TCACHE or self._arch.tcache_index(size[c]) != i:
                        fail(f"thread {tid}: tcache bin {i} holds {c:#x} of wrong size or state")
                cached += len(lst)
        if cached != sum(1 for st in state.values() if st == TCACHE):
            fail("some tcache chunk is in no thread's tcache")
        owner = {id(a): [] for a in self._created}
        for c in size:
            owner[id(self._owner(c))].append(c)
        for a in self._created:
            v = copy.copy(a)
            mine = owner[id(a)]
            v._size = {c: size[c] for c in mine}
            v._state = {c: INUSE if state[c] == TCACHE else state[c] for c in mine}
            v._free_end = {e: c for e, c in a._free_end.items() if self._owner(c) is a}
            v._tcache = None
            if a is not main:                # mallopt consolidates the main arena only: the
                v._max_fast = self._fast_ceiling   # others keep chunks a lower M_MXFAST refuses
            v._mmapped = {}
            v._mmapped_mem = v._mmapped_drift = 0
            try:
                check_heap(v)
            except AssertionError as e:
                fail(f"arena {self._index[id(a)]}: {e}")
            if isinstance(a, HeapArena):
                heaps = a.heaps
                if sum(h.size for h in heaps) != a._system_mem:
                    fail(f"arena {self._index[id(a)]}: system_mem != the sum of its heaps")
                h = a._heap
                if not h.addr < a._top < h.addr + h.size or a._top + a._top_size != h.addr + h.size:
                    fail(f"arena {self._index[id(a)]}: top does not end its last heap")
                overhead = self._heaps.info_bytes * (len(heaps) - 1) + first_top(
                    heaps[0].addr, self._rel) - heaps[0].addr
                if sum(size[c] for c in mine) + a._top_size + overhead != a._system_mem:
                    fail(f"arena {self._index[id(a)]}: chunks + top + headers != system_mem")
        mm = sum(x._mmapped_mem - x._mmapped_drift for x in self._created)
        tail = self._rel.mmap_chunk_tail
        if mm != sum(o + s + tail for o, s in main._mmapped.values()):
            fail("hblkhd != total of mmapped chunks")
        for a in self._created:
            n = sum(1 for th in self._threads.values() if th.arena is a)
            if self._attached[id(a)] != n:
                fail(f"arena {self._index[id(a)]}: {self._attached[id(a)]} attached, {n} threads")
            if (a in self._free_list) != (n == 0 and a is not self._main):
                fail(f"arena {self._index[id(a)]}: on the free list exactly when unattached")

