"""One JSON log line per request, tagged with a request id echoed in X-Request-ID.

A pure ASGI middleware (not BaseHTTPMiddleware) to keep /health cheap. It logs the path
without the query string, and never headers or bodies.

Liveness probes (QUIET_PATHS) are logged at debug only: Docker's healthcheck alone asks
every second, and a line each would drown the real requests and cost more than the
answer. They are logged as usual when they fail, and when the caller named the request
with an X-Request-ID: nginx does for everything it proxies, so a /health that came
through nginx can still be followed into app.log (`tr4ctl verify` does).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.middleware.headers import first_header, set_header

log = logging.getLogger("app.request")
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_INTERNAL_ERROR = json.dumps({"detail": "internal server error"}).encode()
QUIET_PATHS = frozenset({"/health"})


def request_id_from(scope: Scope) -> tuple[str, bool]:
    """The caller's id if acceptable (and True), else a new one (and False)."""
    incoming = (first_header(scope, b"x-request-id") or b"").decode("latin-1")
    if _ACCEPTABLE_ID.match(incoming):
        return incoming, True
    # 128 random bits as 32 hex digits, the shape uuid4().hex had, at a quarter the cost.
    return secrets.token_hex(16), False


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id, named = request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_code = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status_code, response_started
            if message["type"] == "http.response.start":
                status_code = message["status"]
                response_started = True
                set_header(message, b"x-request-id", request_id.encode("latin-1"))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Answer here so the client still gets JSON and the request id; the traceback
            # goes to the log only.
            log.exception("unhandled error", extra={"request_id": request_id})
            if not response_started:
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(_INTERNAL_ERROR)).encode()),
                        ],
                    }
                )
                await send_with_id({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            quiet = scope["path"] in QUIET_PATHS and status_code < 400 and not named
            level = logging.DEBUG if quiet else logging.INFO
            if log.isEnabledFor(level):
                log.log(
                    level,
                    "request",
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
