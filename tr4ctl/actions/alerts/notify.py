"""Sending alerts to TR4CTL_ALERT_WEBHOOK (plan/alerts.py decides when). A webhook that
does not answer never fails the command that noticed the incident: it is a warning,
and the URL (a secret) is never shown, only its host."""

from __future__ import annotations

from tr4ctl.plan.alerts import STATE_KEY, decide, open_from_state
from tr4ctl.runtime import Runtime

TIMEOUT_SECONDS = 5.0


def alert_safely(rt: Runtime, incident: str, failing: bool, text: str) -> None:
    """report_incident, where a broken alert never hides the command's own outcome."""
    try:
        report_incident(rt, incident, failing, text)
    except Exception as exc:  # noqa: BLE001 - see above
        rt.out.warn(f"alert not sent: {type(exc).__name__}")


def report_incident(rt: Runtime, incident: str, failing: bool, text: str) -> None:
    from tr4ctl.project.audit import record
    from tr4ctl.project.state import now_text, read_state, update_state

    url = rt.config.alert_webhook
    if not url:
        return
    now = now_text()
    alert, still_open = decide(open_from_state(read_state(rt.paths).get(STATE_KEY)),
                               incident, failing, text, now)
    if alert is None:
        return
    sent = _post(rt, url, alert.payload(rt.names.project, now))
    record(rt.paths, "alert", incident=incident, resolved=alert.resolved, sent=sent)
    if sent:  # unsent: tried again when the incident is next seen
        update_state(rt.paths, **{STATE_KEY: still_open})


def _post(rt: Runtime, url: str, payload: dict) -> bool:
    import httpx

    host = httpx.URL(url).host
    try:
        answer = httpx.post(url, json=payload, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        rt.out.warn(f"the alert webhook at {host} did not answer ({type(exc).__name__})")
        return False
    if not answer.is_success:
        rt.out.warn(f"the alert webhook at {host} answered {answer.status_code}")
        return False
    return True
