# Sets up memlab's virtual environment; sourced by scripts/lab.sh and scripts/test.sh.
#
# After `memlab_venv`, $MEMLAB_PY is the environment's python, with memlab
# installed in editable mode together with the `lab` and `test` extras, at the exact
# versions of constraints.txt.
#   MEMLAB_VENV=DIR       where the environment lives (default: .venv in the checkout)
#   MEMLAB_PYTHON=PROG    the Python that creates it (default: python3.11, else python3)
#   MEMLAB_REINSTALL=1    reinstall even if pyproject.toml has not changed

MEMLAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MEMLAB_EXTRAS="lab,test"

_memlab_say() { printf 'memlab: %s\n' "$*" >&2; }

# True when "$1" is a working Python 3.11 or newer.
_memlab_python_ok() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

_memlab_pick_python() {
    local candidate
    if [ -n "${MEMLAB_PYTHON:-}" ]; then
        candidate="$MEMLAB_PYTHON"
    elif command -v python3.11 >/dev/null 2>&1; then
        candidate=python3.11
    else
        candidate=python3
    fi
    if ! command -v "$candidate" >/dev/null 2>&1; then
        _memlab_say "no '$candidate' found: install Python 3.11 or newer (Debian: apt-get install python3)"
        return 1
    fi
    if ! _memlab_python_ok "$candidate"; then
        _memlab_say "'$candidate' is Python $("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo '?'); memlab needs 3.11 or newer"
        _memlab_say "set MEMLAB_PYTHON=/path/to/python3.11 to choose another one"
        return 1
    fi
    printf '%s\n' "$candidate"
}

# Debian and Ubuntu ship venv's pip bootstrap in a separate package.
_memlab_install_venv_package() {
    local py="$1" minor
    minor="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        _memlab_say "'$py -m venv' failed: Python's venv module (with ensurepip) is missing."
        _memlab_say "On Debian/Ubuntu install it with:  sudo apt-get install python3-venv python${minor}-venv"
        return 1
    fi
    _memlab_say "installing python3-venv with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y python3-venv "python${minor}-venv" \
        || { apt-get update && apt-get install -y python3-venv "python${minor}-venv"; } \
        || { apt-get update && apt-get install -y python3-venv; }
}

_memlab_create_venv() {
    local venv="$1" py
    py="$(_memlab_pick_python)" || return 1
    _memlab_say "creating a virtual environment in $venv with $py"
    rm -rf "$venv"
    if "$py" -m venv "$venv" && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        return 0
    fi
    rm -rf "$venv"
    _memlab_install_venv_package "$py" || return 1
    "$py" -m venv "$venv" && "$venv/bin/python" -m pip --version >/dev/null 2>&1 || {
        rm -rf "$venv"
        _memlab_say "could not create a virtual environment with $py"
        return 1
    }
}

# What the installed environment was made from; a change means reinstall.
_memlab_stamp() {
    {
        printf 'root=%s\nextras=%s\n' "$MEMLAB_ROOT" "$MEMLAB_EXTRAS"
        "$1" -c 'import sys; print("python=" + sys.version)'
        cat "$MEMLAB_ROOT/pyproject.toml" "$MEMLAB_ROOT/constraints.txt"
    } | sha256sum | cut -d' ' -f1
}

memlab_venv() {
    local venv="${MEMLAB_VENV:-$MEMLAB_ROOT/.venv}" stamp_file want
    if ! _memlab_python_ok "$venv/bin/python" \
        || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        _memlab_create_venv "$venv" || return 1
    fi
    MEMLAB_PY="$venv/bin/python"
    stamp_file="$venv/.memlab-install-stamp"
    want="$(_memlab_stamp "$MEMLAB_PY")"
    if [ "${MEMLAB_REINSTALL:-0}" = 1 ] || [ ! -f "$stamp_file" ] \
        || [ "$(cat "$stamp_file")" != "$want" ]; then
        _memlab_say "installing memlab and its [$MEMLAB_EXTRAS] extras into $venv (the first time takes a few minutes)"
        rm -f "$stamp_file"
        "$MEMLAB_PY" -m pip install --disable-pip-version-check \
            -c "$MEMLAB_ROOT/constraints.txt" -e "$MEMLAB_ROOT[$MEMLAB_EXTRAS]" || return 1
        printf '%s\n' "$want" >"$stamp_file"
    fi
    export MEMLAB_PY
}
