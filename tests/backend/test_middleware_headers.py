"""The per-request shortcuts answer exactly as the Starlette code they replace."""

from __future__ import annotations

import pytest
from app.middleware.cors import CORSMiddleware
from app.middleware.headers import set_header
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware as StarletteCORSMiddleware
from starlette.responses import JSONResponse

CORS_OPTIONS = {
    "allow_origins": ["https://app.test"],
    "allow_methods": ["GET", "POST", "OPTIONS"],
    "allow_headers": ["Authorization", "Content-Type", "X-Request-ID"],
    "expose_headers": ["X-Request-ID", "Retry-After"],
}


def app_with(middleware) -> TestClient:
    app = FastAPI()

    @app.get("/plain")
    async def plain() -> dict:
        return {"ok": True}

    @app.get("/varies")
    async def varies() -> JSONResponse:
        return JSONResponse({"ok": True}, headers={"Vary": "Accept-Encoding"})

    app.add_middleware(middleware, **CORS_OPTIONS)
    return TestClient(app)


REQUESTS = [
    ("GET", "/plain", {}),
    ("GET", "/varies", {}),
    ("GET", "/plain", {"Origin": "https://app.test"}),
    ("GET", "/varies", {"Origin": "https://app.test"}),
    ("GET", "/plain", {"Origin": "https://evil.test"}),
    ("OPTIONS", "/plain", {"Origin": "https://app.test", "Access-Control-Request-Method": "GET"}),
    ("OPTIONS", "/plain", {"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"}),
    ("OPTIONS", "/plain", {}),
]


@pytest.mark.parametrize(("method", "path", "headers"), REQUESTS)
def test_cors_answers_like_starlettes(method, path, headers):
    ours = app_with(CORSMiddleware).request(method, path, headers=headers)
    theirs = app_with(StarletteCORSMiddleware).request(method, path, headers=headers)
    assert ours.status_code == theirs.status_code
    assert ours.headers.multi_items() == theirs.headers.multi_items()
    assert ours.content == theirs.content


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-type", b"application/json")],
        [(b"x-request-id", b"old"), (b"content-type", b"application/json")],
        [(b"x-request-id", b"a"), (b"content-type", b"text/plain"), (b"x-request-id", b"b")],
        (),
    ],
)
def test_set_header_is_mutableheaders_assignment(headers):
    ours = {"type": "http.response.start", "status": 200, "headers": list(headers)}
    theirs = {"type": "http.response.start", "status": 200, "headers": list(headers)}
    set_header(ours, b"x-request-id", b"new")
    MutableHeaders(scope=theirs)["X-Request-ID"] = "new"
    assert ours["headers"] == theirs["headers"]


def test_request_id_is_echoed_on_cors_answers_too(client):
    response = client.options(
        "/api/auth/login",
        headers={
            "Origin": "https://app.tr4ction.test",
            "Access-Control-Request-Method": "POST",
            "X-Request-ID": "preflight-1",
        },
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "preflight-1"
    assert response.headers["access-control-allow-origin"] == "https://app.tr4ction.test"
