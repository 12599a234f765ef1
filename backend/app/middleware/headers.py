"""Header access on raw ASGI messages, for the middlewares that run on every request.

Starlette's Headers/MutableHeaders decode every header name to compare it; ASGI names
are already lower-case bytes, so a plain comparison does, and saves a few microseconds a
request on the health-check path.
"""

from __future__ import annotations

from starlette.types import Message, Scope


def has_header(scope: Scope, name: bytes) -> bool:
    return any(key == name for key, _ in scope["headers"])


def first_header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def response_headers(message: Message) -> list[tuple[bytes, bytes]]:
    """The message's header list, made a list in place as MutableHeaders does."""
    headers = message.get("headers")
    if not isinstance(headers, list):
        headers = message["headers"] = list(headers or ())
    return headers


def set_header(message: Message, name: bytes, value: bytes) -> None:
    """`MutableHeaders(scope=message)[name] = value`: replaces the first entry of that
    name and drops the others, or appends one."""
    headers = response_headers(message)
    found = [index for index, (key, _) in enumerate(headers) if key == name]
    if not found:
        headers.append((name, value))
        return
    headers[found[0]] = (name, value)
    for index in reversed(found[1:]):
        del headers[index]
