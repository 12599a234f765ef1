#!/usr/bin/env bash
# README command 2 (and CI): set up a fresh machine, then run every test, the stack
# tests against a real Docker engine included. Extra arguments go to pytest.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[test] %s\n' "$*" >&2; }
bash "$repo/scripts/bootstrap.sh"
# The backend tests start their own PostgreSQL server from the host's binaries
# (tests/backend/postgres_server.py): this distribution's server, for the tests only.
# shellcheck source=host-common.sh
. "$repo/scripts/host-common.sh"
host_plan test
# shellcheck disable=SC2086  # PACKAGES is a space-separated list of package names
apt_install $PACKAGES
state="already installed"
[ ${#ALL_INSTALLED[@]} -eq 0 ] || state="installed now"
log "$HOST: the backend tests' PostgreSQL server: $PACKAGES, $state"
cd "$repo"
exec "$repo/.venv/bin/python" -m pytest "$@"
