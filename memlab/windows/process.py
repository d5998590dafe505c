"""A 32-bit Windows process as documented: images, a stack, the process heap, private heaps.

At start the program's and the DLLs' images sit at their base addresses, then the main thread's
stack (1 MiB) and the process heap's first segment are reserved bottom-up. The program calls
VirtualAlloc and VirtualFree, HeapCreate, HeapAlloc, HeapFree and HeapDestroy; the views say how
much address space is free in total and the longest free range, which is what a big request
needs. This models the behaviour Microsoft documents, not Microsoft's code.

>>> from memlab.units import MiB
>>> p = Process()
>>> m = p.view()
>>> m.free_total // MiB            # 2,048 MiB - 2 guards of 64 KiB - images 54 - stack 1 - heap 1
1991
>>> (0x7500_0000 - 0x1040_0000) // MiB == m.largest_free // MiB   # app.dll's end to the system DLLs
True
>>> buf = p.virtual_alloc(1700 * MiB)
>>> buf is None                            # 2 GiB minus the images: no 1,700 MiB range
True
>>> Process("4 GiB").virtual_alloc(1700 * MiB) is not None
True
"""

from __future__ import annotations

from memlab.windows.facts import DEFAULT_IMAGES, STACK_RESERVE, USER_SPACE, Image
from memlab.windows.heap import Heap
from memlab.windows.space import Space, WinApiError
from memlab.windows.views import AddressMap

__all__ = ["Process"]


class Process:
    """One 32-bit Windows process (``user_space``: "2 GiB", "3 GiB", "4 GiB" or "64-bit")."""

    def __init__(self, user_space: str = "2 GiB", images: tuple[Image, ...] = DEFAULT_IMAGES) -> None:
        if user_space not in USER_SPACE:
            raise WinApiError(f"user space {user_space!r}: choose one of {', '.join(USER_SPACE)}")
        self.user_space = user_space
        self._space = Space(USER_SPACE[user_space])
        for image in images:
            if self._space.reserve(image.size, "image", image.name, address=image.base) is None:
                raise WinApiError(f"image {image.name} at {image.base:#x} does not fit")
            self._space.commit(image.base, image.size)
        stack = self._space.reserve(STACK_RESERVE, "stack", "main thread")
        self._space.commit(stack, 16 * 1024)
        self._heaps: list[Heap] = []
        self.process_heap = self._new_heap("process heap")
        self._virtual: set[int] = set()

    # --- VirtualAlloc -----------------------------------------------------------------------
    def virtual_alloc(self, size: int, commit: bool = True) -> int | None:
        """VirtualAlloc(NULL, size, MEM_RESERVE[|MEM_COMMIT]): the base, or None (no room)."""
        base = self._space.reserve(size, "virtual", "program")
        if base is not None:
            self._virtual.add(base)
            if commit:
                self._space.commit(base, size)
        return base

    def virtual_free(self, base: int) -> None:
        """VirtualFree(base, 0, MEM_RELEASE) of a region the program reserved itself."""
        if base not in self._virtual:
            raise WinApiError(f"VirtualFree: {base:#x} is not the base of a region from VirtualAlloc")
        self._virtual.discard(base)
        self._space.release(base)

    # --- heaps ------------------------------------------------------------------------------
    def heap_create(self, initial: int = 0, name: str | None = None) -> Heap | None:
        """HeapCreate(0, initial, 0): a growable private heap, or None (no room)."""
        try:
            return self._new_heap(name or f"heap {len(self._heaps)}", initial)
        except WinApiError:
            return None

    def heap_destroy(self, heap: Heap) -> None:
        """HeapDestroy: every segment and big block of a private heap goes back at once."""
        if heap is self.process_heap:
            raise WinApiError("HeapDestroy: the process heap cannot be destroyed")
        if heap not in self._heaps:
            raise WinApiError(f"HeapDestroy: {heap.name!r} is not a live heap of this process")
        self._heaps.remove(heap)
        heap._release()

    def _new_heap(self, name: str, initial: int = 0) -> Heap:
        heap = Heap(self._space, name, initial)
        self._heaps.append(heap)
        return heap

    # --- views ------------------------------------------------------------------------------
    @property
    def heaps(self) -> tuple[Heap, ...]:
        return tuple(self._heaps)

    def view(self) -> AddressMap:
        """The address space now: regions, free ranges, and the bytes free inside the heaps."""
        return self._space.view(sum(h.free_inside for h in self._heaps))
