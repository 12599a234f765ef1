import pytest

pytestmark = pytest.mark.each_database


def test_health_is_liveness_only(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_ready_names_chroma_when_unreachable_while_health_stays_up(client):
    response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert set(body["checks"]) == {"database", "data_dirs", "chroma"}
    assert body["checks"]["chroma"]["ok"] is False
    assert "unreachable" in body["checks"]["chroma"]["reason"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["data_dirs"]["ok"] is True
    assert client.get("/health").status_code == 200


def test_ready_when_chroma_answers_heartbeat(make_client, fake_chroma):
    client = make_client(CHROMA_PORT=fake_chroma)
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert all(check["ok"] and check["reason"] for check in body["checks"].values())


def test_ready_gives_up_on_a_silent_chroma_quickly(make_client):
    import socket
    import time

    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        client = make_client(CHROMA_PORT=silent.getsockname()[1], CHROMA_TIMEOUT_SECONDS=0.3)
        started = time.monotonic()
        body = client.get("/ready").json()
        elapsed = time.monotonic() - started
    assert body["checks"]["chroma"]["ok"] is False
    assert elapsed < 1.5
    assert client.get("/health").status_code == 200


def test_ready_reports_missing_data_dir(make_client, fake_chroma, tmp_path):
    client = make_client(CHROMA_PORT=fake_chroma)
    (tmp_path / "data" / "uploads").rmdir()
    body = client.get("/ready").json()
    assert body["status"] == "not_ready"
    assert body["checks"]["data_dirs"] == {
        "ok": False,
        "reason": f"{tmp_path / 'data' / 'uploads'} missing",
    }
