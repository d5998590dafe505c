"""The rival allocators (jemalloc, tcmalloc, mimalloc) preloaded under the real replayer.

Every expectation is read from the real libraries run here: which shared object serves malloc
(dladdr in a small C program), where the break goes, what glibc's mallinfo2 sees.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from memlab.charts.allocators import allocator_chart
from memlab.cli import main
from memlab.errors import TraceError
from memlab.native import build, replay_native
from memlab.native import allocators as alloc
from memlab.native.allocators import (ALLOCATORS, NAMES, RIVALS, AllocatorMissing, library,
                                      preload_prefix)
from memlab.native.build import compile_c
from memlab.native.rivals import run_allocators
from memlab.native.runner import clean_environment

KEYS = ["op", "label", "brk", "rss"]

# A trace that moves glibc's break by megabytes: 3000 blocks of 4000 bytes, most freed again.
FILL = "".join(f"a {i} 4000\n" for i in range(3000)) + "s filled\n" + \
    "".join(f"f {i}\n" for i in range(2999)) + "s freed\n"


def require(name: str) -> None:
    """NativeUnavailable when allocator `name` (or the replayer) cannot run here: a skip, or under
    CI a failure (root conftest.py)."""
    build("replay")
    library(name)


@pytest.fixture(scope="module")
def fill_trace(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("alloc") / "fill.trace"
    path.write_text(FILL)
    return path


@pytest.fixture(scope="module")
def malloc_owner(tmp_path_factory) -> Path:
    """A C program that prints the path of the shared object whose malloc it calls."""
    folder = tmp_path_factory.mktemp("owner")
    source = folder / "owner.c"
    source.write_text(
        "#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
        "int main(void) {\n"
        "    void *(*volatile m)(size_t) = malloc;\n"
        "    Dl_info info;\n"
        "    if (!dladdr((void *)m, &info)) return 1;\n"
        "    free(m(16));\n"
        "    printf(\"%s\\n\", info.dli_fname);\n"
        "    return 0;\n}\n")
    return compile_c(source, ("-O1", "-ldl"), name="malloc-owner")


class TestPreloadTakesEffect:
    @pytest.mark.parametrize("name", RIVALS)
    def test_malloc_comes_from_the_preloaded_library(self, name, malloc_owner):
        """With the loader's --preload and no LD_* in the environment, malloc is the rival's."""
        require(name)
        result = subprocess.run(preload_prefix(name) + [str(malloc_owner)], capture_output=True, text=True,
                                env=clean_environment())
        assert result.returncode == 0, result.stderr
        assert Path(result.stdout.strip()).resolve() == library(name).resolve()

    def test_without_preloading_malloc_is_glibcs(self, malloc_owner):
        result = subprocess.run(preload_prefix("glibc") + [str(malloc_owner)], capture_output=True,
                                text=True, env=clean_environment())
        assert Path(result.stdout.strip()).name == "libc.so.6"

    @pytest.mark.parametrize("name", ["jemalloc", "mimalloc"])
    def test_break_never_moves_where_glibcs_does(self, name, fill_trace):
        """jemalloc and mimalloc take memory with mmap only: the break stays where it was."""
        require(name)
        glibc = replay_native(fill_trace)
        assert glibc[-1]["brk"] > 10 * 2**20
        rival = replay_native(fill_trace, every=100, allocator=name)
        assert len(rival) > 30
        assert all(s["brk"] == 0 for s in rival)
        assert rival[-1]["rss"] != glibc[-1]["rss"]

    def test_tcmalloc_serves_the_trace_that_moves_the_break(self, fill_trace):
        """tcmalloc moves the break too, but glibc's own arena (mallinfo2) stays empty meanwhile."""
        require("tcmalloc")
        # The replayer without --rival still asks glibc's mallinfo2, which sees nothing of it.
        result = subprocess.run(preload_prefix("tcmalloc") + [str(build("replay")), str(fill_trace)],
                                capture_output=True, text=True, env=clean_environment())
        snaps = [json.loads(line) for line in result.stdout.splitlines()]
        assert snaps[-1]["brk"] > 10 * 2**20
        assert (snaps[-1]["arena"], snaps[-1]["uordblks"], snaps[-1]["hblkhd"]) == (0, 0, 0)

    @pytest.mark.parametrize("name", RIVALS)
    def test_rival_snapshots_carry_only_brk_and_rss(self, name, fill_trace):
        require(name)
        snaps = replay_native(fill_trace, allocator=name)
        assert [list(s) for s in snaps] == [KEYS, KEYS]
        assert [s["label"] for s in snaps] == ["filled", "freed"]
        assert [s["op"] for s in snaps] == [3000, 5999]


class TestBaseline:
    LAZY = (
        "#define _GNU_SOURCE\n#include <stddef.h>\n#include <string.h>\n#include <sys/mman.h>\n"
        "extern void *__libc_malloc(size_t);\n"
        "static char *meta;\n"
        "/* An allocator that sets up 1 MiB of its own state on its first call, as rivals may. */\n"
        "void *malloc(size_t n) {\n"
        "    if (!meta) {\n"
        "        meta = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n"
        "        memset(meta, 1, 1 << 20);\n"
        "    }\n"
        "    return __libc_malloc(n);\n}\n")

    def test_the_allocator_starts_before_the_baseline(self, tmp_path):
        """An allocator's first-call set-up lands before the baseline with --rival, in the trace without."""
        replayer = build("replay")
        source = tmp_path / "lazy.c"
        source.write_text(self.LAZY)
        lib = compile_c(source, ("-O1", "-shared", "-fPIC"), name="lazy-allocator")
        trace = tmp_path / "one.trace"
        trace.write_text("a 0 1\ns one\n")

        def first_rss(*flags: str) -> int:
            result = subprocess.run([str(alloc.LOADER), "--preload", str(lib), str(replayer), *flags, str(trace)],
                                    capture_output=True, text=True, env=clean_environment())
            return json.loads(result.stdout.splitlines()[0])["rss"]

        assert first_rss() >= 2**20
        assert first_rss("--rival") < 64 * 1024

    def test_mimallocs_first_call_is_not_counted(self, tmp_path):
        """mimalloc sets up pages on its first call: measured without it, malloc(1) costs more."""
        require("mimalloc")
        trace = tmp_path / "one.trace"
        trace.write_text("a 0 1\ns one\n")
        cold = subprocess.run(preload_prefix("mimalloc") + [str(build("replay")), str(trace)],
                              capture_output=True, text=True, env=clean_environment())
        assert json.loads(cold.stdout.splitlines()[0])["rss"] > replay_native(trace, allocator="mimalloc")[0]["rss"]

    @pytest.mark.parametrize("name", RIVALS)
    def test_trim_and_mallopt_lines_are_skipped(self, name, tmp_path):
        """t and o lines are glibc's calls: a rival replay runs past them, snapshots unchanged."""
        require(name)
        plain = tmp_path / "plain.trace"
        plain.write_text("a 0 100000\nw 0\nf 0\ns end\n")
        tuned = tmp_path / "tuned.trace"
        tuned.write_text("o M_MMAP_THRESHOLD 0\na 0 100000\nw 0\nf 0\nt 0\ns end\n")
        assert replay_native(tuned, allocator=name)[0]["op"] == 5
        assert replay_native(tuned, allocator=name)[0]["brk"] == replay_native(plain, allocator=name)[0]["brk"]


class TestRuns:
    def test_series_lengths_and_order(self, fill_trace):
        for name in NAMES:
            require(name)
        runs = run_allocators(fill_trace, every=1000)
        assert runs.names == NAMES
        assert (runs.operations, runs.glibc_only) == (5999, 0)
        for s in runs.series:
            # every 1000th operation; an s line takes the place of the one due there
            assert s.ops == (1000, 2000, 3000, 4000, 5000, 5999)
            assert [p.label for p in s.points] == ["", "", "filled", "", "", "freed"]
        assert runs["glibc"].end.brk > 0 and runs["jemalloc"].end.brk == 0
        assert set(runs.ends()) == set(NAMES)

    def test_default_spacing_aims_at_points(self, fill_trace):
        require("jemalloc")
        runs = run_allocators(fill_trace, names=["jemalloc"], points=20)
        assert 20 <= len(runs["jemalloc"].points) <= 23
        assert list(runs["jemalloc"].ops) == sorted(runs["jemalloc"].ops)

    def test_unknown_allocator_is_refused(self, fill_trace):
        with pytest.raises(ValueError, match="choose one of glibc, jemalloc, tcmalloc, mimalloc"):
            run_allocators(fill_trace, names=["hoard"])

    def test_bad_trace_names_its_line_for_a_rival(self, tmp_path):
        require("jemalloc")
        path = tmp_path / "bad.trace"
        path.write_text("a 0 10\nq 1\n")
        with pytest.raises(TraceError) as e:
            replay_native(path, allocator="jemalloc")
        assert e.value.lineno == 2

    def test_chart_updates_in_place(self, fill_trace):
        require("jemalloc")
        runs = run_allocators(fill_trace, every=1000, names=["glibc", "jemalloc"])
        h = allocator_chart(runs)
        line = h.lines["jemalloc"]
        assert list(line.get_ydata()) == list(runs["jemalloc"].rss)
        small = run_allocators(fill_trace, every=3000, names=["glibc", "jemalloc"])
        h.update(small)
        assert h.lines["jemalloc"] is line and list(line.get_ydata()) == list(small["jemalloc"].rss)
        with pytest.raises(ValueError, match="this chart shows glibc, jemalloc"):
            h.update(run_allocators(fill_trace, every=3000, names=["glibc"]))


class TestMissingPackage:
    @pytest.fixture
    def nothing_installed(self, monkeypatch, tmp_path):
        monkeypatch.setattr(alloc, "LIBRARY_DIRS", (tmp_path,))
        monkeypatch.setattr(alloc, "_ldconfig_paths", lambda soname: [])

    def test_message_names_the_packages(self, nothing_installed):
        with pytest.raises(AllocatorMissing) as e:
            library("tcmalloc")
        assert str(e.value) == (
            "tcmalloc is not installed: memlab preloads libtcmalloc_minimal.so.4, from the package "
            "libtcmalloc-minimal4 or libtcmalloc-minimal4t64 (apt-get install libtcmalloc-minimal4 on "
            "Debian 12, libtcmalloc-minimal4t64 on Ubuntu 24.04)")
        assert alloc.installed() == ("glibc",)

    def test_cli_says_which_package(self, nothing_installed, fill_trace, capsys, real_glibc):
        assert main(["replay", str(fill_trace), "--native", "--allocator", "jemalloc"], io.StringIO()) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "apt-get install libjemalloc2" in err


class TestCommandLine:
    def test_replay_on_a_rival(self, tmp_path, capsys):
        require("mimalloc")
        path = tmp_path / "t.trace"
        path.write_text("a 0 100\no M_TOP_PAD 0\nw 0\ns one\nt 0\nf 0\n")
        out = io.StringIO()
        assert main(["replay", str(path), "--native", "--allocator", "mimalloc"], out) == 0
        text = out.getvalue()
        assert "on mimalloc" in text and "uordblks" not in text and "arena" not in text
        assert text.count("2 t/o line(s) skipped") == 1
        assert text.splitlines()[3].split() == ["op", "label", "brk", "rss"]

    def test_replay_json_on_a_rival(self, fill_trace):
        require("jemalloc")
        out = io.StringIO()
        assert main(["replay", str(fill_trace), "--native", "--allocator", "jemalloc", "--json"], out) == 0
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [list(d) for d in lines] == [KEYS, KEYS] and lines[0]["brk"] == 0

    def test_allocator_needs_native(self, fill_trace, capsys):
        assert main(["replay", str(fill_trace), "--allocator", "tcmalloc"], io.StringIO()) == 2
        assert "give --native" in capsys.readouterr().err

    def test_compare_refuses_a_rival(self, fill_trace, capsys):
        assert main(["compare", str(fill_trace), "--allocator", "jemalloc"], io.StringIO()) == 2
        assert "not comparable with the model" in capsys.readouterr().err

    def test_unknown_allocator_is_a_usage_error(self, fill_trace, capsys):
        assert main(["replay", str(fill_trace), "--native", "--allocator", "hoard"]) == 2
        assert "invalid choice: 'hoard'" in capsys.readouterr().err

    def test_bad_trace_exit_status(self, tmp_path, capsys):
        require("tcmalloc")
        path = tmp_path / "bad.trace"
        path.write_text("a 0 10\nf\n")
        assert main(["replay", str(path), "--native", "--allocator", "tcmalloc"], io.StringIO()) == 2
        assert "line 2" in capsys.readouterr().err

    def test_glibc_allocator_is_the_plain_native_replay(self, fill_trace, real_glibc):
        out = io.StringIO()
        assert main(["replay", str(fill_trace), "--native", "--allocator", "glibc", "--json"], out) == 0
        assert [json.loads(line) for line in out.getvalue().splitlines()] == replay_native(fill_trace)


class TestInstallation:
    ROOT = Path(__file__).resolve().parent.parent

    def test_binder_installs_ubuntus_packages(self):
        packages = set((self.ROOT / "binder/apt.txt").read_text().split())
        assert {ALLOCATORS[n].ubuntu for n in RIVALS} <= packages

    def test_ci_installs_debians_packages_when_their_library_is_missing(self):
        ci = (self.ROOT / ".ci/run").read_text()
        for name in RIVALS:
            a = ALLOCATORS[name]
            assert f"{a.soname} ] || apt_missing+=({a.debian})" in ci


class TestSettings:
    def test_settings_reach_only_their_allocator(self, fill_trace):
        with pytest.raises(ValueError, match="glibc takes no settings"):
            replay_native(fill_trace, allocator="glibc", settings={"MALLOC_CONF": "x"})
        with pytest.raises(ValueError, match="variables starting TCMALLOC_"):
            replay_native(fill_trace, allocator="tcmalloc", settings={"MIMALLOC_VERBOSE": "1"})

    def test_the_parents_tuning_variables_are_not_passed_on(self, monkeypatch):
        for key in ("MALLOC_CONF", "TCMALLOC_RELEASE_RATE", "MIMALLOC_VERBOSE"):
            monkeypatch.setenv(key, "1")
        env = clean_environment()
        assert not {"MALLOC_CONF", "TCMALLOC_RELEASE_RATE", "MIMALLOC_VERBOSE"} & set(env)

    def test_jemalloc_reads_its_setting(self, tmp_path):
        """With decay 0 jemalloc purges freed pages at once; by default it keeps them for now."""
        require("jemalloc")
        path = tmp_path / "w.trace"
        path.write_text("".join(f"a {i} 1000\nw {i}\n" for i in range(20000)) + "a 20000 24\n"
                        + "".join(f"f {i}\n" for i in range(20000)))
        kept = replay_native(path, allocator="jemalloc")[-1]["rss"]
        purged = replay_native(path, allocator="jemalloc",
                               settings={"MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"})[-1]["rss"]
        assert kept > 15 * 2**20 and purged < kept // 4
