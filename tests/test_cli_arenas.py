"""`replay --arenas` and `compare --arenas`: glibc's per-arena detail on the command line, both sides."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

import memlab.cli as cli
from memlab.cli import main
from memlab.snapshot import FIELDS, Snapshot

ROOT = Path(__file__).parent.parent

#: Three threads, each in its own arena; blocks freed on other threads than their own; a
#: thread that exits (its arena goes on the free list) and is joined; a large block.
THREADED = """\
n 1
n 2
n 3
T 1
a 0 100
a 3 70000
T 2
a 1 200
f 0
s two
T 3
a 2 5000
f 1
x 3
T 0
a 4 40
f 2
j 3
s end
"""


def run(*args) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(map(str, args)), out), out.getvalue()


@pytest.fixture
def threaded(tmp_path) -> Path:
    path = tmp_path / "threads.trace"
    path.write_text(THREADED)
    return path


def test_model_json_is_the_real_replayers_line_for_line(threaded, real_glibc):
    """The model's `replay --arenas --json` prints exactly what the real replayer prints."""
    status, real = run("replay", threaded, "--native", "--arenas", "--json", "--every", "2")
    assert status == 0
    lines = real.splitlines()
    assert len(lines) == 10
    assert all(list(json.loads(line))[-1] == "arenas" for line in lines)
    assert len(json.loads(lines[-1])["arenas"]) == 4        # main and three threads' arenas
    status, model = run("replay", threaded, "--arenas", "--json", "--every", "2", "--glibc", real_glibc)
    assert (status, model.splitlines()) == (0, lines)


def test_compare_agrees_on_the_arenas(threaded, real_glibc):
    status, out = run("compare", threaded, "--arenas", "--every", "1")
    assert status == 0 and out.splitlines()[-1] == "AGREE: all 17 snapshots are identical"
    assert out.splitlines()[1].split()[-1] == "arenas"


def test_single_threaded_has_one_arena_the_snapshots_own(tmp_path, real_glibc):
    """One arena: its pair is the snapshot's (arena, uordblks), on both sides."""
    path = tmp_path / "one.trace"
    path.write_text("a 0 1\na 1 200000\ns two\nf 0\n")
    status, out = run("replay", path, "--native", "--arenas", "--json")
    real = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and all(s["arenas"] == [[s["arena"], s["uordblks"]]] for s in real)
    assert run("replay", path, "--arenas", "--json", "--glibc", real_glibc)[1] == out
    assert run("compare", path, "--arenas")[0] == 0


def test_a_difference_in_the_arenas_names_the_arena(threaded, monkeypatch, real_glibc):
    real = cli._native_snapshots

    def shifted(data, every, libc_dir=None, arch="x86-64", arenas=False):
        snaps = list(real(data, every, libc_dir, arch, arenas))
        last = snaps[-1]
        moved = list(last.arenas)
        moved[2] = (moved[2][0], moved[2][1] + 16)
        return snaps[:-1] + [last.with_arenas(moved)]

    monkeypatch.setattr(cli, "_native_snapshots", shifted)
    truth = real(THREADED.encode(), None, arenas=True)
    pair = list(truth)[-1].arenas[2]
    status, out = run("compare", threaded, "--arenas")
    assert status == 1
    assert out.splitlines()[-1] == (f"DIFFER at the snapshot after op 17 (label 'end'): arena 2 (system bytes, "
                                    f"in-use bytes) is {pair!r} in the model, {(pair[0], pair[1] + 16)!r} "
                                    f"on the real glibc")


def test_without_arenas_nothing_changes(threaded, real_glibc):
    status, out = run("replay", threaded, "--native", "--json")
    assert status == 0 and all(list(json.loads(line)) == list(FIELDS) for line in out.splitlines())
    assert run("replay", threaded)[1].splitlines()[1].split()[-1] == "rss"


@pytest.mark.parametrize("args, words", [
    (("replay", "--native", "--allocator", "jemalloc"), "replay --arenas lists glibc's arenas; jemalloc"),
    (("compare", "--allocator", "mimalloc"), "compare holds memlab's model of glibc against the real glibc"),
])
def test_refused_in_one_line(threaded, capsys, args, words):
    assert run(*args, threaded, "--arenas") == (2, "")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"memlab: {words}")


def test_i386_model_json_is_the_real_i386_replayers_and_compare_agrees(threaded, glibc_i386):
    """Both sides list the arenas of glibc 2.36 for i386 too: the same lines, and AGREE."""
    status, real = run("replay", threaded, "--native", "--arch", "i386", "--arenas", "--json")
    assert status == 0 and '"arenas": [[' in real
    assert run("replay", threaded, "--arch", "i386", "--arenas", "--json") == (0, real)
    status, out = run("compare", threaded, "--arch", "i386", "--arenas")
    assert status == 0 and "AGREE" in out


def test_the_documented_pairs_are_the_real_glibcs(tmp_path, glibc_236):
    """docs/trace-format.md's example of the arenas key: the real replayer's end snapshot."""
    text = (ROOT / "docs" / "trace-format.md").read_text()
    found = re.search(r"For `n 1`, `T 1`, `a 0 1`, the end snapshot ends in\s+`(\"arenas\": [^`]+)`", text)
    assert found
    path = tmp_path / "t.trace"
    path.write_text("n 1\nT 1\na 0 1\n")
    status, out = run("replay", path, "--native", "--arenas", "--json")
    assert status == 0 and out.rstrip("\n").endswith(found.group(1) + "}")


def test_snapshot_reads_and_compares_arenas():
    s = Snapshot(1, "x", *[0] * 11)
    t = Snapshot.from_json(s.with_arenas([[1, 2]]).to_json())
    assert t.arenas == ((1, 2),) and t == s.with_arenas(((1, 2),)) and hash(t) == hash(s.with_arenas(((1, 2),)))
    assert s.first_difference(t) == ("arenas", None, 1)
    assert t.with_arenas(((1, 2), (3, 4))).first_difference(t) == ("arenas", 2, 1)
    with pytest.raises(ValueError):
        s.with_arenas([[1, "2"]])
