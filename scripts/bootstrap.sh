#!/usr/bin/env bash
# Everything a fresh Debian 12, Debian 13, Ubuntu 22.04 or 24.04 machine needs before
# tr4ctl runs: a Python >= 3.11 with its venv module (the distribution's python3.11 where
# the default is older: host_packages.py), a Docker engine with the compose v2 plugin
# (provision-docker.sh), and a virtualenv with tr4ctl (and its test tools) installed.
# Idempotent; one line at the end says what it found and what it installed.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[bootstrap] %s\n' "$*" >&2; }
# shellcheck source=host-common.sh
. "$repo/scripts/host-common.sh"

at_least_311() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

host_plan python
# shellcheck disable=SC2086  # PACKAGES is a space-separated list of package names
apt_install $PACKAGES
python=$(command -v "$PYTHON" || true)
if [ -z "$python" ] || ! at_least_311 "$python"; then
  log "$HOST: $PYTHON is missing or older than 3.11 after installing $PACKAGES"
  exit 3
fi

bash "$repo/scripts/provision-docker.sh"

venv="$repo/.venv"
stamp="$venv/.tr4ctl-installed"
if [ -x "$venv/bin/python" ] && ! at_least_311 "$venv/bin/python"; then
  # Made by an older Python (say Ubuntu 22.04's 3.10): made anew with $PYTHON.
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
# Reinstall only when the project's metadata changed.
want=$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -e "$repo[test]" 2>&1 \
    | grep -v "^WARNING: Location" >&2 || true
  "$venv/bin/tr4ctl" --version >/dev/null
  echo "$want" >"$stamp"
  ALL_INSTALLED+=("tr4ctl into $venv")
fi
# Bytecode ahead of time, as a wheel install has it: an editable install under
# PYTHONDONTWRITEBYTECODE would compile every module on every command (~40 ms).
"$venv/bin/python" -m compileall -q "$repo/tr4ctl" >/dev/null
log "$HOST: $PYTHON $("$venv/bin/python" -c 'import platform; print(platform.python_version())'); installed ${ALL_INSTALLED[*]:-nothing}"
