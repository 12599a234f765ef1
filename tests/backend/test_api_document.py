"""The API document (/openapi.json, served in development) lists every answer the
routes really give: each route is driven to each of its answers here, and every status
seen must be in the document, for every route the document has."""

from __future__ import annotations

from backend_helpers import PASSWORD, auth_header, login


def test_every_answer_a_route_gives_is_in_the_api_document(make_client, users, fake_chroma):
    client = make_client(CHROMA_PORT=fake_chroma, LOGIN_RATE_LIMIT_ATTEMPTS=2)
    admin = auth_header(client, users["admin"])
    founder = auth_header(client, users["founder"])
    new_user = {"email": "new@tr4ction.test", "password": PASSWORD + "?", "role": "founder"}
    seen: set[tuple[str, str, int]] = set()

    def answer(method: str, path: str, **kwargs) -> None:
        seen.add((path, method.lower(), client.request(method, path, **kwargs).status_code))

    answer("GET", "/health")
    answer("GET", "/ready")
    answer("GET", "/version")
    seen.add(("/ready", "get", make_client().get("/ready").status_code))  # no Chroma: 503
    seen.add(("/api/auth/login", "post", login(client, users["admin"]["email"], PASSWORD).status_code))
    for _ in range(3):  # 401, 401, then 429
        answer("POST", "/api/auth/login", json={"email": "x@tr4ction.test", "password": "wrong"})
    answer("POST", "/api/auth/login", json={"email": "x@tr4ction.test"})
    for headers in (admin, {}):
        answer("GET", "/api/auth/me", headers=headers)
        answer("GET", "/api/templates", headers=headers)
    for headers in (admin, founder, {}):
        answer("GET", "/api/users", headers=headers)
    for headers in (admin, admin, founder, {}):  # 201, then 409 (taken), 403, 401
        answer("POST", "/api/users", headers=headers, json=new_user)
    answer("POST", "/api/users", headers=admin, json={"email": "bad"})

    document = client.get("/openapi.json").json()
    documented = {(path, method): {int(code) for code in operation["responses"]}
                  for path, operations in document["paths"].items()
                  for method, operation in operations.items()}
    assert {(path, method) for path, method, _ in seen} == set(documented)
    missing = sorted((path, method, code) for path, method, code in seen
                     if code not in documented[(path, method)])
    assert missing == []
    # What this issue was about, spelled out.
    assert {401, 429} <= documented[("/api/auth/login", "post")]
    assert {401, 403} <= documented[("/api/users", "get")]
    assert {401, 403, 409} <= documented[("/api/users", "post")]
    assert 401 in documented[("/api/auth/me", "get")]
    assert 503 in documented[("/ready", "get")]
    login_429 = document["paths"]["/api/auth/login"]["post"]["responses"]["429"]
    assert "Retry-After" in login_429["headers"]
