#!/usr/bin/env bash
# Builds memlab's homework with Otter-Grader, or grades submissions (no Docker needed).
#   bash scripts/homework.sh                        # build every assignment into homework/dist/
#   bash scripts/homework.sh build 02_two_sources   # build the named ones only
#   bash scripts/homework.sh grade A.ipynb [B.ipynb | FOLDER ...]
# Building runs each master's tests against its solutions and fails unless they score full
# marks. Grading prints one line per submission: file, assignment, id, each question, SCORE/TOTAL.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
memlab_venv
root="$MEMLAB_ROOT"
if [ "$#" -eq 0 ]; then
    set -- build
fi
command="$1"
shift
case "$command" in
    build)
        cd "$root"
        exec "$MEMLAB_PY" -m memlab.homework --homework "$root/homework" build "$@" ;;
    grade)
        # Submissions are named relative to where the command was started.
        exec "$MEMLAB_PY" -m memlab.homework --homework "$root/homework" grade "$@" ;;
    *)
        echo "usage: bash scripts/homework.sh [build [NAME ...] | grade SUBMISSION.ipynb ...]" >&2
        exit 2 ;;
esac
