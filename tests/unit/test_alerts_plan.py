"""Alerts without a network: once per incident, once at recovery; the webhook masked."""

from __future__ import annotations

from tr4ctl.plan.alerts import decide, open_from_state, release_text
from tr4ctl.plan.masking import shown


def test_an_incident_fires_once_and_resolves_once():
    alert, opened = decide({}, "release", True, "deploy failed", "t1")
    assert alert and not alert.resolved and opened == {"release": "t1"}
    again, still = decide(opened, "release", True, "deploy failed", "t2")
    assert again is None and still == opened  # no second alert while it lasts
    done, closed = decide(still, "release", False, "deploy succeeded", "t3")
    assert done and done.resolved and "since t1" in done.text and closed == {}
    assert decide(closed, "release", False, "ok", "t4") == (None, {})
    payload = alert.payload("tr4ction", "t1")
    assert payload["text"] == "deploy failed" and payload["status"] == "firing"


def test_state_and_texts():
    assert open_from_state(None) == {} and open_from_state({"release": 3}) == {}
    assert release_text("p", "deploy", True, "at ready").startswith("[p] deploy failed")


def test_the_webhook_url_is_a_secret():
    assert shown("TR4CTL_ALERT_WEBHOOK", "https://hooks.example.test/T0/B0/xyz") == "****"
