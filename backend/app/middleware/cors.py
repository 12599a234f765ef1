"""Starlette's CORSMiddleware, without its per-request cost for requests that are not
cross-origin.

Most requests carry no Origin header: Docker's healthcheck, same-origin calls through
nginx, server-to-server calls. For those, Starlette's middleware parses the request
headers twice and the response headers once, only to add `Vary: Origin`. Here they get
exactly that header and nothing else is done; requests with an Origin header (preflights
included) go through Starlette's code unchanged.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware as StarletteCORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from app.middleware.headers import has_header, response_headers, set_header


def add_vary_origin(message: Message) -> None:
    """What Starlette's CORSMiddleware does to a response to a request without Origin."""
    headers = response_headers(message)
    existing = [value.decode("latin-1") for key, value in headers if key == b"vary"]
    set_header(message, b"vary", ", ".join([*existing, "Origin"]).encode("latin-1"))


class CORSMiddleware(StarletteCORSMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or has_header(scope, b"origin"):
            await super().__call__(scope, receive, send)
            return

        async def send_with_vary(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_vary_origin(message)
            await send(message)

        await self.app(scope, receive, send_with_vary)
