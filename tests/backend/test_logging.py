import json
import logging

import pytest
from app.core.logging import flush_logs
from backend_helpers import PASSWORD, auth_header, login


def request_lines(text: str) -> list[dict]:
    return [
        e
        for e in (json.loads(line) for line in text.splitlines() if line.strip())
        if e.get("msg") == "request"
    ]


def logged_requests(tmp_path) -> list[dict]:
    # Lines are written by the logging thread: wait for it before reading.
    assert flush_logs()
    return request_lines((tmp_path / "stdout.log").read_text())


@pytest.fixture
def client(app_stdout, make_client):
    return make_client()


def test_one_json_line_per_request_with_echoed_request_id(client, tmp_path):
    response = client.get("/api/auth/me", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = client.get("/api/auth/me").headers["x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0

    lines = logged_requests(tmp_path)
    assert [line["request_id"] for line in lines] == ["abc-123", generated]
    line = lines[0]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/auth/me", 401)
    assert line["level"] == "INFO" and line["logger"] == "app.request"
    assert isinstance(line["duration_ms"], float)


def test_health_keeps_its_request_id_but_is_not_logged_at_info(client, tmp_path):
    response = client.get("/health")
    assert response.status_code == 200 and len(response.headers["x-request-id"]) == 32
    client.get("/api/auth/me", headers={"X-Request-ID": "after-health"})
    assert [line["request_id"] for line in logged_requests(tmp_path)] == ["after-health"]


def test_health_named_by_the_caller_is_logged(client, tmp_path):
    # nginx names every request it proxies, and `tr4ctl verify` follows such a /health
    # into the backend's output (`docker logs`).
    client.get("/health", headers={"X-Request-ID": "via-nginx"})
    lines = logged_requests(tmp_path)
    assert [(line["request_id"], line["path"], line["status"]) for line in lines] == [
        ("via-nginx", "/health", 200)
    ]


def test_health_lines_at_debug_level_in_debug_mode(app_stdout, make_client, tmp_path):
    client = make_client(DEBUG_MODE="true")
    request_id = client.get("/health").headers["x-request-id"]
    lines = logged_requests(tmp_path)
    assert [(line["request_id"], line["level"]) for line in lines] == [(request_id, "DEBUG")]


def test_hostile_request_id_is_replaced(client):
    response = client.get("/health", headers={"X-Request-ID": 'x" injected\\'})
    assert response.headers["x-request-id"] != 'x" injected\\'


def test_no_secret_reaches_a_log_line_during_login_flow(client, users, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    headers = auth_header(client, users["admin"])
    token = headers["Authorization"].split()[1]
    login(client, users["admin"]["email"], "wrong password!!")
    client.get("/api/auth/me", headers=headers)
    client.get("/api/users?token=" + token, headers=headers)
    client.post(
        "/api/users",
        json={"email": "n@tr4ction.test", "role": "founder", "password": PASSWORD + "x"},
        headers=headers,
    )
    with client.app.state.db.session() as session:
        from app import users_repo

        stored_hash = users_repo.get_by_email(session, "admin@tr4ction.test").password_hash

    # Everything the app logged (the test's own HTTP client logs its URLs: not ours).
    app_records = [str(vars(r)) for r in caplog.records if r.name != "httpx"]
    assert flush_logs()
    logged = "\n".join(app_records) + (tmp_path / "stdout.log").read_text()
    assert request_lines((tmp_path / "stdout.log").read_text())
    for secret in (PASSWORD, "wrong password!!", token, stored_hash, "Bearer", "$2b$"):
        assert secret not in logged


def test_redaction_is_a_safety_net_for_mistakes(client, caplog):
    from app.core.logging import JsonFormatter

    record = logging.LogRecord(
        "x",
        logging.INFO,
        "",
        0,
        "auth header Bearer abc.def.ghi hash %s",
        ("$2b$04$" + "a" * 53,),
        None,
    )
    record.password = "hunter2"
    line = JsonFormatter().format(record)
    assert "abc.def.ghi" not in line and "hunter2" not in line and "$2b$04$" not in line
