"""A 32-bit process's address space as Linux lays it out: program, brk heap, libraries, stack.

A 32-bit (i386) program has at most 4 GiB of addresses: on a 64-bit kernel all of it but the
last two pages (`USER_SPACE_64`), on a 32-bit kernel with the usual 3G/1G split 3 GiB
(`USER_SPACE_32`). `Layout32` is where things sit when `main` starts, as measured on Linux 6.x
(x86-64, IA-32 emulation); `memlab.space.space32.Space32` then places mappings and moves the
break by the kernel's rules:

- top-down layout (the default): a new mapping ends at the top of the highest gap below
  `mmap_base` (the libraries' top: the user space less 128 MiB for the stack, less a random
  offset) that holds it, down to `mmap_min_addr`: below the libraries, past the brk heap and
  the program, down to the bottom of memory. When no gap there fits, the kernel tries once
  more bottom-up, from `legacy_base` (a third of the user space) to its end: the room between
  the libraries and the stack, and above the stack;
- legacy layout (`setarch -L`, or an unlimited stack size): bottom-up from `legacy_base` only,
  so the gigabyte and more below it is never used for mappings;
- nothing is placed in the 1 MiB guard gap below the stack, and the break may grow only while
  one page stays free below the next mapping.

>>> lay = Layout32.typical()
>>> lay.user_space == 4 * GiB - 2 * PAGE, hex(lay.heap_start), hex(lay.mmap_base)
(True, '0x5656a000', '0xf7ffe000')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memlab.units import GiB, MiB, PAGE, align_up

__all__ = ["USER_SPACE_64", "USER_SPACE_32", "MMAP_GAP", "STACK_GUARD_GAP", "MMAP_MIN_ADDR",
           "Region", "Layout32", "parse_maps"]

#: TASK_SIZE of a 32-bit process on a 64-bit x86 kernel (IA32_PAGE_OFFSET): 4 GiB less 8 KiB.
USER_SPACE_64 = 4 * GiB - 2 * PAGE
#: TASK_SIZE on a 32-bit kernel with the default 3G/1G split (PAGE_OFFSET 0xC0000000).
USER_SPACE_32 = 3 * GiB
#: The least room the kernel keeps between the top of the user space and mmap_base (for the stack).
MMAP_GAP = 128 * MiB
#: No mapping may start within this distance below the stack (stack_guard_gap, 256 pages).
STACK_GUARD_GAP = 256 * PAGE
#: No mapping starts below this: the kernel's mmap_min_addr, the larger of the sysctl
#: vm.mmap_min_addr (4096 here) and CONFIG_LSM_MMAP_MIN_ADDR (65536 in Debian's kernels).
#: Measured: the lowest mappings of an exhausted process end where a block would need 0x10000.
MMAP_MIN_ADDR = 65536
#: The program image starts this far above legacy_base (0x56555000 = 0x55555000 + 16 MiB).
_IMAGE_OFFSET = 16 * MiB

#: Where things sit at start-up, measured with randomisation off (setarch -R) for memlab's
#: exhaust program on Debian 12's i386 glibc 2.36: (offset, length, kind, name) from the base
#: each table names.
_PROGRAM = ((0, 0x15000, "program", "program and its data"),)             # from the image base
_LIBS_TOP_DOWN = (                                                        # from mmap_base, down
    (-0x275000, 0x228000, "library", "libc.so.6"),
    (-0x3f000, 0x2000, "library", "anonymous"),
    (-0x3d000, 0x8000, "library", "vdso"),
    (-0x35000, 0x35000, "library", "ld-linux.so.2"),
)
_LIBS_LEGACY = (                                                          # from legacy_base, up
    (0, 0x35000, "library", "ld-linux.so.2"),
    (0x35000, 0x8000, "library", "vdso"),
    (0x3d000, 0x2000, "library", "anonymous"),
    (0x4d000, 0x228000, "library", "libc.so.6"),
)
_STACK = 0x21000                                                          # ends at the user space's top

_MAPS_LINE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Region:
    """[start, end) of one kind: "program", "heap", "library", "stack" or "mmap".

    >>> Region(0x1000, 0x3000, "mmap").size
    8192
    """

    start: int
    end: int
    kind: str
    name: str = ""

    @property
    def size(self) -> int:
        return self.end - self.start


def _legacy_base(user_space: int, shift: int = 0) -> int:
    """TASK_UNMAPPED_BASE: a third of the user space, page aligned, plus the random shift."""
    return align_up(user_space // 3) + shift


@dataclass(frozen=True, slots=True)
class Layout32:
    """A 32-bit process's address space when `main` starts: what is mapped, and the kernel's bases.

    >>> lay = Layout32.typical(user_space=USER_SPACE_32)
    >>> hex(lay.mmap_base), hex(lay.legacy_base), hex(lay.heap_start)
    ('0xb8000000', '0x40000000', '0x41015000')
    """

    user_space: int                  # TASK_SIZE: 4 GiB - 8 KiB on a 64-bit kernel, 3 GiB on a 32-bit one
    regions: tuple[Region, ...]      # program, libraries, stack (sorted by address)
    heap_start: int                  # the break's start (start_brk)
    mmap_base: int                   # top-down placement starts below this
    legacy_base: int                 # bottom-up placement starts here
    legacy: bool = False             # True: the legacy (bottom-up only) layout
    mmap_min_addr: int = MMAP_MIN_ADDR
    stack_guard_gap: int = STACK_GUARD_GAP

    @classmethod
    def typical(cls, user_space: int = USER_SPACE_64, legacy: bool = False) -> "Layout32":
        """The layout measured here without randomisation, moved to `user_space`'s bases.

        On a 64-bit kernel (the default) it is the measured one, address for address; for a
        32-bit kernel's 3 GiB the same pieces sit at that size's bases (derived, not measured).
        """
        if user_space % PAGE or not 256 * MiB <= user_space <= 4 * GiB:
            raise ValueError(f"user_space must be whole pages from 256 MiB to 4 GiB, not {user_space!r}")
        legacy_base = _legacy_base(user_space)
        mmap_base = legacy_base if legacy else user_space - MMAP_GAP
        image = legacy_base + _IMAGE_OFFSET
        regions = [Region(image + o, image + o + n, k, name) for o, n, k, name in _PROGRAM]
        libs = _LIBS_LEGACY if legacy else _LIBS_TOP_DOWN
        regions += [Region(mmap_base + o, mmap_base + o + n, k, name) for o, n, k, name in libs]
        regions.append(Region(user_space - _STACK, user_space, "stack", "stack"))
        return cls(user_space, tuple(sorted(regions, key=lambda r: r.start)), image + _PROGRAM[-1][1],
                   mmap_base, legacy_base, legacy)

    @classmethod
    def from_maps(cls, maps: str, start_brk: int, user_space: int = USER_SPACE_64,
                  legacy: bool = False, mmap_min_addr: int = MMAP_MIN_ADDR) -> "Layout32":
        """The layout a real process's /proc/self/maps shows before its first malloc.

        The kernel's random shift is read back from the libraries: top-down, the highest mapping
        below the stack ends at mmap_base (the dynamic loader, mapped first); legacy, the lowest
        library starts at legacy_base. The other base follows from the same shift.

        >>> text = '''56555000-5656a000 rw-p 00000000 00:00 0    /bin/x
        ... f7d89000-f7ffe000 r-xp 00000000 00:00 0    /lib/libc.so.6
        ... fffdd000-ffffe000 rw-p 00000000 00:00 0    [stack]'''
        >>> lay = Layout32.from_maps(text, 0x5656a000)
        >>> lay == Layout32.from_maps(text, 0x5656a000), hex(lay.mmap_base), hex(lay.legacy_base)
        (True, '0xf7ffe000', '0x55555000')
        """
        regions = parse_maps(maps)
        if not any(r.kind == "stack" for r in regions):
            raise ValueError("the maps show no [stack]: not a process's /proc/self/maps")
        if legacy:
            legacy_base = min(r.start for r in regions if r.kind == "library")
            mmap_base = legacy_base
        else:
            mmap_base = max(r.end for r in regions if r.kind != "stack")
            shift = user_space - MMAP_GAP - mmap_base
            legacy_base = _legacy_base(user_space, shift)
        return cls(user_space, regions, start_brk, mmap_base, legacy_base, legacy, mmap_min_addr)

    @property
    def floor(self) -> int:
        """The lowest address a mapping may start at."""
        return max(PAGE, self.mmap_min_addr)


def parse_maps(text: str) -> tuple[Region, ...]:
    """/proc/PID/maps text as Regions: neighbouring lines of one file or kind joined.

    Named by the path or bracketed name: [stack], [heap], shared objects (libraries, with
    [vdso], [vvar] and anonymous mappings among or after them) and the program (the other
    file, with the anonymous mappings that follow it directly).

    >>> [(r.kind, r.name) for r in parse_maps('''56555000-56556000 r--p 0 0:0 0 /bin/x
    ... 56556000-56557000 rw-p 0 0:0 0
    ... f7f00000-f7f10000 r-xp 0 0:0 0 /lib/libc.so.6
    ... fffdd000-ffffe000 rw-p 0 0:0 0 [stack]''')]
    [('program', 'x'), ('library', 'libc.so.6'), ('stack', 'stack')]
    """
    out: list[Region] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        m = _MAPS_LINE.match(raw.strip())
        if not m:
            raise ValueError(f"maps line {number} is not START-END PERMS OFFSET DEV INODE [PATH]: {raw!r}")
        start, end, path = int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip()
        name = path.rsplit("/", 1)[-1].strip("[]") if path else ""
        if path == "[stack]":
            kind = "stack"
        elif path == "[heap]":
            kind = "heap"
        elif ".so" in name or path.startswith("[v"):
            kind = "library"
        elif path:
            kind = "program"
        else:          # anonymous: part of whatever it follows directly, else a mapping of its own
            kind = out[-1].kind if out and out[-1].end == start else "mmap"
            name = out[-1].name if out and out[-1].end == start else "anonymous"
        if out and out[-1].end == start and out[-1].kind == kind and (out[-1].name == name or not path):
            out[-1] = Region(out[-1].start, end, kind, out[-1].name)
        else:
            out.append(Region(start, end, kind, name))
    return tuple(out)
