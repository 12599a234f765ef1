# Sourced by provision-docker.sh, bootstrap.sh and test.sh (each defines log()): the
# host's package choice (host_packages.py, from /etc/os-release) and apt.
scripts_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OS_RELEASE=/etc/os-release
ALL_INSTALLED=()

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

apt_update_once() {
  [ -n "${apt_updated:-}" ] && return 0
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
    apt-get update -qq
  fi
  apt_updated=1
}

has_candidate() {
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

# apt_install PKG...: installs those not installed yet; ALL_INSTALLED collects them.
# A package apt does not offer is refused before anything is installed (UNIVERSE, set by
# host_plan, names the ones from Ubuntu's universe component).
apt_install() {
  INSTALLED=()
  local pkg
  for pkg in "$@"; do
    is_installed "$pkg" || INSTALLED+=("$pkg")
  done
  [ ${#INSTALLED[@]} -eq 0 ] && return 0
  apt_update_once
  local unavailable=()
  for pkg in "${INSTALLED[@]}"; do
    has_candidate "$pkg" || unavailable+=("$pkg")
  done
  if [ ${#unavailable[@]} -gt 0 ]; then
    local hint="check this host's apt sources, then apt-get update"
    [ -n "${UNIVERSE:-}" ] && hint="$UNIVERSE come from Ubuntu's universe component: enable it (add-apt-repository universe), then apt-get update"
    log "apt offers no ${unavailable[*]}: $hint"
    exit 3
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${INSTALLED[@]}" >/dev/null
  ALL_INSTALLED+=("${INSTALLED[@]}")
}

# host_plan WHAT [OPTIONS]: sets HOST, PACKAGES, ... for this host (host_packages.py), or
# stops with its one-line refusal. It needs a python3 (any >= 3.8); a minimal system may
# have none yet, and python3 is the same package on every supported host.
host_plan() {
  if ! command -v python3 >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1 || ! grep -Eq '^ID="?(debian|ubuntu)"?$' "$OS_RELEASE"; then
      python3_missing_on="$(sed -n 's/^PRETTY_NAME=//p' "$OS_RELEASE" 2>/dev/null | tr -d '"')"
      log "unsupported host: ${python3_missing_on:-unknown}; supported: Debian 12, Debian 13, Ubuntu 22.04, Ubuntu 24.04"
      exit 3
    fi
    apt_install python3
  fi
  local plan
  plan=$(python3 "$scripts_dir/host_packages.py" "$OS_RELEASE" "$@") || exit 3
  eval "$plan"
}
