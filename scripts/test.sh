#!/usr/bin/env bash
# Runs every memlab test: unit tests, doctests and the lesson notebooks (sets up .venv first if needed).
#   bash scripts/test.sh                          # everything (slow tests: add --run-slow)
#   bash scripts/test.sh tests/test_packaging.py  # extra arguments go to pytest
# Exits non-zero when any test fails.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
memlab_venv
cd "$MEMLAB_ROOT"
# With no paths given, pytest uses testpaths from pyproject.toml (tests, memlab, notebooks);
# --nbmake runs each notebook top to bottom.
exec "$MEMLAB_PY" -m pytest --nbmake "$@"
