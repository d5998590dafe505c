"""Tests for memlab.native.glibc_releases: fetching glibc 2.41 / 2.43 and running programs on them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from memlab.native import NativeUnavailable
from memlab.native.build import compile_c
from memlab.native.glibc_releases import (
    ReleaseUnavailable,
    available_releases,
    cache_dir,
    debian_version,
    ensure_release,
    loader_command,
    mirror_from_sources,
    pick_version,
)

POLICY = """libc6:
  Installed: 2.36-9+deb12u14
  Candidate: 2.43-7
  Version table:
     2.43-7 500
        500 http://deb.debian.org/debian forky/main amd64 Packages
     2.41-12+deb13u5 500
        500 http://deb.debian.org/debian trixie/main amd64 Packages
     2.41-12+deb13u4 500
        500 http://deb.debian.org/debian trixie/main amd64 Packages
     2.41-9 500
        500 http://deb.debian.org/debian trixie/main amd64 Packages
 *** 2.36-9+deb12u14 100
        100 /var/lib/dpkg/status
"""

# Prints the release and mallinfo2 after one malloc(1), with write(2) only: printf would
# allocate a stdio buffer and change the counters.
PROBE_C = r"""
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    void *volatile p = malloc(1);
    struct mallinfo2 m = mallinfo2();
    char line[200];
    int n = snprintf(line, sizeof line, "%s %zu %zu %zu\n", gnu_get_libc_version(),
                     m.arena, m.uordblks, m.fordblks);
    write(1, line, (size_t)n);
    free(p);
    return 0;
}
"""

# release -> (uordblks, fordblks) after the first malloc(1), from the real libraries: the
# tcache control block is a 656-byte heap chunk up to 2.41 and lives outside the heap in 2.43.
FIRST_MALLOC = {"2.41": (688, 134480), "2.43": (32, 135136)}


class TestPickVersion:
    def test_newest_of_the_release(self):
        """The highest Debian revision of the asked release is chosen."""
        assert pick_version(POLICY, "2.41") == "2.41-12+deb13u5"
        assert pick_version(POLICY, "2.43") == "2.43-7"

    def test_installed_line_counts(self):
        """The '***' line of the installed version is parsed like the others."""
        assert pick_version(POLICY, "2.36") == "2.36-9+deb12u14"

    def test_absent_release(self):
        """A release nobody offers gives None."""
        assert pick_version(POLICY, "2.4") is None
        assert pick_version("libc6:\n  Installed: (none)\n", "2.41") is None


class TestMirror:
    def test_deb822_skips_security(self):
        """The security archive is never taken as the mirror."""
        text = (
            "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n\n"
            "Types: deb\nURIs: http://ftp.de.debian.org/debian/\nSuites: bookworm\n"
        )
        assert mirror_from_sources(text) == "http://ftp.de.debian.org/debian"

    def test_comments_ignored(self):
        """Commented URIs are ignored."""
        text = "# URIs: http://old.example/debian\ndeb http://new.example/debian bookworm main\n"
        assert mirror_from_sources(text) == "http://new.example/debian"


class TestPaths:
    def test_cache_dir_home_default(self):
        """Without MEMLAB_CACHE or XDG_CACHE_HOME the cache is under ~/.cache/memlab."""
        assert cache_dir({"HOME": "/srv/ada"}) == Path("/srv/ada/.cache/memlab/glibc")

    def test_loader_command_shape(self, tmp_path):
        """The argv prefix names the release's own loader and library folder."""
        cmd = loader_command(tmp_path)
        lib = tmp_path / "usr/lib/x86_64-linux-gnu"
        assert cmd == [str(lib / "ld-linux-x86-64.so.2"), "--library-path", str(lib)]

    def test_unknown_release(self):
        """An unknown release is a ValueError naming the known ones, before any download."""
        with pytest.raises(ValueError, match="2.41, 2.43"):
            ensure_release("2.36")

    def test_available(self):
        """Both Debian profiles are offered."""
        assert available_releases() == ("2.41", "2.43")


def test_unreachable_mirror_is_release_unavailable(tmp_path, monkeypatch):
    """A mirror that cannot be reached gives ReleaseUnavailable naming apt-get update."""
    if shutil.which("apt-get") is None:
        raise NativeUnavailable("apt-get is not installed: releases are fetched with it")
    monkeypatch.setenv("MEMLAB_CACHE", str(tmp_path))
    monkeypatch.setenv("MEMLAB_DEBIAN_MIRROR", "http://127.0.0.1:9/debian")
    with pytest.raises(ReleaseUnavailable) as info:
        ensure_release("2.41")
    assert info.value.step == "apt-get update"
    assert info.value.release == "2.41"
    assert "127.0.0.1" in str(info.value)
    assert debian_version("2.41") is None
    assert not (tmp_path / "glibc" / "2.41").exists()


@pytest.fixture(scope="module")
def roots() -> dict[str, Path]:
    """Both releases unpacked (downloaded on first use); ReleaseUnavailable says why not."""
    return {release: ensure_release(release) for release in available_releases()}


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    """The probe program, compiled now against the system's glibc."""
    folder = tmp_path_factory.mktemp("probe")
    (folder / "probe.c").write_text(PROBE_C)
    return compile_c(folder / "probe.c", ("-O0",))


@pytest.mark.parametrize("release", ["2.41", "2.43"])
def test_first_malloc_on_real_release(roots, probe, release):
    """One malloc(1) on each release reports its version and its own uordblks."""
    out = subprocess.run(
        [*loader_command(roots[release]), str(probe)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},  # no MALLOC_* or GLIBC_TUNABLES
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()
    version, arena, uordblks, fordblks = out[0], int(out[1]), int(out[2]), int(out[3])
    assert version == release
    assert arena == 135168
    assert (uordblks, fordblks) == FIRST_MALLOC[release]


def test_cached_release_needs_no_apt(roots, monkeypatch):
    """A second call returns the same folder without running apt (PATH emptied)."""
    monkeypatch.setenv("PATH", "")
    for release, root in roots.items():
        assert ensure_release(release) == root
        assert debian_version(release).startswith(release + "-")
