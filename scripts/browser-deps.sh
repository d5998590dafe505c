#!/usr/bin/env bash
# Installs what the browser test (tests/test_browser.py, marker `browser`) needs: Debian's
# chromium (Playwright cannot download its own browser here) and the playwright package in
# memlab's environment: the Python named by $MEMLAB_PY, else the checkout's .venv, set up by
# scripts/venv.sh (whose `test` extra includes playwright). Run as root; safe to run again.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    echo "browser-deps.sh: run as root (apt-get install chromium)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium fonts-dejavu-core
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
if [ -n "${MEMLAB_PY:-}" ]; then
    "$MEMLAB_PY" -m pip install --quiet -c "$MEMLAB_ROOT/constraints.txt" playwright
else
    memlab_venv
fi
/usr/bin/chromium --version
