#!/usr/bin/env bash
# README command 1: from a fresh machine to a healthy dev stack.
# Project dir: $TR4CTL_PROJECT_DIR or ./deploy; ports: 8080/8443 on 127.0.0.1 unless
# already set in that project's .env (change them with `tr4ctl config set`).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/bootstrap.sh"

export TR4CTL_PROJECT_DIR="${TR4CTL_PROJECT_DIR:-$repo/deploy}"
mkdir -p "$TR4CTL_PROJECT_DIR"
tr4ctl="$repo/.venv/bin/tr4ctl"

"$tr4ctl" init
"$tr4ctl" config set --if-unset TR4CTL_BIND_ADDRESS=127.0.0.1 TR4CTL_HTTP_PORT=8080 \
  TR4CTL_HTTPS_PORT=8443
# This kind of machine reaches no image registry: build the images from packages.
"$tr4ctl" images build-local
"$tr4ctl" up --env dev
port=$("$tr4ctl" --json config show | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["settings"]["TR4CTL_HTTP_PORT"])')
echo "GET http://127.0.0.1:$port/health -> $(curl -fsS "http://127.0.0.1:$port/health")"
