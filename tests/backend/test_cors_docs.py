import pytest
from backend_helpers import ALLOWED_ORIGIN, GOOD_SECRET

PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


def test_preflight_from_allowed_origin_is_accepted(client):
    response = client.options("/api/auth/login", headers={"Origin": ALLOWED_ORIGIN, **PREFLIGHT})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_preflight_from_other_origin_is_refused(client):
    response = client.options(
        "/api/auth/login", headers={"Origin": "https://evil.test", **PREFLIGHT}
    )
    assert response.status_code >= 400
    assert "access-control-allow-origin" not in response.headers


def test_simple_request_from_other_origin_gets_no_cors_header(client):
    response = client.get("/health", headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in response.headers


def test_origins_are_comma_separated_and_trailing_slashes_ignored(make_client):
    client = make_client(CORS_ORIGINS=" https://a.test/ ,https://b.test")
    for origin in ("https://a.test", "https://b.test"):
        response = client.options("/health", headers={"Origin": origin, **PREFLIGHT})
        assert response.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_docs_served_in_development(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_docs_hidden_in_production(make_client, path):
    client = make_client(ENVIRONMENT="production", JWT_SECRET_KEY=GOOD_SECRET)
    assert client.get(path).status_code == 404
