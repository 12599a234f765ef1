#!/usr/bin/env bash
# README command 2 (and CI): set up a fresh machine, then run every test, the stack
# tests against a real Docker engine included. Extra arguments go to pytest.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/bootstrap.sh"
cd "$repo"
exec "$repo/.venv/bin/python" -m pytest "$@"
