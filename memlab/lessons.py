"""The lessons in order, each with the question it answers: lesson 00's list and every "next" link.

A new lesson adds one ``Lesson`` to ``LESSONS``; lesson 00 lists it and the lesson before links
to it (the tests check that every notebook ends with ``next_link`` of its number).
"""

from __future__ import annotations

from dataclasses import dataclass

from IPython.display import Markdown

__all__ = ["Lesson", "LESSONS", "lesson", "next_link", "index_markdown", "lesson_index"]


@dataclass(frozen=True, slots=True)
class Lesson:
    """One lesson notebook: its number, file name, title and the question it answers.

    >>> LESSONS[0].file
    '00_start_here.ipynb'
    """

    number: str
    file: str
    title: str
    answers: str


LESSONS = (
    Lesson("00", "00_start_here.ipynb", "Start here",
           "How do I work through a lesson, and what in memlab is simulated or real?"),
    Lesson("01", "01_why_allocators.ipynb", "Why allocators exist",
           "Why does a program not ask the kernel for every small block it needs?"),
    Lesson("02", "02_two_sources.ipynb", "Two sources of memory",
           "When does malloc use the brk heap, when a mapping, and which frees give memory back?"),
    Lesson("03", "03_vector_of_vectors.ipynb", "The vector of vectors",
           "Why does a program that destroyed a million tiny vectors still hold their memory?"),
    Lesson("04", "04_overcommit.ipynb", "Asking for more than the machine has",
           "Why does one malloc of 100 GiB fail while a block grown to 100 GiB succeeds?"),
    Lesson("05", "05_what_top_shows.ipynb", "What top shows",
           "What do top's VIRT, RES and SWAP count, and why does RES stay up after a free?"),
    Lesson("06", "06_locked_in.ipynb", "Locked in",
           "Why does one small live block keep megabytes of freed memory, and what frees it?"),
    Lesson("07", "07_finding_a_chunk.ipynb", "How an allocator finds a free chunk",
           "Does malloc search a free list or a tree, and what do jemalloc, tcmalloc and mimalloc "
           "do instead?"),
    Lesson("08", "08_your_own_allocator.ipynb", "Your own allocator",
           "What does a free list per type save and cost, and which unfreed blocks are leaks?"),
    Lesson("09", "09_out_of_address_space.ipynb", "Running out of address space",
           "Why does a 32-bit program's big allocation fail while far more memory is free?"),
)


def lesson(number: str) -> Lesson:
    """The lesson numbered ``number`` ("02").

    >>> lesson("02").title
    'Two sources of memory'
    """
    for item in LESSONS:
        if item.number == number:
            return item
    raise ValueError(f"no lesson {number!r}; lessons: {', '.join(x.number for x in LESSONS)}")


def _link(item: Lesson) -> str:
    return f"[{item.number} · {item.title}]({item.file})"


def next_link(number: str) -> str:
    """The Markdown cell that ends lesson ``number``: a link to the next lesson.

    >>> print(next_link("00"))
    **Next:** [01 · Why allocators exist](01_why_allocators.ipynb)
    <BLANKLINE>
    Why does a program not ask the kernel for every small block it needs?
    """
    items = list(LESSONS)
    here = items.index(lesson(number))
    if here + 1 == len(items):
        return "**Next:** this is the last lesson for now; lesson 00 lists them all."
    after = items[here + 1]
    return f"**Next:** {_link(after)}\n\n{after.answers}"


def index_markdown() -> str:
    """Every lesson as a Markdown list: a link and the question it answers.

    >>> index_markdown().splitlines()[1]
    '- [01 · Why allocators exist](01_why_allocators.ipynb): Why does a program not ask the kernel for every small block it needs?'
    """
    return "\n".join(f"- {_link(item)}: {item.answers}" for item in LESSONS)


def lesson_index():
    """The lesson list for a notebook (an IPython Markdown object)."""
    return Markdown(index_markdown())
