"""One scenario replayed on several glibc releases of the model: the final numbers side by side."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Mapping

from memlab.glibc import DEFAULT_RELEASE, RELEASES, Malloc
from memlab.scenarios.catalog import Scenario
from memlab.steps import run_steps, steps_from_ops
from memlab.trace import parse_trace

__all__ = [
    "FIELDS", "PLACES", "ReleaseEnd", "ReleaseComparison", "modelled", "bracket", "release_note",
    "compare_releases",
]

FIELDS = ("brk", "uordblks", "fordblks", "ordblks", "smblks", "rss")
"""The snapshot fields compared (brk counted from the heap's start), in table order."""

PLACES = ("tcache", "fastbin", "bins")
"""Where a freed chunk can wait at the end (besides top): tcache, a fastbin, another bin."""

_LABELS = {
    "brk": "heap size (brk)",
    "uordblks": "counted in use (uordblks)",
    "fordblks": "counted free (fordblks)",
    "ordblks": "free chunks in bins + top (ordblks)",
    "smblks": "chunks in fastbins (smblks)",
    "rss": "resident (rss)",
    "tcache": "freed chunks waiting in tcache",
    "fastbin": "freed chunks waiting in fastbins",
    "bins": "free chunks in the other bins",
    "largest": "largest free chunk below top, bytes",
}


@dataclass(frozen=True, slots=True)
class ReleaseEnd:
    """A scenario's end on one release (after its last operation), and where free chunks wait.

    ``fields`` are (name, value) pairs of ``FIELDS``; ``waiting`` counts free chunks per place of
    ``PLACES``; ``largest`` is the largest free chunk other than top (0 if none).

    >>> e = ReleaseEnd("2.36", (("brk", 135168), ("smblks", 3)), (("tcache", 7),), 0)
    >>> e["brk"], e["smblks"], e.chunks("tcache"), e.chunks("fastbin")
    (135168, 3, 7, 0)
    """

    release: str
    fields: tuple[tuple[str, int], ...]
    waiting: tuple[tuple[str, int], ...]
    largest: int

    def __getitem__(self, name: str) -> int:
        for key, value in self.fields:
            if key == name:
                return value
        raise KeyError(f"no field {name!r}; have {[k for k, _ in self.fields]}")

    def chunks(self, place: str) -> int:
        """Free chunks waiting in ``place`` (one of PLACES) at the end."""
        if place not in PLACES:
            raise ValueError(f"place must be one of {PLACES}, got {place!r}")
        return dict(self.waiting).get(place, 0)


@dataclass(frozen=True, slots=True)
class ReleaseComparison:
    """The same scenario's end on several releases (``ends``, in the order asked for).

    ``missing`` names the releases asked for that the model does not have (skipped).

    >>> c = ReleaseComparison("one", (), (ReleaseEnd("2.36", (("uordblks", 688),), (), 0),
    ...                                   ReleaseEnd("9.9", (("uordblks", 32),), (), 0)), ())
    >>> c.releases, c.value("9.9", "uordblks"), c.differences
    (('2.36', '9.9'), 32, ('uordblks',))
    """

    scenario: str
    values: tuple[tuple[str, int], ...]
    ends: tuple[ReleaseEnd, ...]
    missing: tuple[str, ...]

    @property
    def releases(self) -> tuple[str, ...]:
        """The releases replayed, in order."""
        return tuple(e.release for e in self.ends)

    def end(self, release: str) -> ReleaseEnd:
        """The end of the replay on ``release``."""
        for e in self.ends:
            if e.release == release:
                return e
        raise KeyError(f"release {release!r} was not replayed; have {self.releases}")

    def value(self, release: str, name: str) -> int:
        """A snapshot field (FIELDS) or a place (PLACES) or 'largest' on ``release``."""
        e = self.end(release)
        if name in PLACES:
            return e.chunks(name)
        return e.largest if name == "largest" else e[name]

    @property
    def differences(self) -> tuple[str, ...]:
        """The rows (fields, places, 'largest') whose values are not the same on every release."""
        rows = [k for k, _ in self.ends[0].fields] + list(PLACES) + ["largest"] if self.ends else []
        return tuple(r for r in rows if len({self.value(rel, r) for rel in self.releases}) > 1)

    def report(self) -> str:
        """A table: one row per number, one column per release; then the releases skipped.

        >>> c = ReleaseComparison("one", (("n", 1),),
        ...     (ReleaseEnd("2.36", (("uordblks", 688),), (("tcache", 0),), 0),), ("2.43",))
        >>> print(c.report())
        one n=1, at the end, on the glibc model of each release
                                                      2.36
        counted in use (uordblks)                      688
        freed chunks waiting in tcache                   0
        freed chunks waiting in fastbins                 0
        free chunks in the other bins                    0
        largest free chunk below top, bytes              0
        not modelled here (yet): glibc 2.43
        """
        config = " ".join(f"{k}={v:,}" for k, v in self.values)
        lines = [f"{self.scenario} {config}".rstrip()
                 + ", at the end, on the glibc model of each release"]
        lines.append(f"{'':<40}" + "".join(f"{r:>12}" for r in self.releases))
        rows = [k for k, _ in self.ends[0].fields] + list(PLACES) + ["largest"] if self.ends else []
        for row in rows:
            lines.append(f"{_LABELS.get(row, row):<40}"
                         + "".join(f"{self.value(r, row):>12,}" for r in self.releases))
        if self.missing:
            lines.append(f"not modelled here (yet): glibc {', '.join(self.missing)}")
        return "\n".join(lines)


def modelled(releases=None) -> tuple[str, ...]:
    """The releases the model has (``memlab.glibc.release.RELEASES``), or those of ``releases``
    that it has, in the order given.

    >>> modelled(("2.36", "1.0"))
    ('2.36',)
    """
    if releases is None:
        return tuple(RELEASES)
    return tuple(r for r in releases if r in RELEASES)


def _version(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        raise ValueError(f"a glibc release looks like '2.39', got {name!r}") from None


def bracket(version: str, releases=None) -> tuple[str | None, str | None]:
    """The modelled releases nearest to ``version``: the newest at or below it and the oldest
    at or above it (None where the model has none on that side).

    >>> bracket("2.39", ("2.36", "2.41", "2.43")), bracket("2.36", ("2.36",))
    (('2.36', '2.41'), ('2.36', '2.36'))
    >>> bracket("2.35", ("2.36",))
    (None, '2.36')
    """
    have = sorted(modelled() if releases is None else releases, key=_version)
    v = _version(version)
    below = [r for r in have if _version(r) <= v]
    above = [r for r in have if _version(r) >= v]
    return (below[-1] if below else None, above[0] if above else None)


def release_note(version: str, releases=None) -> str:
    """One sentence: which of the model's release profiles fits a real glibc ``version``.

    >>> release_note("2.39", ("2.36", "2.41"))
    'glibc 2.39 has no profile of its own; the profiles 2.36 and 2.41 bracket it.'
    >>> release_note("2.36", ("2.36",))
    'glibc 2.36: the model has a profile of this very release.'
    >>> release_note("2.39", ("2.36",))
    'glibc 2.39 has no profile of its own; the nearest the model has is 2.36 (older).'
    """
    below, above = bracket(version, releases)
    if below is not None and below == above:
        return f"glibc {version}: the model has a profile of this very release."
    head = f"glibc {version} has no profile of its own; "
    if below and above:
        return head + f"the profiles {below} and {above} bracket it."
    if below or above:
        return head + f"the nearest the model has is {below or above} " \
                      f"({'older' if below else 'newer'})."
    return head + "the model has no profiles at all."


def _end(scenario: Scenario, release: str, values: Mapping[str, int],
         settings: Mapping[str, int]) -> ReleaseEnd:
    pre = "".join(f"o {name} {value}\n" for name, value in settings.items())
    m = Malloc(glibc=release)
    run_steps(steps_from_ops(parse_trace(pre + scenario.text(**values))), m)   # bulk steps
    info, space = m.mallinfo2(), m.space
    now = {"brk": space.brk - space.heap_start, "rss": space.rss}
    fields = tuple((f, now[f] if f in now else getattr(info, f)) for f in FIELDS)
    places: Counter = Counter()
    largest = 0
    for chunk in m.chunks():
        if chunk.state in ("in_use", "top"):
            continue
        places[chunk.state if chunk.state in PLACES else "bins"] += 1
        largest = max(largest, chunk.size)
    return ReleaseEnd(release, fields, tuple((p, places[p]) for p in PLACES), largest)


def compare_releases(scenario: Scenario, releases=(DEFAULT_RELEASE, "2.43"), *,
                     settings: Mapping[str, int] | None = None, skip_missing: bool = False,
                     **values: int) -> ReleaseComparison:
    """Replay ``scenario`` with ``values`` on a fresh model of each release; compare the ends.

    A release the model does not have is an error, or with ``skip_missing=True`` is left out
    and named in ``.missing``. Scenario values may exceed the slider's maximum.

    >>> from memlab.scenarios import SMALL_REQUESTS
    >>> c = compare_releases(SMALL_REQUESTS, ("2.36", "0.1"), skip_missing=True, n=10, size=24)
    >>> c.releases, c.missing, c.value("2.36", "tcache"), c.value("2.36", "fastbin")
    (('2.36',), ('0.1',), 7, 3)
    """
    releases = tuple(releases)
    if not releases:
        raise ValueError("releases must name at least one glibc release")
    have = modelled(releases)
    missing = tuple(r for r in releases if r not in have)
    if missing and not skip_missing:
        raise ValueError(f"glibc {', '.join(missing)} not modelled; modelled: "
                         f"{', '.join(modelled())}")
    if not have:
        raise ValueError(f"none of {releases} is modelled; modelled: {', '.join(modelled())}")
    wide = scenario.with_max(**{k: max(v, p.max) for p in scenario.params
                                for k, v in values.items() if k == p.name})
    values = wide.values(**values)
    ends = tuple(_end(wide, r, values, dict(settings or {})) for r in have)
    return ReleaseComparison(scenario.name, tuple(values.items()), ends, missing)
