"""Hold a scenario's model replay against the same trace run on this machine's real glibc."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from memlab.errors import MemlabError
from memlab.glibc import DEFAULT_RELEASE
from memlab import native
from memlab.scenarios.catalog import Scenario
from memlab.scenarios.report import FIELDS, run_scenario
from memlab.trace import parse_trace

__all__ = ["Comparison", "compare_real"]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Model and real snapshots side by side: rows of (label, field, model value, real value).

    ``error`` says why the real side is missing (no C compiler, say); rows are then empty.

    >>> c = Comparison("reserve", (("n", 10),), "2.36", "2.39",
    ...                (("end", "arena", 135168, 135168), ("end", "rss", 4096, 8192)), None)
    >>> c.matches, c.differences
    (False, (('end', 'rss', 4096, 8192),))
    """

    scenario: str
    values: tuple[tuple[str, int], ...]
    model_glibc: str
    real_glibc: str
    rows: tuple[tuple[str, str, int, int], ...]
    error: str | None

    @property
    def differences(self) -> tuple[tuple[str, str, int, int], ...]:
        """The rows where the model and the real glibc disagree."""
        return tuple(r for r in self.rows if r[2] != r[3])

    @property
    def matches(self) -> bool:
        """True when the real side ran and every compared number agrees."""
        return self.error is None and not self.differences

    @property
    def verdict(self) -> str:
        """One line: whether model and real agree, and on which releases.

        >>> Comparison("reserve", (("n", 10),), "2.36", "2.36", (("end", "rss", 1, 1),), None).verdict
        'reserve n=10: every number agrees (model: glibc 2.36; real: glibc 2.36)'
        """
        config = " ".join(f"{k}={v:,}" for k, v in self.values)
        name = f"{self.scenario} {config}" if config else self.scenario
        if self.error is not None:
            return f"{name}: the real glibc could not be run here ({self.error})"
        agree = ("every number agrees" if not self.differences
                 else f"{len(self.differences)} numbers differ")
        return f"{name}: {agree} (model: glibc {self.model_glibc}; real: glibc {self.real_glibc})"

    def report(self) -> str:
        """A table: one line per snapshot field, the model's number beside the real one."""
        config = " ".join(f"{k}={v:,}" for k, v in self.values)
        if self.error is not None:
            return self.verdict
        head = (f"{self.scenario} {config}\n"
                f"{'snapshot':<14}{'field':<10}{'model ' + self.model_glibc:>16}"
                f"{'real ' + self.real_glibc:>16}")
        lines = [head]
        for label, field, model, real in self.rows:
            mark = "" if model == real else "   <- differs"
            lines.append(f"{label:<14}{field:<10}{model:>16,}{real:>16,}{mark}")
        lines.append(self.verdict)
        return "\n".join(lines)


def compare_real(scenario: Scenario, settings: Mapping[str, int] | None = None,
                 fields: tuple[str, ...] = FIELDS, libc_dir: str | None = None,
                 **values: int) -> Comparison:
    """Replay ``scenario`` on the model and on the real glibc; compare every snapshot.

    ``libc_dir`` runs the real side on another unpacked glibc release (see
    ``memlab.native.glibc_releases.ensure_release``) instead of the machine's own.

    >>> from memlab.scenarios import RESERVE
    >>> c = compare_real(RESERVE, n=1000)      # without a C compiler, c.error says so
    >>> c.error is not None or c.rows[0][:2] == ("built", "brk")
    True
    """
    settings = dict(settings or {})
    values = scenario.values(**values)
    model = run_scenario(scenario, settings, **values)
    ops = parse_trace("".join(f"o {k} {v}\n" for k, v in settings.items())
                      + scenario.text(**values))
    try:
        real = native.replay_native(ops, libc_dir=libc_dir)
        release = native.glibc_version(libc_dir)
    except (MemlabError, OSError) as exc:
        return Comparison(scenario.name, tuple(values.items()), DEFAULT_RELEASE, "?", (), str(exc))
    rows = []
    for (label, snap), got in zip(model.snapshots, real):
        rows += [(label, f, snap[f], got[f]) for f in fields]
    return Comparison(scenario.name, tuple(values.items()), DEFAULT_RELEASE, release, tuple(rows),
                      None)
