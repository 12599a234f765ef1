#!/usr/bin/env bash
# Everything a fresh machine of this kind needs before tr4ctl runs: a Docker engine with
# the compose v2 plugin, and a virtualenv with tr4ctl (and its test tools) installed.
# Idempotent and quiet when there is nothing to do.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bash "$repo/scripts/provision-docker.sh"

venv="$repo/.venv"
stamp="$venv/.tr4ctl-installed"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# Reinstall only when the project's metadata changed.
want=$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[bootstrap] installing tr4ctl into $venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -e "$repo[test]" 2>&1 \
    | grep -v "^WARNING: Location" >&2 || true
  "$venv/bin/tr4ctl" --version >/dev/null
  echo "$want" >"$stamp"
fi
# Bytecode ahead of time, as a wheel install has it: an editable install under
# PYTHONDONTWRITEBYTECODE would compile every module on every command (~40 ms).
"$venv/bin/python" -m compileall -q "$repo/tr4ctl" >/dev/null
