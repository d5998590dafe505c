"""A student's trace replayed on the model, one operation at a time, with what each one did."""

from __future__ import annotations

from dataclasses import dataclass

from memlab.errors import MemlabError
from memlab.glibc import DEFAULT_RELEASE, Malloc
from memlab.replay import Replayer
from memlab.snapshot import Snapshot
from memlab.trace import Op, parse_trace

__all__ = ["Attempt", "attempt"]

#: The snapshot of a process that has run nothing yet.
EMPTY = Snapshot(0, "", *[0] * 11)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What a trace did on the model: the operations, the state after each, how each was served.

    `error` is empty when every line parsed and ran; otherwise it is the one-line reason
    (a trace line that does not parse, or misuse glibc would abort on), and the
    operations before it are kept.

    >>> a = attempt("a 0 200000\\na 1 100\\nf 0")
    >>> a.paths, a.after[0].hblks, a.end.hblks, a.error
    (('mmap', 'top', 'munmap'), 1, 0, '')
    >>> attempt("a 0 1\\nq 2").error
    "line 2: unknown operation 'q'..."
    """

    ops: tuple[Op, ...]
    after: tuple[Snapshot, ...]
    paths: tuple[str, ...]
    error: str

    @property
    def end(self) -> Snapshot:
        """The state after the last operation that ran (an empty process when none did)."""
        return self.after[-1] if self.after else EMPTY

    def kinds(self) -> tuple[str, ...]:
        """The kind of each operation that ran, in order.

        >>> attempt("o M_TOP_PAD 0\\na 0 1\\ns here").kinds()
        ('mallopt', 'malloc')
        """
        return tuple(op.kind for op in self.ops)

    def nth(self, kind: str, n: int) -> int | None:
        """The index in `ops` of the n-th (from 1) operation of `kind`, or None.

        >>> attempt("a 0 1\\nf 0\\na 1 1").nth("malloc", 2)
        2
        """
        seen = 0
        for i, op in enumerate(self.ops):
            seen += op.kind == kind
            if op.kind == kind and seen == n:
                return i
        return None


def attempt(trace: object, glibc: str = DEFAULT_RELEASE) -> Attempt:
    """Replay `trace` (trace text, as a student writes it) on a fresh model of `glibc`.

    A trace that is not text, does not parse, or misuses the heap gives an Attempt whose
    `error` says why; nothing is raised, so a grader can score it and go on.

    >>> attempt(...).error
    'the answer must be a trace: text with one operation per line (got Ellipsis)'
    >>> attempt("a 0 16\\nf 0\\nf 0").error      # a trace frees IDs: the 2nd free is free(NULL)
    ''
    """
    if not isinstance(trace, str):
        return Attempt((), (), (), "the answer must be a trace: text with one operation per "
                                   f"line (got {trace!r})"[:200])
    try:
        entries = parse_trace(trace)
    except (MemlabError, ValueError) as e:
        return Attempt((), (), (), str(e))
    malloc = Malloc(glibc=glibc)
    replayer = Replayer(entries, malloc)
    ops: list[Op] = []
    after: list[Snapshot] = []
    paths: list[str] = []
    error = ""
    while True:
        op = replayer.peek()
        if op is None:
            break
        try:
            replayer.step()
        except MemlabError as e:
            error = f"operation {len(ops) + 1} ({op}): {e}"
            break
        ops.append(op)
        after.append(Snapshot.from_model(len(ops), "", malloc))
        paths.append(malloc.last_note.path if op.kind not in ("write", "snapshot") else "")
    return Attempt(tuple(ops), tuple(after), tuple(paths), error)
