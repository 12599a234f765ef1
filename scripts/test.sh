#!/usr/bin/env bash
# README command 2 (and CI): set up a fresh machine, then run every test, the stack
# tests against a real Docker engine included. Extra arguments go to pytest.
#
# Two pytest processes run side by side: the tests marked own_engine (engines or SSH
# hosts of their own, never the host's stacks) in the background, logged to
# build/test-logs/own_engine.log and printed when done, and every other test in the
# foreground. Extra arguments go to both (a -m is joined to each group's marker). When
# the arguments name test files or ids, one pytest runs them, as given.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[test] %s\n' "$*" >&2; }
bash "$repo/scripts/bootstrap.sh"
# The backend tests start their own PostgreSQL server from the host's binaries
# (tests/backend/postgres_server.py): this distribution's server, for the tests only;
# tmux, the terminal the table-width tests draw in; Chromium, the report test's browser.
# shellcheck source=host-common.sh
. "$repo/scripts/host-common.sh"
host_plan test
# shellcheck disable=SC2086  # PACKAGES is a space-separated list of package names
apt_install $PACKAGES
state="already installed"
[ ${#ALL_INSTALLED[@]} -eq 0 ] || state="installed now"
log "$HOST: for the tests (a PostgreSQL server, tmux, Chromium): $PACKAGES, $state"
cd "$repo"
python="$repo/.venv/bin/python"

# pytest's options whose value is the next argument (a -k expression is no test path).
takes_value=" -k -m -p -c -o -W -r --deselect --ignore --ignore-glob --basetemp --rootdir
  --confcutdir --durations --durations-min --junitxml --junit-xml --maxfail --tb --color
  --import-mode --log-level --log-file --log-cli-level --override-ini --capture "
marks="" names_tests=false args=() after=""
for arg in "$@"; do
  if [ "$after" = -m ]; then marks=$arg; after=""; continue; fi
  if [ -n "$after" ]; then args+=("$arg"); after=""; continue; fi
  case $arg in
    -m) after=-m ;;
    -m?*) marks=${arg#-m} ;;
    -*) args+=("$arg"); [[ $takes_value != *" $arg "* ]] || after=$arg ;;
    *) args+=("$arg"); [[ $arg != *::* && ! -e ${arg%%::*} ]] || names_tests=true ;;
  esac
done
if $names_tests; then
  exec "$python" -m pytest "$@"
fi

group_mark() {
  if [ -n "$marks" ]; then printf '%s and (%s)' "$1" "$marks"; else printf '%s' "$1"; fi
}
logs="$repo/build/test-logs"
mkdir -p "$logs"
own_log="$logs/own_engine.log" main_log="$logs/main.log"
# Each pytest is a session (and process group) of its own, with SIGINT's default handling
# (a background job of a script starts with it ignored): one SIGINT to the group, sent
# below, is the Ctrl-C pytest knows, and its fixtures' teardown runs.
start() {  # exec: the job's pid ($!) is the session's and pytest's
  exec setsid env --default-signal=INT "$python" -m pytest -m "$(group_mark "$1")" "${args[@]}"
}
start own_engine >"$own_log" 2>&1 &
own_pid=$!
# The foreground group is shown as it runs and kept for the summary; tee outlives a Ctrl-C
# so the teardown's output still has somewhere to go.
start "not own_engine" > >(trap '' INT TERM; exec tee "$main_log") 2>&1 &
main_pid=$!
log "own_engine tests in the background (log: $own_log), the others here"

interrupted=""
stop() {
  interrupted=$1
  log "stopping both pytest runs (their teardown runs)"
  kill -INT -- "-$own_pid" "-$main_pid" 2>/dev/null || true
}
trap 'stop 130' INT
trap 'stop 143' TERM
main_rc=0 own_rc=0
finish() {  # wait returns early when a trapped signal comes: wait again until it is gone
  local pid=$1 rc=0
  while kill -0 "$pid" 2>/dev/null; do wait "$pid" || true; done
  wait "$pid" || rc=$?
  printf -v "$2" '%s' "$rc"
}
finish "$main_pid" main_rc
finish "$own_pid" own_rc
wait  # tee
trap - INT TERM

printf '\n===== own_engine tests (%s) =====\n' "$own_log"
cat "$own_log"
summary() { grep -E ' in [0-9.]+s( \([0-9:]+\))?( =+)?$' "$1" | tail -1 || true; }
log "not own_engine: exit $main_rc: $(summary "$main_log")"
log "own_engine:     exit $own_rc: $(summary "$own_log")"
[ -z "$interrupted" ] || exit "$interrupted"
# 5 is pytest's "no tests collected": fine for one group, as long as the other ran some.
if [ "$main_rc" -eq 5 ] && [ "$own_rc" -eq 5 ]; then exit 5; fi
for rc in "$main_rc" "$own_rc"; do
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
done
exit 0
