"""The documented numbers of a 32-bit Windows process that the model reads (one definition each).

Sources are listed in docs/windows-heap.md. Where Microsoft documents no number (the size of a
heap's next segment) the value is the model's choice and says so.

>>> GRANULARITY // KiB, PAGE // KiB, USER_SPACE["2 GiB"] == 2 * GiB
(64, 4, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.units import GiB, KiB, MiB

__all__ = ["PAGE", "GRANULARITY", "USER_SPACE", "LOW_GUARD", "HIGH_GUARD", "BLOCK_ALIGN",
           "BLOCK_HEADER", "LARGE_BLOCK", "LARGE_HEADER", "SEGMENT_RESERVE", "STACK_RESERVE",
           "Image", "DEFAULT_IMAGES", "EXE_BASE", "DLL_BASE"]

#: A page: the unit VirtualAlloc commits in (x86).
PAGE = 4 * KiB
#: The allocation granularity: every reservation starts at a multiple of 64 KiB.
GRANULARITY = 64 * KiB
#: A process's user address space: 2 GiB by default on 32-bit Windows; 3 GiB for a program linked
#: /LARGEADDRESSAWARE on 32-bit Windows booted with increaseuserva; 4 GiB for such a program on
#: 64-bit Windows; 128 TiB for a 64-bit program (Windows 8.1 and later).
USER_SPACE = {"2 GiB": 2 * GiB, "3 GiB": 3 * GiB, "4 GiB": 4 * GiB, "64-bit": 128 * 1024 * GiB}
#: The lowest and the highest 64 KiB of the user space are never handed out.
LOW_GUARD = 64 * KiB
HIGH_GUARD = 64 * KiB
#: HeapAlloc aligns blocks to 8 bytes in a 32-bit process (MEMORY_ALLOCATION_ALIGNMENT).
BLOCK_ALIGN = 8
#: Each heap block carries an 8-byte header in front of it (the model's choice, as on x86).
BLOCK_HEADER = 8
#: A growable heap hands a block bigger than this (header included) to VirtualAlloc: the limit
#: documented as "slightly less than 512 KB" for a 32-bit process (0x7F000 bytes).
LARGE_BLOCK = 508 * KiB
#: The header in front of a block that has its own VirtualAlloc region (the model's choice).
LARGE_HEADER = 32
#: A heap's first segment reserves 1 MiB (the linker's documented default heap reserve); each
#: further segment reserves twice the previous one, less when that does not fit (the model's
#: choice: Microsoft documents no growth rule).
SEGMENT_RESERVE = 1 * MiB
#: The main thread's stack reserve (the linker's documented default).
STACK_RESERVE = 1 * MiB
#: The linker's default base addresses of a 32-bit program and of a 32-bit DLL.
EXE_BASE = 0x0040_0000
DLL_BASE = 0x1000_0000


@dataclass(frozen=True, slots=True)
class Image:
    """A program or DLL image mapped at a fixed address.

    >>> Image("app.exe", EXE_BASE, 2 * MiB).end == 0x0060_0000
    True
    """

    name: str
    base: int
    size: int

    @property
    def end(self) -> int:
        return self.base + self.size


#: The images of the model's example process: the program and one DLL at the linker's default
#: bases, and system DLLs high in the 2 GiB space (where they sit is the model's choice).
DEFAULT_IMAGES = (
    Image("app.exe", EXE_BASE, 2 * MiB),
    Image("app.dll", DLL_BASE, 4 * MiB),
    Image("system DLLs", 0x7500_0000, 48 * MiB),
)
