#!/usr/bin/env bash
# bench/ab.py (two refs' servers side by side, see bench/README.md) with the main checkout's interpreter,
# which both sides then use; PY=... overrides it.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
common=$(git -C "$root" rev-parse --path-format=absolute --git-common-dir)
py=${PY:-$(dirname "$common")/.venv/bin/python}
exec "$py" "$root/bench/ab.py" --python "$py" "$@"
