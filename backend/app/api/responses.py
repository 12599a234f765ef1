"""The error answers each route really gives, for the API document: FastAPI lists only
the success answer and 422 by itself, so a client reading /openapi.json would not know
about refusals it must handle."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    detail: str


def _error(description: str, **headers: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"model": ErrorBody, "description": description}
    if headers:
        answer["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                             for name, text in headers.items()}
    return answer


NOT_AUTHENTICATED = {
    401: _error("No bearer token, or an invalid or expired one",
                **{"WWW-Authenticate": "Bearer"}),
}
NOT_ADMIN = {403: _error("The token's account is not an admin")}
BAD_CREDENTIALS = {401: _error("Invalid email or password")}
LOGIN_THROTTLED = {
    429: _error("Too many failed logins from this address",
                **{"Retry-After": "Seconds until the next attempt is accepted"}),
}
EMAIL_TAKEN = {409: _error("An account with this email exists")}
NOT_READY = {503: {"description": "A dependency is not ready; the body says which"}}
