"""The alert-watch service: rendered only with a webhook, the URL a secret file, and its
program's notion of an incident (failing for TR4CTL_ALERT_AFTER seconds, then one alert
and one recovery through plan/alerts.py's `decide`)."""

from pathlib import Path

import pytest
import yaml
from test_render import render_compose, settings

from tr4ctl.assets import alert_watch_program
from tr4ctl.plan.alerts import decide
from tr4ctl.plan.environments import Environment
from tr4ctl.plan.layout import ProjectPaths
from tr4ctl.watch import alert_watch

URL = "https://hooks.example.test/services/T000/B000/very-secret-token"


def compose(**values):
    text = render_compose(settings(**values), Environment.DEV, ProjectPaths(Path("/srv/p")))
    return text, yaml.safe_load(text)


def test_no_webhook_no_watcher():
    _, doc = compose()
    assert "alert-watch" not in doc["services"]
    assert "alert_webhook" not in doc["secrets"]


@pytest.mark.parametrize("target", ["compose", "swarm"])
def test_the_watcher_gets_the_url_as_a_secret_file_only(target):
    text, doc = compose(alert_webhook=URL, alert_after=7.0, target=target)
    watcher = doc["services"]["alert-watch"]
    assert URL not in text and "very-secret-token" not in text
    assert watcher["secrets"] == ["alert_webhook"]
    assert doc["secrets"]["alert_webhook"]["file"] == "/srv/p/.tr4ctl/secrets/alert_webhook"
    assert watcher["environment"]["TR4CTL_ALERT_AFTER"] == "7"
    assert watcher["entrypoint"] == ["python3", "-c"]
    # compose reads `$` as interpolation: the program reaches python unchanged.
    assert watcher["command"][0].replace("$$", "$") == alert_watch_program()
    assert watcher["logging"]["driver"] == "json-file"
    if target == "swarm":
        assert doc["secrets"]["alert_webhook"]["name"].startswith("tr4ction_alert_webhook_")
        assert "very-secret" not in doc["secrets"]["alert_webhook"]["name"]


def test_the_program_is_the_rule_then_the_watcher():
    program = alert_watch_program()
    compile(program, "alert-watch", "exec")
    assert program.index("def decide(") < program.index("def observe(")


def test_an_incident_counts_only_once_it_lasted(monkeypatch):
    problems = {"backend": "not ready (chroma)"}
    monkeypatch.setattr(alert_watch, "AFTER", 30.0)
    monkeypatch.setattr(alert_watch, "WATCHED", {"backend": lambda: problems.get("backend")})
    since: dict[str, float] = {}
    opened: dict[str, str] = {}
    sent = []
    for now in (0.0, 10.0, 29.0, 31.0, 40.0, 50.0):
        if now == 50.0:
            problems.clear()
        for incident, failing, text in alert_watch.observe(since, now):
            alert, opened = decide(opened, incident, failing, text, str(now))
            if alert:
                sent.append((now, alert.resolved, alert.text))
    assert [(now, resolved) for now, resolved, _ in sent] == [(31.0, False), (50.0, True)]
    assert sent[0][2] == "[tr4ction] backend: not ready (chroma) for 31 s"
    assert sent[1][2].startswith("[tr4ction] recovered: backend is fine again (failing since")


def test_the_program_runs_without_tr4ctl_installed(tmp_path):
    """-S: no site-packages, as in the backend's image; it gets as far as the secret."""
    import subprocess
    import sys

    ran = subprocess.run([sys.executable, "-I", "-S", "-c", alert_watch_program()],
                         env={"TR4CTL_ALERT_WEBHOOK_FILE": str(tmp_path / "none")},
                         capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert ran.returncode == 1
    assert ran.stderr.strip().splitlines()[-1].startswith("FileNotFoundError"), ran.stderr
