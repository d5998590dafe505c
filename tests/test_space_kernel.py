"""The AddressSpace against the real Linux kernel of this machine.

tests/kernel_probe.c is compiled at test time; it runs one system call per command and
reports the result (or -errno) and the process's `Anonymous:` bytes from
/proc/self/smaps_rollup. The same steps run on an AddressSpace, and the resident-byte
changes, the placement relations and the errno values must be equal.
"""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memlab.errors import SyscallError
from memlab.native.build import compile_c
from memlab.space import MADV_DONTNEED, MADV_FREE, AddressSpace
from memlab.units import PAGE

P = PAGE
SOURCE = Path(__file__).with_name("kernel_probe.c")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux")
                                or not os.path.exists("/proc/self/smaps_rollup"),
                                reason="needs Linux with /proc/self/smaps_rollup")


@pytest.fixture(scope="module")
def probe_binary():
    """tests/kernel_probe.c, compiled with $CC (else cc)."""
    return compile_c(SOURCE, ("-O1",))


class Probe:
    """A running kernel_probe process: call(cmd, *numbers) -> (result or -errno, anon bytes)."""

    def __init__(self, binary):
        self.proc = subprocess.Popen([str(binary)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        for _ in range(3):           # let the probe's own stack and buffers settle
            self.call("anon")

    def call(self, cmd, *args):
        self.proc.stdin.write(" ".join([cmd] + [str(a % (1 << 64)) for a in args]) + "\n")
        self.proc.stdin.flush()
        result, anon, _lazy = (int(x) for x in self.proc.stdout.readline().split())
        return result, anon

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def probe(probe_binary):
    p = Probe(probe_binary)
    yield p
    p.close()


def model_call(space, cmd, *args):
    """The AddressSpace version of a probe command: (result or -errno, rss)."""
    names = {"mmap": "mmap", "munmap": "munmap", "mremap": "mremap", "madvise": "madvise",
             "touch": "touch", "sbrk": "sbrk"}
    try:
        result = getattr(space, names[cmd])(*args)
    except SyscallError as e:
        return -e.errno, space.rss
    return (0 if result is None else result), space.rss


def test_resident_bytes_change_like_the_kernel(probe):
    """Each step changes the model's RSS by exactly the kernel's change of Anonymous."""
    space = AddressSpace()
    # steps name addresses as (handle, offset); handles are results of earlier steps
    steps = [
        ("A", "mmap", 16 * P),
        (None, "touch", ("A", 0), 16 * P),
        (None, "touch", ("A", P - 8), 16),
        (None, "madvise", ("A", 2 * P), 2 * P, MADV_DONTNEED),
        (None, "madvise", ("A", 4 * P), 4 * P, MADV_FREE),      # stays in Anonymous
        (None, "touch", ("A", 5 * P + 100), 8),
        (None, "munmap", ("A", 8 * P), 2 * P),
        (None, "mremap", ("A", 10 * P), 6 * P, 3 * P, 0),       # shrink: drops 3 pages
        ("G", "mremap", ("A", 10 * P), 3 * P, 8 * P, 1),        # grows or moves
        (None, "touch", ("G", 0), 8 * P),
        ("C", "mremap", ("A", 0), 2 * P, 6 * P, 1),             # not at the end: moves
        (None, "touch", ("C", 0), 6 * P),
        (None, "madvise", ("C", 0), 6 * P, MADV_DONTNEED),
        (None, "munmap", ("A", 2 * P), 6 * P),                   # lazy pages counted until here
        (None, "munmap", ("G", 0), 8 * P),
        (None, "munmap", ("C", 0), 6 * P),
    ]
    real_handles, model_handles = {}, {}
    _, real_before = probe.call("anon")
    model_before = space.rss
    for step in steps:
        name, cmd, *args = step

        def resolve(handles):
            return [handles[a[0]] + a[1] if isinstance(a, tuple) else a for a in args]

        real_result, real_anon = probe.call(cmd, *resolve(real_handles))
        model_result, model_rss = model_call(space, cmd, *resolve(model_handles))
        assert (real_result < 0) == (model_result < 0), f"{step}: {real_result} vs {model_result}"
        if name:
            real_handles[name], model_handles[name] = real_result, model_result
        assert model_rss - model_before == real_anon - real_before, f"step {step}"
        real_before, model_before = real_anon, model_rss
        space.check()


def test_top_down_placement_like_the_kernel(probe):
    """Equal-sized mappings stack downwards; a hole is reused; growth in place needs room."""
    space = AddressSpace()
    results = []
    for call in (lambda c: c("mmap", 16 * P), lambda c: c("mmap", 16 * P)):
        results.append((call(probe.call)[0], call(lambda *a: model_call(space, *a))[0]))
    (real_x, model_x), (real_y, model_y) = results
    for x, y, call in ((real_x, real_y, probe.call), (model_x, model_y,
                                                      lambda *a: model_call(space, *a))):
        assert y + 16 * P == x                               # the second ends where the first begins
        assert call("mremap", y, 16 * P, 32 * P, 0)[0] == -errno.ENOMEM   # x is in the way
        assert call("munmap", x, 16 * P)[0] == 0
        assert call("mmap", 16 * P)[0] == x                   # the hole is reused
        assert call("munmap", x, 16 * P)[0] == 0
        assert call("mremap", y, 16 * P, 32 * P, 0)[0] == y   # now it grows in place
        assert call("munmap", y, 32 * P)[0] == 0


def test_mremap_moves_top_down_and_keeps_pages_like_the_kernel(probe):
    """A moved range lands in the highest gap that fits, with its written pages still resident."""
    space = AddressSpace()
    for call in (probe.call, lambda *a: model_call(space, *a)):
        a = call("mmap", 16 * P)[0]
        b = call("mmap", 16 * P)[0]
        c = call("mmap", 16 * P)[0]
        assert (b + 16 * P, c + 16 * P) == (a, b)
        call("munmap", a, 16 * P)                  # the highest 16-page gap is a again
        _, before = call("touch", c, 8 * P)
        moved, after = call("mremap", c, 8 * P, 16 * P, 1)   # not at the end of c: moves
        assert moved == a and after == before
        _, rest = call("munmap", moved, 16 * P)
        assert before - rest == 8 * P
        call("munmap", b, 32 * P)


def test_errno_values_like_the_kernel(probe):
    """Bad calls fail with the kernel's errno; a few odd-looking calls succeed on both."""
    space = AddressSpace()
    real_a, model_a = probe.call("mmap", 4 * P)[0], space.mmap(4 * P)
    real_u, model_u = probe.call("mmap", 2 * P)[0], space.mmap(2 * P)
    probe.call("munmap", real_u, 2 * P)
    space.munmap(model_u, 2 * P)                          # u is now a known unmapped address
    cases = [
        ("munmap", "a", 1, P), ("munmap", "a", 0, 0), ("mmap", 0),
        ("madvise", "a", 0, P, 99), ("madvise", "a", 1, P, MADV_DONTNEED),
        ("madvise", "u", 0, P, MADV_DONTNEED), ("madvise", "u", 0, P, MADV_FREE),
        ("madvise", "a", 0, 0, MADV_DONTNEED), ("madvise", "a", 0, 0, 99),
        ("mremap", "u", 0, P, 2 * P, 1), ("mremap", "u", 0, 2 * P, P, 1),
        ("mremap", "a", 1, P, 2 * P, 1), ("mremap", "a", 0, 0, P, 1), ("mremap", "a", 0, P, 0, 1),
        ("mremap", "a", 0, 8 * P, 9 * P, 1),
        ("munmap", "u", 0, P),
    ]
    for case in cases:
        cmd, rest = case[0], list(case[1:])
        if rest and isinstance(rest[0], str):
            real_args = [{"a": real_a, "u": real_u}[rest[0]] + rest[1]] + rest[2:]
            model_args = [{"a": model_a, "u": model_u}[rest[0]] + rest[1]] + rest[2:]
        else:
            real_args = model_args = rest
        real = probe.call(cmd, *real_args)[0]
        model = model_call(space, cmd, *model_args)[0]
        assert min(real, 0) == min(model, 0), f"{case}: kernel {real}, model {model}"


#: Arguments out of every range, each as (call, base, offset, more...): base "a" is a mapping of
#: four pages, None a plain number. A negative number is what the kernel reads as a huge unsigned
#: one. (No madvise here runs from a mapping up to a high end: the kernel would apply the
#: advice to the probe's own libraries and stack on the way before it failed.)
OUT_OF_RANGE = [
    ("munmap", "a", 0, 2**63), ("munmap", None, -P, P), ("munmap", "a", 0, -P), ("munmap", "a", 0, 2**64 - 1),
    ("munmap", None, 1 << 47, P), ("munmap", None, (1 << 47) - P, 2 * P), ("munmap", None, 2**63, P),
    ("mmap", None, -P), ("mmap", None, 2**63), ("mmap", None, 1 << 47), ("mmap", None, 2**64 - 1),
    ("madvise", "a", 0, -1, MADV_DONTNEED), ("madvise", None, -P, P, MADV_DONTNEED),
    ("madvise", "a", 0, "wrap", MADV_DONTNEED), ("madvise", "a", 0, "wrap-1", MADV_FREE),
    ("madvise", None, 1 << 47, P, MADV_DONTNEED), ("madvise", None, 2**63, P, MADV_FREE),
    ("madvise", "a", 0, 2**64 - 1, 99),
    ("mremap", "a", 0, P, 2**63, 1), ("mremap", "a", 0, 2**63, P, 1), ("mremap", None, -P, P, P, 1),
    ("mremap", "a", 0, P, 1 << 47, 1), ("mremap", "a", 0, P, 2**64 - 1, 1), ("mremap", "a", 0, P, -P, 0),
    ("mremap", None, 1 << 47, P, P, 1), ("mremap", "a", 0, 1 << 47, P, 1),
]


@pytest.mark.parametrize("case", OUT_OF_RANGE, ids=lambda c: " ".join(map(str, c)))
def test_out_of_range_arguments_like_the_kernel(probe, case):
    """Addresses and lengths past the user address space, or wrapping past 2**64, get the kernel's
    errno, and the model's state does not change."""
    space = AddressSpace()
    real_a, model_a = probe.call("mmap", 4 * P)[0], space.mmap(4 * P)
    cmd, base, offset, *rest = case

    def args(a):
        start = (a if base == "a" else 0) + offset
        more = [{"wrap": 2**64 - start, "wrap-1": 2**64 - start - P + 1}.get(x, x) for x in rest]
        return [start, *more] if cmd != "mmap" else [offset]

    real = probe.call(cmd, *args(real_a))[0]
    before = space.state()
    model = model_call(space, cmd, *args(model_a))[0]
    assert real < 0 and model == real, f"{case}: kernel {real}, model {model}"
    assert space.state() == before
    probe.call("munmap", real_a, 4 * P)


def test_brk_pages_like_the_kernel(probe):
    """Pages written under a raised break count; lowering the break drops them."""
    space = AddressSpace()
    cur = probe.call("sbrk", 0)[0]
    probe.call("sbrk", (-cur) % P)                        # align the real break to a page
    start, before = probe.call("sbrk", 0)
    assert start % P == 0
    steps = [("sbrk", 8 * P), ("touch", 0, 5 * P + 1), ("sbrk", -2 * P - 100), ("sbrk", -6 * P + 100)]
    model_before = 0
    for cmd, *args in steps:
        if cmd == "touch":
            real_args, model_args = [start + args[0], args[1]], [space.heap_start + args[0], args[1]]
        else:
            real_args = model_args = args
        _, anon = probe.call(cmd, *real_args)
        model_call(space, cmd, *model_args)
        assert space.rss - model_before == anon - before, (cmd, args)
        before, model_before = anon, space.rss
    assert probe.call("sbrk", 0)[0] == start and space.brk == space.heap_start


def test_mode0_refuses_a_request_larger_than_ram_plus_swap(probe):
    """vm.overcommit_memory=0: one mmap beyond MemTotal + SwapTotal is ENOMEM, half of RAM is not."""
    try:
        mode = int(Path("/proc/sys/vm/overcommit_memory").read_text())
        info = {line.split(":")[0]: int(line.split()[1]) * 1024
                for line in Path("/proc/meminfo").read_text().splitlines()}
    except OSError:
        pytest.skip("cannot read /proc/sys/vm/overcommit_memory or /proc/meminfo")
    if mode != 0:
        pytest.skip(f"this machine runs vm.overcommit_memory={mode}, the check needs 0")
    ram, swap = info["MemTotal"], info["SwapTotal"]
    space = AddressSpace(ram=ram - ram % P, swap=swap - swap % P)
    too_big, fine = 2 * (ram + swap), ram // 2
    assert probe.call("mmap", too_big)[0] == -errno.ENOMEM
    assert model_call(space, "mmap", too_big)[0] == -errno.ENOMEM
    real, model = probe.call("mmap", fine)[0], model_call(space, "mmap", fine)[0]
    assert real > 0 and model > 0
    probe.call("munmap", real, fine)
