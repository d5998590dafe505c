"""Tests of memlab.snapshot: the Snapshot record and its JSON line."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pytest

from memlab.snapshot import ARENAS, COUNTERS, FIELDS, Snapshot

EXAMPLE = ('{"op": 1, "label": "first", "brk": 135168, "arena": 135168, "ordblks": 1, "smblks": 0, '
           '"hblks": 0, "hblkhd": 0, "fsmblks": 0, "uordblks": 688, "fordblks": 134480, '
           '"keepcost": 134480, "rss": 4096}')


class TestSnapshot:
    def test_fields_are_the_json_keys_in_order(self):
        """The dataclass fields are exactly docs/trace-format.md's keys, in order, then the optional arenas."""
        assert tuple(f.name for f in dataclasses.fields(Snapshot)) == (*FIELDS, ARENAS)
        assert COUNTERS == FIELDS[2:]

    def test_example_line_round_trips(self):
        """The format's example line is read and written back byte for byte."""
        s = Snapshot.from_json(EXAMPLE)
        assert (s.op, s.label, s.uordblks, s.rss) == (1, "first", 688, 4096)
        assert s.to_json() == EXAMPLE

    def test_json_matches_json_dumps_for_any_label(self):
        """to_json is json.dumps of the dict, so escapes follow Python's."""
        s = Snapshot(3, 'a "q" \\ \t é \U0001d11e', *range(11))
        assert s.to_json() == json.dumps(s.as_dict())
        assert Snapshot.from_json(s.to_json()) == s

    @pytest.mark.parametrize("line", ["[]", "{", '{"op": 1}', EXAMPLE.replace('"rss"', '"RSS"'),
                                      EXAMPLE[:-1] + ', "usmblks": 0}'])
    def test_bad_lines_are_refused(self, line):
        """Lines that are not exactly a snapshot object raise ValueError."""
        with pytest.raises(ValueError):
            Snapshot.from_json(line)

    def test_bad_values_are_refused(self):
        """Non-int counters, non-str labels and negative op counts are refused."""
        with pytest.raises(ValueError):
            Snapshot(1, "", 0.5, *[0] * 10)
        with pytest.raises(ValueError):
            Snapshot(1, None, *[0] * 11)
        with pytest.raises(ValueError):
            Snapshot(-1, "", *[0] * 11)

    def test_from_model_reads_mallinfo2_and_the_space(self):
        """brk is the break's distance from the initial break; rss is the space's resident bytes."""
        info = SimpleNamespace(arena=10, ordblks=1, smblks=2, hblks=3, hblkhd=4, usmblks=0, fsmblks=5,
                               uordblks=6, fordblks=7, keepcost=8)
        space = SimpleNamespace(brk=0x10000 + 4096, heap_start=0x10000, rss=8192)
        model = SimpleNamespace(mallinfo2=lambda: info, space=space)
        s = Snapshot.from_model(7, "x", model)
        assert s == Snapshot(7, "x", 4096, 10, 1, 2, 3, 4, 5, 6, 7, 8, 8192)

    def test_first_difference(self):
        """first_difference names the first differing key in JSON order, or None."""
        a = Snapshot.from_json(EXAMPLE)
        assert a.first_difference(a) is None
        b = dataclasses.replace(a, fordblks=1, rss=0)
        assert a.first_difference(b) == ("fordblks", 134480, 1)
