"""Alerts (TR4CTL_ALERT_WEBHOOK): one message when an incident starts, one when it is
over, never one per failing command in between. Pure: the caller passes the open
incidents (state.json) and gets back what to send and what stays open.

Used by the commands (a failed deploy or rollback, a failed `cert renew`) and by the
stack's alert-watch service (tr4ctl/watch/alert_watch.py runs after this file's text:
keep it stdlib-only and free of tr4ctl imports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATE_KEY = "alerts_open"
FORMAT = 1


@dataclass(frozen=True)
class Alert:
    incident: str  # e.g. "release": what is failing, one open incident each
    resolved: bool
    text: str

    def payload(self, project: str, now: str) -> dict[str, Any]:
        """Slack's incoming webhooks read `text`; the rest is for other receivers."""
        return {"text": self.text, "project": project, "incident": self.incident,
                "status": "resolved" if self.resolved else "firing", "time": now,
                "format": FORMAT}


def decide(open_incidents: dict[str, str], incident: str, failing: bool, text: str,
           now: str) -> tuple[Alert | None, dict[str, str]]:
    """The alert to send (or None) and the open incidents after it: an incident fires
    once when it starts and resolves once when it is over."""
    is_open = incident in open_incidents
    if failing and not is_open:
        return Alert(incident, False, text), {**open_incidents, incident: now}
    if not failing and is_open:
        since = open_incidents[incident]
        rest = {k: v for k, v in open_incidents.items() if k != incident}
        return Alert(incident, True, f"{text} (failing since {since})"), rest
    return None, open_incidents


def open_from_state(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}


def release_text(project: str, command: str, failed: bool, detail: str) -> str:
    if failed:
        return f"[{project}] {command} failed: {detail}"
    return f"[{project}] recovered: {command} succeeded ({detail})"


def renewal_text(project: str, failed: bool, detail: str) -> str:
    if failed:
        return f"[{project}] certificate renewal failed: {detail}"
    return f"[{project}] recovered: certificate renewal succeeded"
