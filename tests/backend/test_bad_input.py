import pytest

BAD_LOGIN_BODIES = [
    ("{not json", "application/json"),
    ('{"email": "a@b.test", "password": ', "application/json"),
    ("[]", "application/json"),
    ('"just a string"', "application/json"),
    ('{"email": 5, "password": true}', "application/json"),
    ('{"email": ["a"], "password": {"x": 1}}', "application/json"),
    ('{"email": "a@b.test"}', "application/json"),
    ('{"email": "' + "a" * 1_000_000 + '@b.test", "password": "x"}', "application/json"),
    ('{"email": "a@b.test", "password": "' + "p" * 1_000_000 + '"}', "application/json"),
    ('{"email": "a@b.test", "password": "x"}', "text/plain"),
    (b"\xff\xfe\x00garbage", "application/json"),
    ("", "application/json"),
]


@pytest.mark.parametrize(("body", "content_type"), BAD_LOGIN_BODIES)
def test_bad_login_bodies_get_4xx_json(client, body, content_type):
    response = client.post("/api/auth/login", content=body, headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500, response.text[:200]
    assert response.headers["content-type"].startswith("application/json")
    assert "detail" in response.json()


def test_validation_errors_do_not_echo_the_input(client):
    secret = "é" * 40  # over 72 bytes
    response = client.post("/api/auth/login", json={"email": "a@b.test", "password": secret})
    assert response.status_code == 422
    assert secret not in response.text


def test_bad_input_on_admin_routes_and_unknown_paths(client, users):
    from backend_helpers import auth_header

    headers = auth_header(client, users["admin"])
    for body in (
        "{",
        "null",
        '{"email": 1}',
        '{"email": "a@b.test", "role": "founder", "password": 5}',
    ):
        response = client.post(
            "/api/users", content=body, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 422
    assert client.get("/nope").status_code == 404
    assert client.delete("/health").status_code == 405
    assert client.get(
        "/api/auth/me", headers={"Authorization": "Bearer " + "x" * 100_000}
    ).status_code in (401, 431)


def test_unexpected_errors_become_json_500_with_request_id(make_client, monkeypatch):
    from app.api.routes import templates

    client = make_client()

    def explode(*_):
        raise RuntimeError("boom")

    monkeypatch.setattr(templates, "list_template_images", explode)
    client.app.dependency_overrides = {}
    from app.api.deps import get_current_user

    client.app.dependency_overrides[get_current_user] = lambda: None
    response = client.get("/api/templates", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert response.headers["x-request-id"] == "req-123"
