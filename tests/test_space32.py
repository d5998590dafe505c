"""memlab.space.layout32 against a real 32-bit process: each brk and mmap call lands where the
kernel puts it (tests/space32_probe.c, built with -m32, reads its own maps first)."""

import subprocess
from pathlib import Path

import pytest

from memlab.errors import SyscallError
from memlab.native.build import compile_c
from memlab.space.layout32 import Layout32
from memlab.space.space32 import Space32
from memlab.units import GiB, MiB, PAGE

pytestmark = pytest.mark.usefixtures("glibc_i386")

PROBE = Path(__file__).with_name("space32_probe.c")


def real(calls: list[str], legacy: bool = False, randomize: bool = True):
    program = compile_c(PROBE, ("-m32", "-O2", "-Wall"), name="space32_probe-i386")
    flags = (["--legacy"] if legacy else []) + ([] if randomize else ["--no-random"])
    out = subprocess.run([str(program), *flags, *calls], capture_output=True, text=True, check=True).stdout
    head, _, results = out.partition("\nend\n")
    first, _, maps = head.partition("\n")
    return int(first.split()[1], 16), maps, results.split()


def model(calls: list[str], start_brk: int, maps: str, legacy: bool) -> list[str]:
    space = Space32(Layout32.from_maps(maps, start_brk, legacy=legacy))
    out = []
    for call in calls:
        kind, _, value = call.partition(":")
        try:
            got = space.sbrk(int(value)) if kind == "sbrk" else space.mmap(int(value))
            out.append(hex(got))
        except SyscallError as e:
            out.append(f"-{e.errno}")
    return out


CALLS = {
    "heap then mappings": ["sbrk:139264", "mmap:4096", "mmap:1048576", f"mmap:{100 * MiB}",
                           f"mmap:{GiB}", f"mmap:{GiB}", "sbrk:1048576", f"mmap:{2 * GiB}",
                           f"mmap:{1500 * MiB}", f"mmap:{64 * MiB}", "sbrk:-4096"],
    "a small heap, then 20 MiB and 1.2 GiB": ["sbrk:8192", f"mmap:{20 * MiB}", "sbrk:4096",
                                                 f"mmap:{1200 * MiB}", "sbrk:4096", "mmap:4096"],
}


@pytest.mark.parametrize("legacy", [False, True], ids=["top-down", "legacy"])
@pytest.mark.parametrize("randomize", [False, True], ids=["fixed", "random"])
@pytest.mark.parametrize("name", list(CALLS))
def test_each_call_lands_where_the_kernel_puts_it(name, legacy, randomize):
    calls = CALLS[name]
    start_brk, maps, results = real(calls, legacy, randomize)
    assert model(calls, start_brk, maps, legacy) == results


def test_the_legacy_layout_puts_a_mapping_right_above_the_heap():
    """Bottom-up, the 20 MiB mapping takes the first gap that holds it: the one above the
    heap, so that the break cannot grow by even one page."""
    start_brk, maps, results = real(CALLS["a small heap, then 20 MiB and 1.2 GiB"], legacy=True,
                                    randomize=False)
    assert int(results[0], 16) == start_brk
    assert int(results[1], 16) == start_brk + 2 * PAGE and results[2] == "-12"
