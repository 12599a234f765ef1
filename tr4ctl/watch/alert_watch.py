"""The alert-watch service's program (TR4CTL_ALERT_WEBHOOK): the stack watching itself,
not only when someone runs a command. Rendered into the service after the text of
plan/alerts.py, whose `decide` it calls: one rule for when an incident fires and
resolves, here and in the CLI. Stdlib only, no `from __future__` (it runs as one
script in the backend's image, where tr4ctl is not installed).

Every POLL seconds it looks at: the backend's readiness (/ready, which reports Chroma
and the database; /health for a backend without /ready), nginx answering, and free
space in the backend's data volume. Something failing for AFTER seconds fires one
alert; its end, one recovery. No Docker socket: that is root on the host."""

import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request

try:  # in the tests; in the service, plan/alerts.py's text comes first
    from tr4ctl.plan.alerts import decide
except ImportError:
    pass

ENV = os.environ
PROJECT = ENV.get("TR4CTL_PROJECT", "tr4ction")
AFTER = float(ENV.get("TR4CTL_ALERT_AFTER", "60"))
POLL = float(ENV.get("TR4CTL_ALERT_POLL", "5"))
BACKEND = ENV.get("TR4CTL_WATCH_BACKEND", "http://backend:8000")
NGINX = ENV.get("TR4CTL_WATCH_NGINX", "http://nginx:80")
DATA_DIR = ENV.get("TR4CTL_WATCH_DATA", "/watch/backend_data")
MIN_FREE = int(ENV.get("TR4CTL_MIN_FREE_BYTES", str(3 * 1024**3)))
WEBHOOK_FILE = ENV.get("TR4CTL_ALERT_WEBHOOK_FILE", "/run/secrets/alert_webhook")
STATE_FILE = ENV.get("TR4CTL_ALERT_STATE", "/tmp/tr4ctl-alerts/state.json")
TIMEOUT = 5.0


def get(url):
    """(status, body) of a GET; (None, reason) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:
            return answer.status, answer.read(4096).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(4096).decode("utf-8", "replace")
    except (OSError, ValueError) as error:
        return None, type(error).__name__


def backend_problem():
    """None when the backend is ready, else why not."""
    status, body = get(BACKEND + "/ready")
    if status == 404:  # a backend without /ready (README: Your own backend)
        status, body = get(BACKEND + "/health")
        return None if status == 200 else f"/health: {status or body}"
    if status == 200:
        return None
    try:
        checks = json.loads(body).get("checks", {})
        failing = [name for name, check in checks.items() if not check.get("ok")]
    except (ValueError, AttributeError):
        failing = []
    return f"not ready ({', '.join(failing) or status or body})"


def nginx_problem():
    status, reason = get(NGINX + "/health")
    return None if status is not None else f"nginx does not answer ({reason})"


def disk_problem():
    free = shutil.disk_usage(DATA_DIR).free
    if free >= MIN_FREE:
        return None
    return f"{free // 1024**2} MiB free in the backend's data volume"


WATCHED = {"backend": backend_problem, "nginx": nginx_problem, "disk": disk_problem}


def observe(failing_since, now):
    """(incident, failing for AFTER seconds, text) for each watched thing; `failing_since`
    (incident -> first time seen failing) is updated in place."""
    seen = []
    for incident, problem_of in WATCHED.items():
        try:
            problem = problem_of()
        except Exception as error:  # noqa: BLE001 - a broken probe is that thing failing
            problem = f"{type(error).__name__}"
        if problem is None:
            failing_since.pop(incident, None)
            seen.append((incident, False, f"[{PROJECT}] recovered: {incident} is fine again"))
            continue
        since = failing_since.setdefault(incident, now)
        seconds = int(now - since)
        seen.append((incident, now - since >= AFTER,
                     f"[{PROJECT}] {incident}: {problem} for {seconds} s"))
    return seen


def post(url, payload):
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return 200 <= answer.status < 300
    except (OSError, ValueError):
        return False


def utc(now):
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now))


def write_state(open_incidents, now):
    os.makedirs(os.path.dirname(STATE_FILE), exist_ok=True)
    with open(STATE_FILE + ".next", "w") as handle:
        json.dump({"format_version": 1, "open": open_incidents, "last_poll": utc(now)}, handle)
    os.replace(STATE_FILE + ".next", STATE_FILE)


def main():
    with open(WEBHOOK_FILE) as handle:
        url = handle.read().strip()
    open_incidents, failing_since = {}, {}
    while True:
        now = time.time()
        for incident, failing, text in observe(failing_since, now):
            alert, still_open = decide(open_incidents, incident, failing, text, utc(now))
            if alert is None:
                continue
            if post(url, alert.payload(PROJECT, utc(now))):  # unsent: tried at the next poll
                open_incidents = still_open
            # The URL is a secret: never printed, only what happened.
            print(json.dumps({"alert": incident, "resolved": alert.resolved,
                              "sent": open_incidents == still_open}), flush=True)
        write_state(open_incidents, now)
        time.sleep(POLL)


if __name__ == "__main__":
    sys.exit(main())
