"""Fetch and unpack Debian's builds of newer glibc releases beside the system's C library."""

# The machine runs one glibc (Debian 12: 2.36). The other releases memlab has profiles for are
# Debian's libc6 packages, downloaded by the machine's own apt-get into a private apt state
# folder (the system's apt state and libraries are never touched) and unpacked by `dpkg -x`:
#
#     CACHE/glibc/apt/                   private sources list, package lists and apt caches
#     CACHE/glibc/2.41/                  libc6 of Debian trixie (glibc 2.41)
#     CACHE/glibc/2.43/                  libc6 of Debian forky (glibc 2.43)
#     CACHE/glibc/<release>/.debian-version   exact package version, written last ("done")
#
# CACHE is $MEMLAB_CACHE, else $XDG_CACHE_HOME/memlab, else ~/.cache/memlab. A program built
# against the system's glibc runs on a release through its own loader:
# loader_command(root) + [program, *args]. Neither apt-get download nor dpkg -x needs root.
# The mirror is the one the machine's apt sources name; $MEMLAB_DEBIAN_MIRROR overrides it.

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from memlab.native.build import NativeUnavailable

__all__ = [
    "ReleaseUnavailable",
    "SUITES",
    "available_releases",
    "cache_dir",
    "cached_releases",
    "debian_version",
    "ensure_release",
    "loader_command",
    "mirror_from_sources",
    "pick_version",
]

#: glibc release -> the Debian suite whose libc6 is that release.
SUITES: Mapping[str, str] = {"2.41": "trixie", "2.43": "forky"}

_LIBDIR = Path("usr/lib/x86_64-linux-gnu")
_LOADER = "ld-linux-x86-64.so.2"
_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
_DEFAULT_MIRROR = "http://deb.debian.org/debian"
_SYSTEM_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
_MARK = ".debian-version"
_TIMEOUT = 900  # seconds for one apt-get run


class ReleaseUnavailable(NativeUnavailable, RuntimeError):
    """A glibc release could not be fetched or unpacked; the message names the failing step.

    >>> e = ReleaseUnavailable("2.41", "apt-get update", "no network")
    >>> str(e)
    'glibc 2.41 is unavailable: apt-get update failed: no network'
    >>> e.release, e.step
    ('2.41', 'apt-get update')
    """

    def __init__(self, release: str, step: str, detail: str) -> None:
        super().__init__(f"glibc {release} is unavailable: {step} failed: {detail}")
        self.release = release
        self.step = step
        self.detail = detail


def available_releases() -> tuple[str, ...]:
    """The glibc releases this module can fetch, oldest first.

    >>> available_releases()
    ('2.41', '2.43')
    """
    return tuple(sorted(SUITES, key=_release_key))


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder holding the unpacked releases (``.../memlab/glibc``), from the environment.

    >>> cache_dir({"MEMLAB_CACHE": "/tmp/m", "XDG_CACHE_HOME": "/tmp/x"}).as_posix()
    '/tmp/m/glibc'
    >>> cache_dir({"XDG_CACHE_HOME": "/tmp/x"}).as_posix()
    '/tmp/x/memlab/glibc'
    """
    env = os.environ if environ is None else environ
    if env.get("MEMLAB_CACHE"):
        base = Path(env["MEMLAB_CACHE"])
    elif env.get("XDG_CACHE_HOME"):
        base = Path(env["XDG_CACHE_HOME"]) / "memlab"
    else:
        base = Path(env.get("HOME") or Path.home()) / ".cache" / "memlab"
    return base / "glibc"


def loader_command(root: Path | str) -> list[str]:
    """The argv prefix that runs a program on the glibc unpacked at ``root``.

    >>> loader_command("/c/glibc/2.41")  # doctest: +NORMALIZE_WHITESPACE
    ['/c/glibc/2.41/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
     '--library-path', '/c/glibc/2.41/usr/lib/x86_64-linux-gnu']
    """
    lib = Path(root) / _LIBDIR
    return [str(lib / _LOADER), "--library-path", str(lib)]


def mirror_from_sources(text: str) -> str | None:
    """The first Debian archive URI (not the security one) in an apt sources file, or None.

    Reads both formats: deb822 (``URIs:`` lines) and one-line (``deb URI suite ...``).

    >>> mirror_from_sources("Types: deb\\nURIs: http://ftp.fr.debian.org/debian/\\nSuites: x\\n")
    'http://ftp.fr.debian.org/debian'
    >>> mirror_from_sources("deb [arch=amd64] http://m.example/debian bookworm main")
    'http://m.example/debian'
    >>> mirror_from_sources("URIs: http://deb.debian.org/debian-security") is None
    True
    """
    found: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.lower().startswith("uris:"):
            found.extend(line[5:].split())
        elif line.startswith("deb "):
            words = re.sub(r"\[[^]]*\]", " ", line[4:]).split()
            found.extend(words[:1])
    for uri in found:
        uri = uri.rstrip("/")
        if "://" in uri and not uri.endswith("-security"):
            return uri
    return None


def pick_version(policy: str, release: str) -> str | None:
    """The newest Debian version of ``release`` in ``apt-cache policy`` output, or None.

    >>> text = '''libc6:
    ...   Installed: 2.36-9+deb12u14
    ...   Version table:
    ...      2.43-7 500
    ...         500 http://deb.debian.org/debian forky/main amd64 Packages
    ...      2.41-12+deb13u5 500
    ...         500 http://deb.debian.org/debian trixie/main amd64 Packages
    ...  *** 2.36-9+deb12u14 100'''
    >>> pick_version(text, "2.41"), pick_version(text, "2.40")
    ('2.41-12+deb13u5', None)
    """
    table = policy.split("Version table:", 1)[-1]
    candidates = []
    for match in re.finditer(r"^\s*(?:\*\*\*\s+)?(\S+)\s+-?\d+\s*$", table, re.MULTILINE):
        version = match.group(1)
        upstream = version.split(":", 1)[-1].split("-", 1)[0]
        if upstream == release:
            candidates.append(version)
    return max(candidates, key=_debian_key, default=None)


def debian_version(release: str) -> str | None:
    """The exact Debian package version unpacked in the cache for ``release``, or None.

    >>> debian_version("1.0") is None
    True
    """
    mark = cache_dir() / release / _MARK
    if not mark.is_file() or not (cache_dir() / release / _LIBDIR / _LOADER).is_file():
        return None
    return mark.read_text().strip() or None


def cached_releases() -> tuple[str, ...]:
    """The releases already unpacked in the cache (usable without the network).

    >>> set(cached_releases()) <= set(available_releases())
    True
    """
    return tuple(r for r in available_releases() if debian_version(r) is not None)


def ensure_release(release: str) -> Path:
    """The unpacked root of ``release``, downloading and unpacking it on first use.

    Later calls return the cached folder without touching the network.

    >>> ensure_release("2.40")
    Traceback (most recent call last):
    ...
    ValueError: unknown glibc release '2.40': choose one of 2.41, 2.43
    """
    if release not in SUITES:
        raise ValueError(
            f"unknown glibc release {release!r}: choose one of {', '.join(available_releases())}"
        )
    base = cache_dir()
    root = base / release
    if debian_version(release) is not None:
        return root
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReleaseUnavailable(release, f"creating {base}", str(exc)) from exc
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be unpacking the same release
        if debian_version(release) is None:
            _fetch(release, base, root)
    return root


# ---------------------------------------------------------------------------- the steps


def _fetch(release: str, base: Path, root: Path) -> None:
    """Update the private apt lists, download libc6 of ``release`` and unpack it to ``root``."""
    for tool in ("apt-get", "apt-cache", "dpkg"):
        if shutil.which(tool) is None:
            raise ReleaseUnavailable(release, f"finding {tool}", "not installed (Debian or Ubuntu)")
    if not Path(_KEYRING).is_file():
        raise ReleaseUnavailable(release, "finding Debian's archive keyring", f"no {_KEYRING}")
    options = _apt_options(base / "apt")
    with tempfile.TemporaryDirectory(prefix=f".{release}-", dir=base) as tmp:
        work = Path(tmp)
        deb = None
        version = _offered_version(release, options, update=False)  # lists of an earlier fetch
        if version is not None:
            try:
                deb = _download(release, options, version, work)
            except ReleaseUnavailable:
                deb = None  # the lists may be stale: refresh them and try once more
        if deb is None:
            version = _offered_version(release, options, update=True)
            deb = _download(release, options, version, work)
        unpacked = work / "root"
        _run(release, f"dpkg -x {deb.name}", ["dpkg", "-x", str(deb), str(unpacked)])
        if not (unpacked / _LIBDIR / _LOADER).is_file():
            raise ReleaseUnavailable(release, f"dpkg -x {deb.name}", f"no {_LOADER} inside")
        (unpacked / _MARK).write_text(f"{version}\n")
        if root.exists():  # a half-finished earlier attempt
            shutil.rmtree(root)
        unpacked.rename(root)


def _download(release: str, options: list[str], version: str, work: Path) -> Path:
    """Download the libc6 package ``version`` into ``work``; the path of the .deb."""
    step = f"apt-get download libc6={version}"
    _run(release, step, ["apt-get", *options, "download", f"libc6={version}"], cwd=work)
    debs = sorted(work.glob("libc6_*.deb"))
    if not debs:
        raise ReleaseUnavailable(release, step, "no .deb appeared")
    return debs[0]


def _offered_version(release: str, options: list[str], update: bool) -> str | None:
    """The libc6 version of ``release`` in the private lists (refreshed first if ``update``)."""
    if update:
        _run(release, "apt-get update", ["apt-get", *options, "update"])
    policy = _run(release, "apt-cache policy libc6", ["apt-cache", *options, "policy", "libc6"])
    version = pick_version(policy, release)
    if version is None and update:
        raise ReleaseUnavailable(
            release, "apt-cache policy libc6", f"no libc6 {release}.* on offer in {SUITES[release]}"
        )
    return version


def _apt_options(state: Path) -> list[str]:
    """apt options that use a private sources list, lists and caches under ``state``."""
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    sources = state / "sources.list"
    mirror = _system_mirror()
    lines = [f"deb [signed-by={_KEYRING}] {mirror} {suite} main" for suite in SUITES.values()]
    sources.write_text("\n".join(lines) + "\n")
    options = {
        "Dir::Etc::SourceList": str(sources),
        "Dir::Etc::SourceParts": "/dev/null",
        "Dir::State::Lists": str(state / "lists"),
        "Dir::Cache": str(state / "cache"),
    }
    if os.geteuid() == 0:
        options["APT::Sandbox::User"] = "root"  # files here are not readable by the _apt user
    return [arg for key, value in options.items() for arg in ("-o", f"{key}={value}")]


def _system_mirror() -> str:
    """$MEMLAB_DEBIAN_MIRROR, else the Debian mirror of the machine's apt, else deb.debian.org."""
    if os.environ.get("MEMLAB_DEBIAN_MIRROR"):
        return os.environ["MEMLAB_DEBIAN_MIRROR"].rstrip("/")
    for path in _SYSTEM_SOURCES:
        try:
            mirror = mirror_from_sources(path.read_text())
        except OSError:
            continue
        if mirror and "debian" in mirror:
            return mirror
    return _DEFAULT_MIRROR


def _run(release: str, step: str, argv: list[str], cwd: Path | None = None) -> str:
    """Run one command; its stdout, or ReleaseUnavailable naming the step and apt's own error."""
    env = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReleaseUnavailable(release, step, str(exc)) from exc
    lines = done.stderr.splitlines()
    # apt-get update exits 0 after failing to reach a suite: only its warnings tell.
    failed = [ln for ln in lines if ln.startswith("W:") and "fail" in ln.lower()]
    if done.returncode != 0 or failed:
        errors = [ln for ln in lines if ln.startswith(("E:", "dpkg"))] + failed
        detail = "; ".join(errors[:3]) or done.stderr.strip()[-300:]
        raise ReleaseUnavailable(release, step, detail or f"exit status {done.returncode}")
    return done.stdout


def _release_key(release: str) -> tuple[int, ...]:
    return tuple(int(part) for part in release.split("."))


def _debian_key(version: str) -> list[tuple[int, str]]:
    """A sort key close enough to dpkg's order for versions of one release."""
    parts = re.findall(r"\d+|[^\d.]+", version)
    return [(int(p), "") if p.isdigit() else (-1, p) for p in parts]
