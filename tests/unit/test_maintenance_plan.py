"""Maintenance mode without Docker: the message made safe for HTML, JSON and an nginx
string literal, the rendered gate, and the state record."""

from __future__ import annotations

import html
import json
import re

import pytest

from tests.unit.test_render import load_stack_inputs, settings
from tests.unit.test_render import render_nginx as render_plain
from tr4ctl.actions.nginx.apply import served_label
from tr4ctl.errors import BadInput
from tr4ctl.plan import stack
from tr4ctl.plan.environments import NginxMode
from tr4ctl.plan.maintenance import (
    DEFAULT_MESSAGE,
    MAX_MESSAGE,
    Maintenance,
    check_message,
    from_state,
    html_body,
    json_body,
)

HOSTILE = "</p><script>alert('x')</script> $host ${uri} \\\" ; } { # \u00e9\u202e"


def nginx_unquote(literal: str) -> str:
    """What nginx makes of a single-quoted string's content (ngx_conf_file.c)."""
    return re.sub(r"\\([\"'\\tnr])", lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(
        m.group(1), m.group(1)), literal)


def test_hostile_message_is_escaped_for_html_json_and_nginx():
    message = check_message(HOSTILE)
    for literal in (html_body(message), json_body(message)):
        assert "'" not in literal and "$" not in literal
    page = nginx_unquote(html_body(message))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert html.unescape(re.search(r"<p>(.*)</p>", page).group(1)) == message
    assert json.loads(nginx_unquote(json_body(message)))["detail"] == message


def test_message_is_capped_cleaned_and_defaulted():
    assert check_message(None) == DEFAULT_MESSAGE
    assert check_message("a\nb\x00\tc  d") == "a b c d"
    with pytest.raises(BadInput) as long:
        check_message("x" * (MAX_MESSAGE + 1))
    assert str(MAX_MESSAGE) in long.value.hint
    with pytest.raises(BadInput):
        check_message(" \n ")


def test_state_record_reads_back_and_a_strange_one_is_off():
    record = Maintenance("Upgrading", "2026-12-05T00:00:00+00:00")
    assert from_state(record.as_state()) == record
    assert from_state(None) is None and from_state({"message": 3}) is None
    assert from_state({"message": "x" * 5000}).message == DEFAULT_MESSAGE


def render(mode, maintenance, **values):
    config = settings(**values)
    inputs = stack.StackInputs(**{**load_stack_inputs(config).__dict__,
                                  "maintenance": maintenance})
    return stack.render_nginx(config, mode, inputs)


@pytest.mark.parametrize("mode", list(NginxMode))
def test_the_gate_is_rendered_only_when_on_and_spares_health_and_acme(mode):
    values = {"domain": "api.example.test"} if mode is NginxMode.PROD else {}
    off = render(mode, None, **values)
    assert off == render_plain(settings(**values), mode)
    assert "tr4ctl_maintenance" not in off and served_label(off) == mode.value
    on = render(mode, Maintenance(check_message(HOSTILE), "now"), **values)
    assert served_label(on) == f"{mode.value} maintenance"
    assert f'return 200 "ok {mode.value} maintenance\\n";' in on
    assert "/health 0;" in on and "~^/\\.well-known/acme-challenge/ 0;" in on
    assert on.count("add_header Retry-After 120 always;") == 2
    assert on.count("rewrite ^ /.tr4ctl-maintenance/$tr4ctl_maintenance last;") == 1


def test_cli_refuses_a_long_message_in_one_line_with_nothing_written(tmp_path):
    import subprocess
    import sys

    (tmp_path / ".env").write_text("")
    done = subprocess.run([sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path),
                           "maintenance", "on", "--message", "x" * (MAX_MESSAGE + 1)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--message" in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / ".tr4ctl" / "state.json").exists()
