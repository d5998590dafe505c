"""glibc 2.36 for i386, real: the replayer built with -m32 shows each constant of `memlab.glibc.arch`.

Every expected number comes from the table in memlab/glibc/arch.py (derived from glibc's
source for each architecture); the observed one from the real library. The same checks run on
x86-64, so a figure that does not depend on the word size cannot pass by accident.
"""

import json
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from memlab import cli
from memlab.glibc.arch import ARCHES, I386, X86_64
from memlab.native import replay_native
from memlab.units import KiB

pytestmark = pytest.mark.usefixtures("glibc_236", "glibc_i386")

BOTH = pytest.mark.parametrize("a", list(ARCHES.values()), ids=list(ARCHES))


def run(text: str, a) -> list[dict]:
    return replay_native(text.encode(), arch=a.name)


@BOTH
def test_malloc_one_then_free_gives_the_first_heap_and_uordblks(a):
    first, after = run("a 0 1\ns malloc\nf 0\ns free\n", a)
    for snap in (first, after):
        assert snap["uordblks"] == a.after_malloc_one
        assert snap["arena"] == snap["brk"] == a.first_heap_bytes
    assert (I386.after_malloc_one, I386.first_heap_bytes) == (424, 139264)     # the figures quoted
    assert (X86_64.after_malloc_one, X86_64.first_heap_bytes) == (688, 135168)


@BOTH
def test_chunk_sizes_follow_size_sz_and_minsize(a):
    sizes = [1, a.size_sz * 3, a.size_sz * 3 + 1, 28, 29, 100, 1000, 4000]
    text = "".join(f"a {k} {n}\ns\n" for k, n in enumerate(sizes))
    snaps = run(text, a)
    grown = [later["uordblks"] - earlier["uordblks"] for earlier, later in zip(snaps, snaps[1:])]
    assert grown == [a.request2size(n) for n in sizes[1:]]
    assert snaps[0]["uordblks"] == a.front_padding + a.tcache_chunk_size + a.request2size(1)


@BOTH
@pytest.mark.parametrize("fast", [True, False])
def test_the_fastbin_limit(a, fast):
    """Seven frees fill a tcache bin; the eighth goes to a fastbin only up to max_fast."""
    chunk = a.max_fast if fast else a.max_fast + a.malloc_alignment
    n = chunk - a.size_sz
    assert a.request2size(n) == chunk
    text = "".join(f"a {k} {n}\n" for k in range(8)) + "a 99 1\n" + "".join(f"f {k}\n" for k in range(8))
    end = run(text + "s\n", a)[-1]
    assert end["fsmblks"] == (chunk if fast else 0)
    assert end["smblks"] == (1 if fast else 0)


@BOTH
@pytest.mark.parametrize("over", [False, True])
def test_the_largest_tcache_chunk(a, over):
    """A freed chunk up to tcache_max_chunk stays in tcache (still counted in use); one step
    larger goes to the arena's free lists."""
    chunk = a.tcache_max_chunk + (a.malloc_alignment if over else 0)
    text = f"a 0 {chunk - a.size_sz}\na 1 1\ns\nf 0\ns\n"
    before, after = run(text, a)
    assert before["uordblks"] - after["uordblks"] == (chunk if over else 0)


@BOTH
@pytest.mark.parametrize("above", [False, True])
def test_the_cap_of_the_dynamic_mmap_threshold(a, above):
    """Freeing an mmapped chunk raises the threshold to its size only up to
    DEFAULT_MMAP_THRESHOLD_MAX: then the same request is served from the heap."""
    n = I386.default_mmap_threshold_max - 64
    if above:
        n += 4 * KiB
    length, chunk = a.mmapped(n)
    text = f"a 0 {n}\ns\nf 0\na 1 {n}\ns\n"
    first, second = run(text, a)
    assert (first["hblks"], first["hblkhd"]) == (1, length)
    raised = chunk <= a.default_mmap_threshold_max
    assert second["hblks"] == (0 if raised else 1)
    if a is I386:
        assert raised is not above              # the i386 cap lies between the two requests
    else:
        assert raised                           # 32 MiB: both raise it on x86-64


def test_mmapped_chunks_start_after_the_front_padding_on_i386():
    """The mapping holds the chunk, one word and room to align it: a request that fills whole
    pages exactly on x86-64 needs one page more on i386."""
    n = 200 * KiB - 24
    lengths = [run(f"a 0 {n}\ns\n", a)[0]["hblkhd"] for a in (I386, X86_64)]
    assert lengths == [I386.mmapped(n)[0], X86_64.mmapped(n)[0]] == [200 * KiB + 4 * KiB, 200 * KiB]


def test_cli_replays_and_compares_on_i386(tmp_path, capsys):
    """replay --arch i386 runs the model built for i386, which prints what the real i386 glibc
    prints; compare --arch i386 agrees; what the model has not got is refused in one line."""
    path = tmp_path / "one.trace"
    path.write_text("a 0 1\ns\na 1 70000\nf 0\ns\n")
    assert cli.main(["replay", "--native", "--arch", "i386", "--json", str(path)]) == 0
    real = capsys.readouterr().out
    assert f'"uordblks": {I386.after_malloc_one}' in real
    assert cli.main(["replay", "--arch", "i386", "--json", str(path)]) == 0
    assert capsys.readouterr().out == real
    assert cli.main(["compare", "--arch", "i386", str(path)]) == 0
    out = capsys.readouterr().out
    assert "model of glibc 2.36 for i386 against this machine's i386 glibc 2.36" in out
    assert "AGREE: all 2 snapshots are identical" in out
    threads = tmp_path / "threads.trace"
    threads.write_text("a 0 1\nn 1\nT 1\na 1 100\ns\nT 0\nf 0\ns\n")
    assert cli.main(["compare", "--arch", "i386", str(threads)]) == 0
    assert "AGREE: all 2 snapshots are identical" in capsys.readouterr().out
    for argv, status in ((["compare", "--arch", "i386", "--glibc", "2.41", path], 2),
                         (["replay", "--arch", "i386", "--glibc", "2.43", path], 2),
                         (["compare", "--arch", "i386", "--arenas", path], 2)):
        assert cli.main(list(map(str, argv))) == status, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, (argv, err)


def test_sizes_beyond_a_32_bit_size_t_fail_like_a_32_bit_program():
    snaps = run("a 0 5000000000\ns\nc 1 65536 65537\ns\na 2 1\ns\n", I386)
    assert [s["hblks"] for s in snaps] == [0, 0, 0]
    assert snaps[-1]["uordblks"] == I386.after_malloc_one


def test_the_i386_replayer_is_a_32_bit_program():
    from memlab.native import build

    kind = subprocess.run(["od", "-An", "-tx1", "-j4", "-N1", str(build("replay", "i386"))],
                          capture_output=True, text=True).stdout.split()
    assert kind == ["01"]                  # ELFCLASS32


@pytest.mark.parametrize("name, n", [("vecvec", 300), ("push_back", 100000)])
def test_scenario_runs_on_i386_equal_the_real_replay_of_their_trace(capsys, name, n):
    """`scenario NAME --n N --arch i386 --json` (the model, vecvec with bulk steps) prints what
    the real i386 glibc gives for the scenario's trace, snapshot by snapshot."""
    assert cli.main(["scenario", name, f"n={n}"]) == 0
    trace = capsys.readouterr().out
    assert cli.main(["scenario", name, "--n", str(n), "--arch", "i386", "--json"]) == 0
    model = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    real = run(trace, I386)
    assert model == real and len(real) >= 2


@BOTH
@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.one_of(st.integers(1, 2048), st.integers(140_000, 3 * 1024 * 1024)), min_size=1, max_size=30))
def test_every_block_costs_what_the_table_says(a, sizes):
    """Blocks never freed: small ones each add their chunk size to uordblks, large ones each add
    their mapping to hblkhd. (Large means above the threshold and above what the top chunk can
    hold: the top pad leaves it at most 128 KiB and a page, and a request it can serve comes
    from it even at or above the threshold.)"""
    text = "a 0 1\ns\n" + "".join(f"a {k + 1} {n}\ns\n" for k, n in enumerate(sizes))
    snaps = run(text, a)
    for n, before, after in zip(sizes, snaps, snaps[1:]):
        nb = a.request2size(n)
        if nb >= a.mmap_threshold:
            assert after["hblkhd"] - before["hblkhd"] == a.mmapped(n)[0]
            assert after["uordblks"] == before["uordblks"]
        else:
            assert after["uordblks"] - before["uordblks"] == nb
            assert after["hblkhd"] == before["hblkhd"]
