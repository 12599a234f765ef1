from datetime import UTC, datetime, timedelta

import jwt
import pytest
from backend_helpers import GOOD_SECRET, PASSWORD, auth_header, login

pytestmark = pytest.mark.each_database


def test_login_with_right_password_returns_bearer_token(client, users):
    response = login(client, "ADMIN@tr4ction.test", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 60 * 60
    claims = jwt.decode(body["access_token"], GOOD_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 3600


def test_login_with_wrong_password_or_unknown_email_is_401(client, users):
    assert login(client, "admin@tr4ction.test", "wrong password!!").status_code == 401
    assert login(client, "nobody@tr4ction.test", PASSWORD).status_code == 401


def test_login_rejects_password_over_72_bytes(client, users):
    response = login(client, "admin@tr4ction.test", "é" * 37)  # 74 bytes, 37 characters
    assert response.status_code == 422


def test_me_returns_current_user(client, users):
    response = client.get("/api/auth/me", headers=auth_header(client, users["admin"]))
    assert response.status_code == 200
    body = response.json()
    assert body.keys() == {"email", "name", "role", "created_at"}
    assert body["email"] == "admin@tr4ction.test"  # stored lowercased
    assert (body["name"], body["role"]) == ("Ada", "admin")
    datetime.fromisoformat(body["created_at"])


def test_missing_or_bad_token_is_401(client, users):
    assert client.get("/api/auth/me").status_code == 401
    assert client.get("/api/users").status_code == 401
    assert (
        client.get("/api/auth/me", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
    )
    assert client.get("/api/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_expired_forged_or_unsigned_tokens_are_401(client, users):
    now = datetime.now(UTC)
    expired = jwt.encode(
        {
            "sub": "1",
            "iat": now - timedelta(hours=2),
            "exp": now - timedelta(hours=1),
            "type": "access",
        },
        GOOD_SECRET,
        algorithm="HS256",
    )
    forged = jwt.encode(
        {"sub": "1", "iat": now, "exp": now + timedelta(hours=1), "type": "access"},
        "another-key-that-is-long-enough-32b",
        algorithm="HS256",
    )
    unsigned = jwt.encode(
        {"sub": "1", "iat": now, "exp": now + timedelta(hours=1), "type": "access"},
        None,
        algorithm="none",
    )
    for token in (expired, forged, unsigned):
        response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_founder_is_forbidden_on_admin_routes(client, users):
    headers = auth_header(client, users["founder"])
    assert client.get("/api/auth/me", headers=headers).status_code == 200
    assert client.get("/api/users", headers=headers).status_code == 403
    new = {"email": "x@tr4ction.test", "role": "founder", "password": PASSWORD}
    assert client.post("/api/users", json=new, headers=headers).status_code == 403


def test_admin_lists_and_creates_users(client, users):
    headers = auth_header(client, users["admin"])
    new = {
        "email": "New.Founder@Tr4ction.test",
        "role": "founder",
        "name": "Nia",
        "password": PASSWORD,
    }
    created = client.post("/api/users", json=new, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "new.founder@tr4ction.test"
    assert "password" not in created.text and "hash" not in created.text

    duplicate = client.post(
        "/api/users", json={**new, "email": "NEW.founder@tr4ction.test"}, headers=headers
    )
    assert duplicate.status_code == 409

    listed = client.get("/api/users", headers=headers).json()
    assert [u["email"] for u in listed] == [
        "admin@tr4ction.test",
        "founder@tr4ction.test",
        "new.founder@tr4ction.test",
    ]
    assert all(u.keys() == {"email", "name", "role", "created_at"} for u in listed)
    assert login(client, "new.founder@tr4ction.test", PASSWORD).status_code == 200


def test_admin_create_rejects_weak_input(client, users):
    headers = auth_header(client, users["admin"])
    base = {"email": "weak@tr4ction.test", "role": "founder", "password": PASSWORD}
    for bad in (
        {"password": "short"},
        {"password": "weak@tr4ction.test"},
        {"role": "root"},
        {"email": "not-an-email"},
        {"extra": 1},
    ):
        response = client.post("/api/users", json={**base, **bad}, headers=headers)
        assert response.status_code == 422, bad


def test_repeated_bad_logins_get_429_with_retry_after(make_client, users):
    client = make_client(LOGIN_RATE_LIMIT_ATTEMPTS=3, LOGIN_RATE_LIMIT_WINDOW_SECONDS=60)
    # make_client built a second app on the same database: the users are there.
    for _ in range(3):
        assert login(client, "admin@tr4ction.test", "wrong password!!").status_code == 401
    throttled = login(client, "Admin@tr4ction.test", PASSWORD)  # even the right password now
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert throttled.json() == {"detail": "too many failed login attempts"}
    # Keyed by (client IP, email): another email or another client is unaffected.
    assert login(client, "founder@tr4ction.test", PASSWORD + "!").status_code == 200
    assert (
        login(
            client, "admin@tr4ction.test", PASSWORD, headers={"X-Real-IP": "203.0.113.9"}
        ).status_code
        == 200
    )


def test_rate_limit_window_expires(client):
    from app.services.rate_limit import LoginRateLimiter

    now = [1000.0]
    limiter = LoginRateLimiter(client.app.state.db.engine, 2, 60, clock=lambda: now[0])
    key = ("198.51.100.1", "a@b.test")
    limiter.record_failure(key)
    now[0] += 10
    limiter.record_failure(key)
    assert limiter.retry_after(key) == 50
    now[0] += 50
    assert limiter.retry_after(key) is None
