#!/usr/bin/env bash
# Opens memlab's lessons in JupyterLab (sets up .venv first if needed).
#   bash scripts/lab.sh                          # opens a browser tab
#   bash scripts/lab.sh --no-browser --port 8899 # extra arguments go to JupyterLab
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
memlab_venv
cd "$MEMLAB_ROOT"
root_args=()
# Jupyter refuses to start as root (common in containers) unless told to.
[ "$(id -u)" = 0 ] && root_args=(--allow-root)
exec "$MEMLAB_PY" -m jupyterlab notebooks/ "${root_args[@]}" "$@"
