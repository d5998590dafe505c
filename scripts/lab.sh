#!/usr/bin/env bash
# Opens memlab's lessons in JupyterLab, served from the repository's root, at lesson 00
# (the path the Binder badge opens: lab/tree/notebooks/00_start_here.ipynb).
# Sets up .venv first if needed.
#   bash scripts/lab.sh                          # opens a browser tab
#   bash scripts/lab.sh --no-browser --port 8899 # extra arguments go to JupyterLab
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
memlab_venv
cd "$MEMLAB_ROOT"
# JupyterLab saves the widgets' state with the notebook, so a saved lesson reopens readable.
settings="$("$MEMLAB_PY" -c 'import sys; print(sys.prefix)')/share/jupyter/lab/settings/overrides.d"
mkdir -p "$settings"
cp scripts/jupyterlab-overrides.json "$settings/memlab.json"
root_args=()
# Jupyter refuses to start as root (common in containers) unless told to.
[ "$(id -u)" = 0 ] && root_args=(--allow-root)
exec "$MEMLAB_PY" -m jupyterlab --ServerApp.root_dir=. \
    --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb "${root_args[@]}" "$@"
