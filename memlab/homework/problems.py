"""One problem per assignment: a student's own numbers, the traces to predict, the goals to reach.

Each problem is drawn from `student_rng(seed, student, ASSIGNMENT)`, so every student of
a class gets other numbers and the grader, given the same seed and ID, the same ones.
The expected answers are never stored here: an assignment's tests replay the problem's
traces on the model (``memlab.replay``), and a trace a student writes is judged by the
``missed_*`` method of its question, which replays it and names the first goal it misses
(an empty string when it reaches them all).
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.allocators import Allocator, Bump, Glibc, LeakTracer, Pool, Segregated
from memlab.glibc import DEFAULT_RELEASE, Malloc
from memlab.glibc.bins import bin_index
from memlab.glibc.chunk import request2size
from memlab.glibc.note import PATHS
from memlab.homework.attempt import Attempt, attempt
from memlab.homework.seeds import student_rng
from memlab.homework.windows import OutOfAddressSpace
from memlab.scenarios import PUSH_BACK, VECVEC
from memlab.scenarios.overcommit import Machine, model_grow
from memlab.scenarios.own import LEAKY, ROUNDS
from memlab.scenarios.pinned import PIN_SIZE, pinned
from memlab.scenarios.programs import program_trace
from memlab.score import AllocatorFailed, score_trace
from memlab.trace import parse_trace
from memlab.units import GiB, KiB, MiB

__all__ = ["StartHere", "WhyAllocators", "TwoSources", "VectorOfVectors", "Overcommitting",
           "WhatTopShows", "LockedIn", "FindingAChunk", "YourOwnAllocator", "ASSIGNMENTS",
           "MALLOC_PATHS", "tcache_chunk"]

GLIBC = DEFAULT_RELEASE      # the release every assignment runs on (the model's default)
#: The paths of glibc's search a malloc call can take (memlab.glibc.note.PATHS names them).
MALLOC_PATHS = tuple(p for p in PATHS if not p.startswith(("free-", "realloc-"))
                     and p not in ("munmap", "mremap", "trim", "mallopt", "null", "fail", "query"))
#: memlab's example allocators, which lesson 08's allocator may not derive from.
EXAMPLES = (Bump, Pool, Segregated, LeakTracer, Glibc)


def tcache_chunk(glibc: str = GLIBC) -> int:
    """Bytes of the chunk glibc allocates for its tcache on the first call (0 if it has none then).

    >>> tcache_chunk("2.36"), tcache_chunk("2.43")
    (656, 0)
    """
    rel = Malloc(glibc=glibc).release
    if not rel.has_tcache or rel.tcache_lazy or not rel.tcache_in_heap:
        return 0
    return request2size(rel.tcache_struct_bytes)


def _mallocs(sizes) -> str:
    return "".join(f"a {i} {size}\n" for i, size in enumerate(sizes))


def _only(a: Attempt, kinds: set[str]) -> str:
    """The first operation of another kind than `kinds`, as a reason; "" if none."""
    for i, op in enumerate(a.ops, 1):
        if op.kind not in kinds:
            return f"operation {i} ({op}) is not allowed here: use only {', '.join(sorted(kinds))}"
    return ""


@dataclass(frozen=True, slots=True)
class StartHere:
    """Lesson 00: a first heap, chunk sizes, mallinfo2's counters.

    >>> p = StartHere(size=100, block=1000, count=3, blocks=2, target=656 + 160)
    >>> p.first_trace, p.count_trace.count("\\n")
    ('a 0 100\\n', 3)
    >>> p.missed_target("a 0 40\\na 1 100")          # chunks of 48 and 112 bytes
    ''
    >>> p.missed_target("a 0 100")
    'the trace makes 1 malloc call(s), not 2'
    """

    ASSIGNMENT = "00_start_here"

    size: int        # q1: one malloc(size) in a fresh process; predict uordblks
    block: int       # q2: `count` mallocs of `block` bytes; predict arena
    count: int
    blocks: int      # q3: exactly `blocks` mallocs that leave uordblks == target
    target: int

    @classmethod
    def for_student(cls, seed: int, student: str) -> StartHere:
        rng = student_rng(seed, student, cls.ASSIGNMENT)
        blocks = rng.randint(2, 5)
        return cls(size=rng.randint(1, 1000), block=rng.randint(1000, 4000),
                   count=rng.randint(20, 80), blocks=blocks,
                   target=tcache_chunk() + 16 * rng.randint(2 * blocks + 1, 300))

    @property
    def first_trace(self) -> str:
        return _mallocs([self.size])

    @property
    def count_trace(self) -> str:
        return _mallocs([self.block] * self.count)

    def missed_target(self, trace: object) -> str:
        """Exactly `blocks` mallocs (and nothing else) after which uordblks is `target`."""
        a = attempt(trace, GLIBC)
        if a.error:
            return a.error
        if (why := _only(a, {"malloc"})):
            return why
        if len(a.ops) != self.blocks:
            return f"the trace makes {len(a.ops)} malloc call(s), not {self.blocks}"
        if a.end.hblks:
            return "a block was mmapped: keep every request on the heap"
        if a.end.uordblks != self.target:
            return f"uordblks ends at {a.end.uordblks:,}, not {self.target:,}"
        return ""


@dataclass(frozen=True, slots=True)
class WhyAllocators:
    """Lesson 01: whole pages for each mapping, chunks cut from a heap taken in bulk.

    >>> p = WhyAllocators(sizes=(24, 5000), count=2, waste=40)
    >>> p.sizes_trace
    'a 0 24\\na 1 5000\\n'
    >>> p.missed_overhead("a 0 1\\na 1 24")           # 32 - 1 + 32 - 24 = 39
    'the chunks cover 39 bytes more than the 25 requested, not 40'
    >>> p.missed_overhead("a 0 0\\na 1 24")
    ''
    """

    ASSIGNMENT = "01_why_allocators"

    sizes: tuple[int, ...]   # q1: one mmap per request, bytes mapped; q2: uordblks after mallocs
    count: int               # q3: `count` mallocs whose chunks cover `waste` bytes more than asked
    waste: int

    @classmethod
    def for_student(cls, seed: int, student: str) -> WhyAllocators:
        rng = student_rng(seed, student, cls.ASSIGNMENT)
        sizes = tuple(rng.randint(1, 9000) for _ in range(6))
        count = rng.randint(3, 6)
        return cls(sizes=sizes, count=count, waste=rng.randint(8 * count, 23 * count))

    @property
    def sizes_trace(self) -> str:
        return _mallocs(self.sizes)

    def missed_overhead(self, trace: object) -> str:
        """Exactly `count` mallocs of distinct IDs whose chunks exceed the requests by `waste`."""
        a = attempt(trace, GLIBC)
        if a.error:
            return a.error
        if (why := _only(a, {"malloc"})):
            return why
        if len(a.ops) != self.count:
            return f"the trace makes {len(a.ops)} malloc call(s), not {self.count}"
        if len({op.id for op in a.ops}) != len(a.ops):
            return "give every block its own ID (a malloc to a live ID loses the old block)"
        if a.end.hblks:
            return "a block was mmapped: keep every request on the heap"
        requested = sum(op.size for op in a.ops)
        extra = a.end.uordblks - tcache_chunk() - requested
        if extra != self.waste:
            return (f"the chunks cover {extra:,} bytes more than the {requested:,} requested, "
                    f"not {self.waste:,}")
        return ""


@dataclass(frozen=True, slots=True)
class TwoSources:
    """Lesson 02: the mmap threshold, the dynamic threshold, trimming and resident pages.

    >>> p = TwoSources(big=200_000, again=1_048_576, nth=2, largest=30_000, first=300_000)
    >>> print(p.again_trace, end="")
    a 0 1048576
    f 0
    a 1 1048576
    >>> p.missed_first_mmap("a 0 16\\na 1 30000")
    'malloc 2 came from the heap (top), not from a mapping of its own'
    >>> p.missed_first_mmap("o M_TOP_PAD 0\\no M_MMAP_THRESHOLD 30000\\na 0 16\\na 1 30000")
    ''
    """

    ASSIGNMENT = "02_two_sources"

    big: int        # q1: malloc(big) in a fresh process; predict hblkhd
    again: int      # q2: malloc, free, malloc of `again` bytes; predict arena
    nth: int        # q3: the nth malloc is the first served by mmap, none above `largest` bytes
    largest: int
    first: int      # q4: a heap block of `first` bytes and a small one, both freed; predict rss

    @classmethod
    def for_student(cls, seed: int, student: str) -> TwoSources:
        rng = student_rng(seed, student, cls.ASSIGNMENT)
        return cls(big=rng.randint(140_000, 2_000_000), again=rng.randint(200_000, 8_000_000),
                   nth=rng.randint(2, 5), largest=rng.randint(20_000, 60_000),
                   first=rng.randint(200_000, 900_000))

    @property
    def big_trace(self) -> str:
        return _mallocs([self.big])

    @property
    def again_trace(self) -> str:
        return f"a 0 {self.again}\nf 0\na 1 {self.again}\n"

    @property
    def freed_trace(self) -> str:
        return (f"o M_MMAP_THRESHOLD {1024 * KiB}\na 0 {self.first}\nw 0\n"
                "a 1 2000\nw 1\nf 0\nf 1\n")

    def missed_first_mmap(self, trace: object) -> str:
        """Malloc number `nth` is the first operation served by mmap; no request above `largest`."""
        a = attempt(trace, GLIBC)
        if a.error:
            return a.error
        if (why := _only(a, {"malloc", "free", "mallopt", "write", "trim"})):
            return why
        for i, op in enumerate(a.ops, 1):
            if op.kind == "malloc" and op.size > self.largest:
                return f"operation {i} ({op}) asks for more than {self.largest:,} bytes"
        at = a.nth("malloc", self.nth)
        if at is None:
            return f"the trace has fewer than {self.nth} malloc calls"
        for i in range(at):
            if a.after[i].hblks:
                return f"operation {i + 1} ({a.ops[i]}) already left a mapping"
        if a.paths[at] != "mmap":
            return (f"malloc {self.nth} came from the heap ({a.paths[at]}), "
                    "not from a mapping of its own")
        return ""


@dataclass(frozen=True, slots=True)
class VectorOfVectors:
    """Lesson 03: many tiny blocks keep the heap; one big block goes back.

    >>> p = VectorOfVectors(n=3, pushed=100)
    >>> p.missed_release(VECVEC.text(n=3) + "t 0\\n")
    ''
    >>> p.missed_release("t 0")
    'the trace must start with the vector of 3 vectors, line for line'
    """

    ASSIGNMENT = "03_vector_of_vectors"
    #: q3's goal: at most this many resident bytes at the end.
    RESIDENT_GOAL = 16 * KiB
    #: q3: at most this many operations after the program's own.
    EXTRA_OPS = 3

    n: int          # q1, q2, q3: N one-int vectors built and destroyed
    pushed: int     # q4: one vector grown by push_back to this many ints; predict peak hblkhd

    @classmethod
    def for_student(cls, seed: int, student: str) -> VectorOfVectors:
        rng = student_rng(seed, student, cls.ASSIGNMENT)
        return cls(n=rng.randint(1000, 10_000), pushed=rng.randint(20_000, 3_000_000))

    @property
    def vecvec_trace(self) -> str:
        return VECVEC.text(n=self.n)

    @property
    def push_back_trace(self) -> str:
        return PUSH_BACK.text(n=self.pushed)

    def missed_release(self, trace: object) -> str:
        """The vector of `n` vectors, then at most EXTRA_OPS operations, ending with little resident."""
        a = attempt(trace, GLIBC)
        program = [op for op in VECVEC.build(n=self.n) if op.kind != "snapshot"]
        if list(a.ops[:len(program)]) != program:
            return a.error or f"the trace must start with the vector of {self.n} vectors, line for line"
        if a.error:
            return a.error
        extra = len(a.ops) - len(program)
        if extra > self.EXTRA_OPS:
            return f"{extra} operations follow the program; at most {self.EXTRA_OPS} may"
        if a.end.rss > self.RESIDENT_GOAL:
            return f"{a.end.rss:,} bytes stay resident, more than {self.RESIDENT_GOAL:,}"
        return ""


@dataclass(frozen=True, slots=True)
class Overcommitting:
    """Lesson 04: the kernel's overcommit policy, one big request against realloc in steps.

    Program B of the lesson grows one block with realloc by `step` bytes towards TARGET.

    >>> p = Overcommitting(ram=4 * GiB, swap=0, ratio=50, step=100 * MiB, goal=3 * GiB)
    >>> p.strict.commit_limit // MiB, p.default.mode
    (2048, 0)
    >>> p.missed_goal(Machine(ram=4 * GiB, mode=2, ratio=75))      # CommitLimit 3 GiB
    ''
    >>> p.missed_goal(Machine(ram=4 * GiB, mode=2, ratio=50))
    'program B stops at 2,000 MiB; it must stop above 2,972 MiB and at most at 3,072 MiB'
    """

    ASSIGNMENT = "04_overcommit"
    #: Program B's target, and q3's step.
    TARGET = 100 * GiB
    STEP = 100 * MiB

    ram: int        # bytes of RAM and swap of the student's machine
    swap: int
    ratio: int      # q1: mode 2 with this overcommit_ratio; B grows by `step`
    step: int
    goal: int       # q3: a setting that stops B (100 MiB steps) within the last step below `goal`

    @classmethod
    def for_student(cls, seed: int, student: str) -> Overcommitting:
        rng = student_rng(seed, student, cls.ASSIGNMENT)
        swap = rng.randint(0, 8) * GiB
        return cls(ram=rng.randint(4, 64) * GiB, swap=swap, ratio=rng.randrange(20, 101, 5),
                   step=rng.randint(50, 400) * MiB, goal=swap + rng.randint(2, 40) * GiB)

    @property
    def strict(self) -> Machine:
        """The student's machine in mode 2 (never overcommit) with their overcommit_ratio."""
        return Machine(ram=self.ram, swap=self.swap, mode=2, ratio=self.ratio)

    @property
    def default(self) -> Machine:
        """The student's machine in mode 0 (the default heuristic)."""
        return Machine(ram=self.ram, swap=self.swap, mode=0)

    def missed_goal(self, machine: object) -> str:
        """The student's RAM and swap; program B (STEP at a time) ends in (goal - STEP, goal]."""
        if not isinstance(machine, Machine):
            return f"the answer must be a Machine(...), not {machine!r}"[:200]
        if (machine.ram, machine.swap) != (self.ram, self.swap):
            return (f"keep RAM {self.ram:,} and swap {self.swap:,} bytes; "
                    "change only mode, ratio or kbytes")
        reached = model_grow(machine, self.STEP, self.TARGET)
        if not self.goal - self.STEP < reached <= self.goal:
            return (f"program B stops at {reached // MiB:,} MiB; it must stop above "
                    f"{(self.goal - self.STEP) // MiB:,} MiB and at most at {self.goal // MiB:,} MiB")
        return ""


@dataclass(frozen=True, slots=True)
class WhatTopShows:
    """Lesson 05: VIRT, RES and what a vector and a list leave after they are cleared.

    VIRT here is what the replay mapped: the snapshot's brk (the heap) + hblkhd (mmapped blocks).

    >>> p = WhatTopShows(ints=1000, nodes=10, gap=MiB, resident=MiB)
    >>> [line for line in p.list_trace.splitlines() if line.startswith("s")][:2]
    ['s start', 's filled']
    >>> p.missed_gap("a 0 2000000\\na 1 1048576\\nw 1")
    ''
    >>> p.missed_gap("a 0 2000000")
    'only 8,192 bytes are resident at the end; at least 1,048,576 must be'
    """

    ASSIGNMENT = "05_what_top_shows"

    ints: int       # q1: a vector filled with this many ints; predict hblkhd once it is filled
    nodes: int      # q2: a list of this many ints; predict how much RES grows while it is filled
    gap: int        # q3: at the end VIRT exceeds RES by at least `gap`,
    resident: int   #     and at least `resident` bytes are resident

    @classmethod
    def for_student(cls, seed: int, student: str) -> WhatTopShows:
        rng = student_rng(seed, student, cls.ASSIGNMENT)
        return cls(ints=rng.randint(50_000, 3_000_000), nodes=rng.randint(1000, 20_000),
                   gap=rng.randint(10, 200) * MiB, resident=rng.randint(1, 8) * MiB)

    @property
    def vector_trace(self) -> str:
        return program_trace("vector", self.ints)

    @property
    def list_trace(self) -> str:
        return program_trace("list", self.nodes)

    def missed_gap(self, trace: object) -> str:
        """At the end: VIRT (brk + hblkhd) - RES at least `gap`, RES at least `resident`."""
        a = attempt(trace, GLIBC)
        if a.error:
            return a.error
        end = a.end
        if end.rss < self.resident:
            return (f"only {end.rss:,} bytes are resident at the end; "
                    f"at least {self.resident:,} must be")
        gap = end.brk + end.hblkhd - end.rss
        if gap < self.gap:
            return f"VIRT exceeds RES by {gap:,} bytes at the end, not by {self.gap:,} or more"
        return ""


def _live_blocks(a: Attempt) -> tuple[dict[int, int], str]:
    """The blocks a trace leaves allocated ({ID: size}), or why they cannot be told apart.

    A malloc to an ID still live would lose its block (it stays allocated, unreachable): refused.
    """
    live: dict[int, int] = {}
    for i, op in enumerate(a.ops, 1):
        if op.kind == "malloc":
            if op.id in live:
                return live, (f"operation {i} ({op}) reuses ID {op.id}, which is still live: "
                              "free it first or use a new ID")
            live[op.id] = op.size
        elif op.kind == "free":
            live.pop(op.id, None)
    return live, ""


@dataclass(frozen=True, slots=True)
class LockedIn:
    """Lesson 06: one small block pins the heap; which free trims; what gives memory back anyway.

    >>> p = LockedIn(n=3, size=20_000, blocks=4, block=3000, threshold=8192, pad=0, resident=MiB)
    >>> p.trim_trace.splitlines()[-3:]
    ['s freed', 't 0', 's trimmed']
    >>> p.reverse_trace.splitlines()[:3]
    ['o M_TRIM_THRESHOLD 8192', 'o M_TOP_PAD 0', 'a 0 3000']
    >>> p.missed_pinned("a 0 1100000\\nw 0\\na 1 24\\nf 0")     # mmapped: its free unmaps it
    'only 4,096 bytes stay resident at the end; at least 1,048,576 must'
    >>> p.missed_pinned("a 0 100000\\nw 0\\n" * 11 + "a 1 24\\nf 0")
    'operation 3 (a 0 100000) reuses ID 0, which is still live: free it first or use a new ID'
    >>> p.missed_unpinned(p.program_trace)
    '61,440 bytes stay resident after the frees, more than 16,384'
    >>> p.missed_unpinned("o M_TOP_PAD 0\\no M_MMAP_THRESHOLD 20000\\n" + p.program_trace)
    ''
    """

    ASSIGNMENT = "06_locked_in"
    #: q3: the one block left live may ask for at most this many bytes.
    PIN_MOST = 64
    #: q4: at most this many bytes may stay resident after the frees.
    RESIDENT_GOAL = 16 * KiB

    n: int          # q1, q4: n blocks of `size` bytes written, a 24-byte block above them, n freed
    size: int
    blocks: int     # q2: `blocks` blocks of `block` bytes freed from the last one, with
    block: int      #     M_TRIM_THRESHOLD `threshold` and M_TOP_PAD `pad`
    threshold: int
    pad: int
    resident: int   # q3: one small block live at the end, at least `resident` bytes resident

    @classmethod
    def for_student(cls, seed: int, student: str) -> LockedIn:
        rng = student_rng(seed, student, cls.ASSIGNMENT)
        block = rng.randint(2_000, 30_000)
        threshold = rng.randint(16, 256) * 4 * KiB
        pad = rng.randint(0, 64) * 4 * KiB
        # Enough blocks that the last frees must trim: their chunks alone exceed both knobs.
        blocks = -(-(threshold + pad + 64 * KiB) // block) + rng.randint(0, 4)
        return cls(n=rng.randint(20, 150), size=rng.randint(20_000, 120_000), blocks=blocks,
                   block=block, threshold=threshold, pad=pad, resident=rng.randint(1, 32) * MiB)

    @property
    def trim_trace(self) -> str:
        """The pinned program, then malloc_trim(0): snapshots filled, freed, trimmed."""
        return pinned(self.n, self.size, 1, 1)

    @property
    def program_trace(self) -> str:
        """The pinned program without malloc_trim: snapshots filled, freed."""
        return pinned(self.n, self.size, 1, 0)

    @property
    def reverse_trace(self) -> str:
        """The two knobs set, `blocks` mallocs of `block` bytes, then freed from the last one."""
        return (f"o M_TRIM_THRESHOLD {self.threshold}\no M_TOP_PAD {self.pad}\n"
                + _mallocs([self.block] * self.blocks)
                + "".join(f"f {i}\n" for i in reversed(range(self.blocks))))

    def missed_pinned(self, trace: object) -> str:
        """Only a, w, f, o (and s) lines; one block of at most PIN_MOST bytes live at the end;
        at least `resident` bytes resident."""
        a = attempt(trace, GLIBC)
        if a.error:
            return a.error
        if (why := _only(a, {"malloc", "free", "write", "mallopt", "snapshot"})):
            return why
        live, why = _live_blocks(a)
        if why:
            return why
        if len(live) != 1:
            return f"{len(live)} blocks are live at the end, not exactly 1"
        (size,) = live.values()
        if size > self.PIN_MOST:
            return f"the block left live asks for {size:,} bytes, more than {self.PIN_MOST}"
        if a.end.rss < self.resident:
            return (f"only {a.end.rss:,} bytes stay resident at the end; "
                    f"at least {self.resident:,} must")
        return ""

    def missed_unpinned(self, trace: object) -> str:
        """Only `o` lines, then `program_trace` line for line; at most RESIDENT_GOAL bytes resident
        at the end."""
        a = attempt(trace, GLIBC)
        ops = [op for op in a.ops if op.kind != "snapshot"]
        knobs = 0
        while knobs < len(ops) and ops[knobs].kind == "mallopt":
            knobs += 1
        program = [op for op in parse_trace(self.program_trace) if op.kind != "snapshot"]
        if ops[knobs:knobs + len(program)] != program:
            return a.error or ("after its `o` lines the trace must be your program "
                               "(problem.program_trace), line for line")
        if a.error:
            return a.error
        if len(ops) > knobs + len(program):
            return f"operation {knobs + len(program) + 1} follows the program; nothing may"
        if a.end.rss > self.RESIDENT_GOAL:
            return (f"{a.end.rss:,} bytes stay resident after the frees, "
                    f"more than {self.RESIDENT_GOAL:,}")
        return ""


def _request_for(kind: str, sizes: tuple[int, ...], rng) -> int | None:
    """A request that glibc serves by `kind` once blocks of `sizes` are freed; None if none fits."""
    chunks = [request2size(s) for s in sizes]
    if kind == "exact":
        return rng.choice(sizes)
    if kind == "top":
        return max(sizes) + rng.randint(100, 2000)
    same_bin_bigger = [nb for nb in range(1056, max(chunks), 16) if nb not in chunks
                       and any(c > nb and bin_index(c) == bin_index(nb) for c in chunks)]
    if kind == "largebin":
        pool = same_bin_bigger
    else:       # binmap: nothing big enough in its own bin, something bigger in a later one
        pool = [nb for nb in range(1056, max(chunks), 16) if nb not in chunks
                and nb not in same_bin_bigger]
    return rng.choice(pool) - 8 if pool else None


@dataclass(frozen=True, slots=True)
class FindingAChunk:
    """Lesson 07: the paths of glibc's search, and the other allocators on one trace.

    >>> p = FindingAChunk(sizes=(2000, 3000, 2500), request=2000, small=100, count=9,
    ...                   goal="unsorted-exact", size=1500)
    >>> p.bins_trace.splitlines()[:2], p.bins_trace.splitlines()[-1]
    (['a 0 2000', 'a 1 24'], 'a 6 2000')
    >>> p.missed_path("a 0 1500\\na 1 24\\nf 0\\na 2 1500")
    ''
    >>> p.missed_path("a 0 1500")
    "the last malloc took the path 'top', not 'unsorted-exact'"
    """

    ASSIGNMENT = "07_finding_a_chunk"
    #: q3's goals: a path of glibc's search, with the request sizes it is asked for.
    GOALS = {"fastbin": (17, 120), "smallbin": (121, 1000), "unsorted-exact": (1100, 4000),
             "largebin": (1100, 4000), "binmap": (200, 4000)}
    #: q4's trace: this many blocks of this many bytes, written, then all freed in order.
    RIVAL_BLOCKS = 100_000
    RIVAL_SIZE = 1_000

    sizes: tuple[int, ...]   # q1: three blocks, each behind a guard, freed; then malloc(request)
    request: int
    small: int               # q2: `count` blocks of `small` bytes freed, then `count` mallocs again
    count: int
    goal: str                # q3: the last malloc, of `size` bytes, takes the path `goal`
    size: int

    @classmethod
    def for_student(cls, seed: int, student: str) -> FindingAChunk:
        rng = student_rng(seed, student, cls.ASSIGNMENT)
        kind = rng.choice(("exact", "largebin", "binmap", "top"))
        while True:
            sizes = tuple(rng.randint(1100, 4000) for _ in range(3))
            if len({request2size(s) for s in sizes}) == 3:
                request = _request_for(kind, sizes, rng)
                if request is not None:
                    break
        goal = rng.choice(sorted(cls.GOALS))
        return cls(sizes=sizes, request=request, small=rng.randint(1, 120),
                   count=rng.randint(9, 40), goal=goal, size=rng.randint(*cls.GOALS[goal]))

    @property
    def bins_trace(self) -> str:
        """The three blocks, each followed by a 24-byte guard, freed in order; then malloc(request)."""
        lines = []
        for i, size in enumerate(self.sizes):
            lines += [f"a {2 * i} {size}", f"a {2 * i + 1} {PIN_SIZE}"]
        lines += [f"f {2 * i}" for i in range(len(self.sizes))]
        lines.append(f"a {2 * len(self.sizes)} {self.request}")
        return "\n".join(lines) + "\n"

    @property
    def refill_trace(self) -> str:
        """`count` blocks of `small` bytes and a guard; the `count` freed; `count` mallocs again."""
        c = self.count
        return (_mallocs([self.small] * c) + f"a {c} {PIN_SIZE}\n"
                + "".join(f"f {i}\n" for i in range(c))
                + "".join(f"a {c + 1 + i} {self.small}\n" for i in range(c)))

    @property
    def rivals_trace(self) -> str:
        """RIVAL_BLOCKS blocks of RIVAL_SIZE bytes, each written; snapshot built; all freed in
        order; snapshot freed."""
        n = self.RIVAL_BLOCKS
        return ("".join(f"a {i} {self.RIVAL_SIZE}\nw {i}\n" for i in range(n)) + "s built\n"
                + "".join(f"f {i}\n" for i in range(n)) + "s freed\n")

    def missed_path(self, trace: object) -> str:
        """The trace's last malloc asks for `size` bytes and takes the path `goal`."""
        a = attempt(trace, GLIBC)
        if a.error:
            return a.error
        last = max((i for i, op in enumerate(a.ops) if op.kind == "malloc"), default=None)
        if last is None:
            return "the trace makes no malloc call"
        if a.ops[last].size != self.size:
            return f"the last malloc asks for {a.ops[last].size:,} bytes, not {self.size:,}"
        if a.paths[last] != self.goal:
            return f"the last malloc took the path {a.paths[last]!r}, not {self.goal!r}"
        return ""


@dataclass(frozen=True, slots=True)
class YourOwnAllocator:
    """Lesson 08: a pool in front of glibc, an allocator that gives back more, a leak.

    >>> from memlab.allocators import Allocator, Segregated
    >>> p = YourOwnAllocator(n=200, size=300, rounds=2, other=500, blocks=300, block=1200,
    ...                      floor=55, requests=40, every=3)
    >>> class Mine(Segregated): pass
    >>> p.missed_allocator(Mine)
    "Mine derives from memlab's Segregated: write your own, derived from Allocator"
    >>> class Keep(Allocator):
    ...     def malloc(self, n): return self.space.mmap(max(n, 1))
    ...     def free(self, p): pass
    >>> p.missed_allocator(Keep)
    'Keep gives back 0 bytes on problem.challenge_trace; glibc gives back 0: give back more'
    >>> p.missed_allocator("a 0 1")
    "the answer must be a class, a subclass of memlab.allocators.Allocator, not 'a 0 1'"
    """

    ASSIGNMENT = "08_your_own_allocator"

    n: int          # q1: the rounds trace (n objects of `size` bytes, `rounds` times, then
    size: int       #     n of `other` bytes) with a pool in front of glibc: predict rss at the end
    rounds: int
    other: int
    blocks: int     # q2: the challenge: `blocks` blocks of `block` bytes, a small one above,
    block: int      #     the others freed; give back more than glibc, utilization >= floor %
    floor: int
    requests: int   # q3: the leaky trace with `requests` requests, one record in `every` leaked:
    every: int      #     predict memcheck's definitely lost bytes

    @classmethod
    def for_student(cls, seed: int, student: str) -> YourOwnAllocator:
        rng = student_rng(seed, student, cls.ASSIGNMENT)
        size = rng.randint(150, 1000)
        return cls(n=rng.randint(500, 3000), size=size, rounds=rng.randint(2, 6),
                   other=rng.choice([s for s in range(150, 1001) if s != size]),
                   blocks=rng.randint(200, 2000), block=rng.randint(1030, 2040),
                   floor=rng.randint(50, 60), requests=rng.randint(20, 200),
                   every=rng.randint(2, 9))

    @property
    def rounds_trace(self) -> str:
        return ROUNDS.text(n=self.n, size=self.size, rounds=self.rounds, other=self.other)

    @property
    def challenge_trace(self) -> str:
        return pinned(self.blocks, self.block, 1, 0)

    @property
    def leaky_trace(self) -> str:
        return LEAKY.text(n=self.requests, every=self.every)

    def missed_allocator(self, cls: object) -> str:
        """An Allocator subclass that, on `challenge_trace`, passes every check, gives back more
        resident memory than glibc, and keeps its utilization at `floor` percent or more."""
        if not (isinstance(cls, type) and issubclass(cls, Allocator)):
            return (f"the answer must be a class, a subclass of memlab.allocators.Allocator, "
                    f"not {cls!r}")[:200]
        borrowed = [b.__name__ for b in cls.__mro__ if b in EXAMPLES]
        if borrowed:
            return (f"{cls.__name__} derives from memlab's {borrowed[0]}: write your own, "
                    "derived from Allocator")
        try:
            mine = score_trace(self.challenge_trace, cls, "challenge")
        except AllocatorFailed as e:
            return f"{cls.__name__} failed a check: {e}"[:300]
        glibc = score_trace(self.challenge_trace, Glibc, "challenge")
        if mine.returned <= glibc.returned:
            return (f"{cls.__name__} gives back {mine.returned:,} bytes on problem.challenge_trace; "
                    f"glibc gives back {glibc.returned:,}: give back more")
        if mine.utilization * 100 < self.floor:
            return (f"{cls.__name__}'s utilization is {mine.utilization:.1%}, below your floor "
                    f"of {self.floor}%")
        return ""


#: Each assignment's problem, by the assignment's name (the master notebook's file name).
ASSIGNMENTS = {p.ASSIGNMENT: p for p in (StartHere, WhyAllocators, TwoSources, VectorOfVectors,
                                         Overcommitting, WhatTopShows, LockedIn, FindingAChunk,
                                         YourOwnAllocator)}
ASSIGNMENTS[OutOfAddressSpace.ASSIGNMENT] = OutOfAddressSpace
