"""Tests of memlab.native's replayer against the real glibc of this machine.

Expected numbers come from GLIBC-FACTS.md's appendix (measured on this machine's
glibc 2.36) and from C programs compiled here that print their own mallinfo2().
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from memlab.errors import TraceError
from memlab.native import NativeError, NativeUnavailable, build, glibc_version, replay_native, replay_native_raw
from memlab.native.build import compile_c
from memlab.trace import parse_trace
from strategies import random_trace

DATA = Path(__file__).parent / "data"
#: The reference numbers are the real glibc 2.36's (tests/conftest.py: glibc_236).
needs_236 = pytest.mark.usefixtures("glibc_236")
FIELDS = ["op", "label", "brk", "arena", "ordblks", "smblks", "hblks", "hblkhd", "fsmblks",
          "uordblks", "fordblks", "keepcost", "rss"]


def snaps(name: str, every: int | None = None) -> dict[str, dict]:
    return {s["label"]: s for s in replay_native(DATA / name, every)}


def write(tmp_path: Path, text: str, name: str = "t.trace") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


class TestReferenceCases:
    @needs_236
    def test_p01_first_malloc_prints_the_documented_line(self):
        """`a 0 1` then `s first` prints exactly docs/trace-format.md's example line."""
        expected = ('{"op": 1, "label": "first", "brk": 135168, "arena": 135168, "ordblks": 1, "smblks": 0, '
                    '"hblks": 0, "hblkhd": 0, "fsmblks": 0, "uordblks": 688, "fordblks": 134480, '
                    '"keepcost": 134480, "rss": 4096}\n')
        assert replay_native_raw(DATA / "p01.trace") == expected

    @needs_236
    def test_p02_mmapped_block_and_dynamic_threshold(self):
        """malloc(200000) is mmapped (200704 B); after its free, 150000 and 200000 come from brk."""
        s = snaps("p02.trace")
        assert [s["mapped"][k] for k in ("arena", "hblks", "hblkhd", "uordblks", "fordblks")] == \
            [135168, 1, 200704, 656, 134512]
        assert (s["freed"]["hblks"], s["freed"]["hblkhd"], s["freed"]["uordblks"]) == (0, 0, 656)
        assert s["from-brk"]["brk"] == 135168 + 147456 + 200704
        assert s["mmapped-again"]["hblkhd"] == 204800
        assert (s["trimmed"]["brk"], s["trimmed"]["keepcost"]) == (135168, 134512)

    @needs_236
    def test_p03_small_frees_go_to_tcache_and_fastbin(self):
        """1000 x malloc(32) then free: 7 chunks in tcache, 993 in fastbins, nothing trimmed."""
        s = snaps("p03.trace")
        m = s["mallocs"]
        assert (m["arena"], m["ordblks"], m["uordblks"], m["fordblks"], m["keepcost"]) == \
            (135168, 1, 48656, 86512, 86512)
        f = s["frees"]
        assert (f["arena"], f["ordblks"], f["smblks"], f["fsmblks"], f["uordblks"], f["fordblks"],
                f["keepcost"], f["brk"]) == (135168, 1, 993, 47664, 992, 134176, 86512, 135168)

    @needs_236
    def test_p04_one_mebibyte_threshold(self):
        """malloc(1 MiB) is mmapped; after free the next one comes from brk and its free does not trim."""
        s = snaps("p04.trace")
        assert s["mapped"]["hblkhd"] == 1052672
        b = s["from-brk"]
        assert (b["brk"], b["arena"], b["uordblks"], b["fordblks"]) == (1183744, 1183744, 1049248, 134496)
        assert (s["freed-again"]["keepcost"], s["freed-again"]["brk"]) == (1183088, 1183744)

    def test_empty_trace_has_one_end_snapshot_of_nothing(self, tmp_path):
        """No operations: one `end` snapshot at op 0, with nothing allocated and nothing resident."""
        (s,) = replay_native(write(tmp_path, ""))
        assert s == dict(op=0, label="end", brk=0, arena=0, ordblks=1, smblks=0, hblks=0, hblkhd=0,
                         fsmblks=0, uordblks=0, fordblks=0, keepcost=0, rss=0)

    def test_measuring_does_not_perturb_resident_memory(self, tmp_path):
        """Thousands of snapshots and untouched IDs add no resident page (only the heap's own)."""
        text = "s\n" * 3000 + "w 500000\nf 500000\n" + "s\n" * 10
        out = replay_native(write(tmp_path, text), every=1)
        assert {s["rss"] for s in out} == {0} and len(out) == 3011

    def test_write_touches_the_requested_bytes(self, tmp_path):
        """`w` of a 1 MiB block (mmapped: 257 pages, user data from offset 16) makes 256 more pages
        resident besides the header's page; free unmaps all 257."""
        s = {x["label"]: x for x in replay_native(write(tmp_path, "a 0 1048576\ns a\nw 0\ns w\nf 0\ns f\n"))}
        assert s["w"]["rss"] - s["a"]["rss"] == 256 * 4096
        assert s["a"]["rss"] - s["f"]["rss"] == 4096


def c_program(ops) -> str:
    """A C program doing the trace's calls directly and printing its own mallinfo2 at `s` lines."""
    body = []
    for op in ops:
        k = op.kind
        if k == "malloc":
            body.append(f"p[{op.id}] = malloc({op.size}UL);")
        elif k == "free":
            body.append(f"free(p[{op.id}]); p[{op.id}] = 0;")
        elif k == "realloc":
            body.append(f"{{ void *q = realloc(p[{op.id}], {op.size}UL); if (q || {op.size} == 0) p[{op.id}] = q; }}")
        elif k == "calloc":
            body.append(f"p[{op.id}] = calloc({op.nmemb}UL, {op.size}UL);")
        elif k == "memalign":
            body.append(f"p[{op.id}] = memalign({op.align}UL, {op.size}UL);")
        elif k == "trim":
            body.append(f"malloc_trim({op.pad}UL);")
        elif k == "mallopt":
            body.append(f"mallopt({op.param}, {op.value});")
        elif k == "snapshot":
            body.append("show();")
        elif k == "write":
            pass    # touches pages only: resident bytes, which this comparison leaves out
        else:
            raise AssertionError(k)
    return r"""
#include <malloc.h>
#include <unistd.h>
static void *p[4096];
static char buf[64];
static long base;
static void num(unsigned long v) {
    int i = sizeof buf; buf[--i] = ' ';
    do { buf[--i] = '0' + v % 10; v /= 10; } while (v);
    write(1, buf + i, sizeof buf - i);
}
static void show(void) {
    struct mallinfo2 m = mallinfo2();
    num((unsigned long)((long)sbrk(0) - base)); num(m.arena); num(m.ordblks); num(m.smblks); num(m.hblks);
    num(m.hblkhd); num(m.fsmblks); num(m.uordblks); num(m.fordblks); num(m.keepcost);
    write(1, "\n", 1);
}
int main(void) {
    base = (long)sbrk(0);
""" + "\n".join(body) + "\nreturn 0;\n}\n"


class TestAgainstOwnPrograms:
    @pytest.mark.parametrize("seed", range(4))
    def test_replay_matches_a_compiled_program(self, tmp_path, seed):
        """The replayer's snapshots equal those of a C program making the same calls itself."""
        text = random_trace(600, seed=seed, n_ids=64, snapshot_rate=0.1)
        source = tmp_path / "prog.c"
        source.write_text(c_program(parse_trace(text)))
        program = compile_c(source, ("-O0", "-fno-builtin"), name=f"own-program-{seed}")
        env = {"PATH": os.environ.get("PATH", "")}
        own = subprocess.run([program], capture_output=True, text=True, check=True, env=env).stdout
        expected = [list(map(int, line.split())) for line in own.splitlines()]
        got = [[s[k] for k in FIELDS[2:-1]] for s in replay_native(write(tmp_path, text)) if s["label"] == ""]
        assert got == expected and len(got) > 30

    @needs_236
    def test_consolidation_and_trim_after_p03(self, tmp_path):
        """After p03, malloc(1200) consolidates the fastbins into top and malloc_trim(0) shrinks it.

        (Confirmed with a compiled program: the heap ends at brk+4096 with top 1888.)
        """
        text = (DATA / "p03.trace").read_text() + "a 1000 1200\ns big\nt 0\ns trim\n"
        s = {x["label"]: x for x in replay_native(write(tmp_path, text))}
        assert (s["big"]["smblks"], s["big"]["ordblks"], s["big"]["uordblks"]) == (0, 1, 2208)
        assert (s["trim"]["brk"], s["trim"]["keepcost"], s["trim"]["uordblks"]) == (4096, 1888, 2208)


def test_sparse_ids_replay_like_dense_ones(tmp_path):
    """IDs far apart (up to 2**32 - 1) give the same snapshots as the same trace with small IDs."""
    text = random_trace(400, seed=7, n_ids=64, snapshot_rate=0.1)
    spread = "\n".join(
        " ".join([w[0], str(4294967295 - int(w[1]) * 60000001), *w[2:]]) if w and w[0] in "afrcmw" else line
        for line in text.splitlines() for w in [line.split()])
    assert spread != text
    assert replay_native(write(tmp_path, spread, "spread.trace"), every=1) == \
        replay_native(write(tmp_path, text), every=1)


class TestSnapshotRules:
    def test_every_and_labels(self, tmp_path):
        """--every N snapshots each N-th op unless an `s` line is at that op; `end` only if needed."""
        path = write(tmp_path, "a 0 10\na 1 10\ns x\na 2 10\nf 0\nf 1\n")
        assert [(s["op"], s["label"]) for s in replay_native(path, every=2)] == [(2, "x"), (4, ""), (5, "end")]
        assert [(s["op"], s["label"]) for s in replay_native(path, every=5)] == [(2, "x"), (5, "")]
        assert [(s["op"], s["label"]) for s in replay_native(path)] == [(2, "x"), (5, "end")]

    def test_snapshot_at_the_last_op_replaces_end(self, tmp_path):
        """An `s` after the last operation is the last snapshot; there is no `end`."""
        assert [s["label"] for s in replay_native(write(tmp_path, "s a\na 0 1\ns b\ns c\n"))] == ["a", "b", "c"]

    def test_snapshot_only_trace_still_ends(self, tmp_path):
        """A trace of only `s` lines (no operation) still gets its `end` snapshot at op 0."""
        assert [(s["op"], s["label"]) for s in replay_native(write(tmp_path, "s a\n"))] == [(0, "a"), (0, "end")]

    @given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=20))
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_labels_are_escaped_like_json_dumps(self, tmp_path, label):
        """Every snapshot line equals Python's json.dumps of the same dict, byte for byte."""
        raw = replay_native_raw(write(tmp_path, f"s {label}\n"))
        for line in raw.splitlines():
            assert json.dumps(json.loads(line)) == line
        assert json.loads(raw.splitlines()[0])["label"] == label.strip(" \t\r\x0b\x0c")


class TestRefusals:
    @pytest.mark.parametrize("text,lineno", [("a 0 1\nf\n", 2), ("# c\nq 1\n", 2), ("1 2\n", 1),
                                             ("a 0 1\no M_PERTURB 1\n", 2), ("a 0 0x\n", 1)])
    def test_bad_trace_runs_nothing_and_names_the_line(self, tmp_path, text, lineno):
        """A trace that does not parse exits with status 2 before running; the line is named."""
        path = write(tmp_path, text)
        proc = subprocess.run([build("replay"), path], capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.startswith(f"line {lineno}: ")
        with pytest.raises(TraceError) as info:
            replay_native(path)
        assert info.value.lineno == lineno
        assert info.value.line == text.split("\n")[lineno - 1]

    @given(st.lists(st.sampled_from(["a", "f", "r", "c", "m", "w", "t", "o", "s", "x", "#", "1", "0x1f", "-3",
                                     "M_TOP_PAD", "MXFAST", " ", "\t", "\r", "9" * 21, "4294967296", "é",
                                     "2147483648", "-2147483649", "\n", "0X1F", "\x1c", "00",
                                     "p", "p", "g", "8", "32768", "32760", "18446744073709551616", "T", "n",
                                     "65536", "ARENA_MAX", "-8", "cpus", "j", "tls", "arch", "i386",
                                     "x86-64"]), max_size=8),
           st.integers(0, 3))
    @example(["\x1c", "é"], 0)           # both faults on one line: the ASCII one is named
    @example(["a", "\t"], 0)
    @example(["1", "\n", "a"], 0)       # a short .rep header, then a bad operation: the header is named
    @example(["p", "g", "32768", "1"], 0)   # a global root beyond the roots
    @example(["p", "1", "8", "0x1f", "8"], 1)
    @example(["p", "é"], 0)
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_c_and_python_parsers_agree(self, tmp_path, words, before):
        """The replayer accepts exactly the lines parse_trace accepts, and refuses in the same words.

        replay_native's TraceError (what `replay --native` prints) equals parse_trace's: the
        same line number, line and reason.
        """
        assert_parsers_agree(tmp_path, "a 0 1\n" * before + " ".join(words) + "\n")

    @given(st.lists(st.sampled_from(["g", "G", "0", "1", "8", "12", "0x10", "32760", "32768", "4294967295",
                                     "4294967296", "18446744073709551615", "18446744073709551616", "x", "-8",
                                     "0x", "9" * 30, " ", "\t"]), max_size=5))
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_c_and_python_parsers_agree_on_stores(self, tmp_path, words):
        """On `p` lines too the replayer accepts what parse_trace accepts and refuses in its words."""
        assert_parsers_agree(tmp_path, "a 0 1\np " + " ".join(words) + "\n")


    @given(st.lists(st.sampled_from(["n 1", "n 2", "T 0", "T 1", "T 2", "x 0", "x 1", "x 2", "a 0 24", "f 0", "j 1", "j 2",
                                     "s", f"# cpus {os.cpu_count()}", "# cpus 0", "#cpus 3", "o ARENA_TEST 1", "T 0x1",
                                     "# tls 1", "# tls 0", "# tls 70000", "# arch i386", "#arch x86-64",
                                     "# arch i386 x", "# arch arm"]),
                    max_size=12))
    @example(["n 1", "T 1", "x 1", "a 0 24"])          # an operation on an exited thread
    @example(["n 1", "T 1", "x 1", "s", "x 1"])
    @example(["n 1", "T 1", "x 1", "T 0", "j 1", "n 1", "n 1"])  # created again after its join, then twice
    @example(["n 1", "T 1", "a 0 24", "x 1", "j 1", "s", "T 0", "n 1", "T 1", "f 0", "x 1", "j 1", "s"])
    @example(["s", f"# cpus {os.cpu_count()}"])
    @example(["# arch i386", "a 0 24", "# arch i386"])
    @example(["# arch i386", "#arch x86-64"])
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_thread_lines_are_checked_alike(self, tmp_path, lines):
        """Thread lines and `# cpus`, `# tls` and `# arch` comments: the replayer refuses exactly what read_trace refuses,
        in the same words, and runs what it accepts to the end."""
        text = "\n".join(lines) + "\n"
        path = write(tmp_path, text)
        try:
            trace = parse_trace(text)
            python_error = None
        except TraceError as e:
            python_error = e
        proc = subprocess.run([build("replay"), path], capture_output=True, text=True)
        if python_error is None:
            assert proc.returncode == 0, proc.stderr
            assert json.loads(proc.stdout.splitlines()[-1])["op"] == sum(op.kind != "snapshot" for op in trace)
            return
        assert proc.returncode == 2
        assert proc.stderr == f"line {python_error.lineno}: {python_error.reason}: {python_error.line}\n"


def assert_parsers_agree(tmp_path, text: str) -> None:
    """The replayer accepts the trace exactly when parse_trace does, else refuses it in the same words."""
    path = tmp_path / "t.trace"
    path.write_bytes(text.encode())
    try:
        parse_trace(text)
        python_error = None
    except TraceError as e:
        python_error = e
    proc = subprocess.run([build("replay"), path], capture_output=True, text=True)
    if python_error is None:   # valid; huge IDs may still be too big for this machine's table
        assert proc.returncode == 0 or (proc.returncode == 1 and "pointer table" in proc.stderr), proc.stderr
        return
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"line {python_error.lineno}: {python_error.reason}: ")
    with pytest.raises(TraceError) as native:
        replay_native(path)
    assert (native.value.lineno, native.value.line, native.value.reason) == \
        (python_error.lineno, python_error.line, python_error.reason)
    assert str(native.value) == str(python_error)


class TestRunner:
    def test_malloc_environment_is_ignored(self, tmp_path, monkeypatch):
        """MALLOC_* and GLIBC_TUNABLES of the caller do not reach the replayer."""
        monkeypatch.setenv("MALLOC_TOP_PAD_", "0")
        monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0")
        (s,) = replay_native(write(tmp_path, "a 0 1\n"))
        assert s["brk"] == 135168 and s["uordblks"] == 688

    def test_ops_may_be_given_directly(self):
        """A sequence of Ops is written to a temporary file and replayed."""
        assert replay_native(parse_trace("a 0 100\nf 0"))[-1]["op"] == 2

    def test_missing_file_and_bad_every(self, tmp_path):
        """A missing trace file and a bad `every` are refused with clear errors."""
        with pytest.raises(FileNotFoundError):
            replay_native(tmp_path / "none.trace")
        with pytest.raises(ValueError):
            replay_native(DATA / "p01.trace", every=0)
        with pytest.raises(FileNotFoundError):
            replay_native(DATA / "p01.trace", libc_dir=tmp_path)

    def test_glibc_version_of_this_machine(self):
        """glibc_version() is gnu_get_libc_version(), the same as os.confstr reports."""
        assert "glibc " + glibc_version() == os.confstr("CS_GNU_LIBC_VERSION")

    def test_build_is_cached_by_source_hash(self):
        """Building twice gives the same file."""
        assert build("replay") == build("replay")

    def test_a_signal_is_reported(self, tmp_path):
        """A replay that glibc aborts is reported as NativeError (memalign of a huge alignment is fine)."""
        path = write(tmp_path, "m 0 0x8000000000000001 1\n")
        assert replay_native(path)[-1]["hblks"] == 0
        assert issubclass(NativeError, Exception)


@pytest.mark.parametrize("version,uordblks", [("2.41", 688), ("2.43", 32)])
def test_other_releases_through_their_loader(release_root, version, uordblks):
    """On the fetched releases, `a 0 1` gives 688 bytes in use on 2.41 and 32 on 2.43."""
    root = release_root(version)
    assert glibc_version(root) == version
    assert replay_native(DATA / "p01.trace", libc_dir=root)[0]["uordblks"] == uordblks


class TestBuild:
    def test_no_compiler_is_a_clear_error(self, monkeypatch, tmp_path):
        """Without $CC and with no cc on PATH, building raises NativeUnavailable saying what to do."""
        monkeypatch.delenv("CC", raising=False)
        monkeypatch.setenv("PATH", str(tmp_path))
        monkeypatch.setenv("MEMLAB_CACHE", str(tmp_path / "cache"))
        with pytest.raises(NativeUnavailable, match="C compiler"):
            build("replay")

    def test_cc_names_the_compiler(self, monkeypatch, tmp_path):
        """$CC is the compiler: one that fails makes building raise NativeUnavailable quoting it."""
        monkeypatch.setenv("MEMLAB_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv("CC", "/bin/false")
        with pytest.raises(NativeUnavailable, match="compiling replay.c with /bin/false failed"):
            build("replay")
        monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
        with pytest.raises(NativeUnavailable, match="cannot run"):
            build("replay")

    def test_cache_folder_follows_the_environment(self, monkeypatch, tmp_path):
        """MEMLAB_CACHE wins; else XDG_CACHE_HOME/memlab; the program is built there, named by hash."""
        from memlab.native import cache_dir

        monkeypatch.delenv("MEMLAB_CACHE", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir() == tmp_path / "xdg" / "memlab"
        monkeypatch.setenv("MEMLAB_CACHE", str(tmp_path / "mine"))
        built = build("replay")
        assert built.parent == tmp_path / "mine" and built.name.startswith("replay-")
        assert [p.name for p in built.parent.iterdir()] == [built.name]   # no temporary left behind

    def test_unknown_program(self):
        """Only the two programs can be built."""
        with pytest.raises(ValueError):
            build("nothing")
