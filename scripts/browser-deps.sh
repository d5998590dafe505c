#!/bin/sh
# Install what the browser test (tests/test_browser.py, marker `browser`) needs:
# Debian's chromium (Playwright cannot download its own browser here) and the
# Python playwright package. Run as root; safe to run again.
set -eu
if [ "$(id -u)" -ne 0 ]; then
    echo "browser-deps.sh: run as root (apt-get install chromium)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium fonts-dejavu-core
PYTHON="${PYTHON:-/work/venv/bin/python}"
if [ -x "$PYTHON" ]; then
    "$PYTHON" -m pip install --quiet playwright
fi
/usr/bin/chromium --version
