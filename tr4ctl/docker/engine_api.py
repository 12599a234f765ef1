"""Reads over the Docker Engine API on its unix socket: container states, volumes,
networks, images, the server version.

A read costs about a millisecond this way, against 40-70 ms for a docker CLI process;
`status` and the wait inside `up` ask several of them. The client is a few lines of
HTTP/1.1 on a socket: the docker SDK or httpx cost 100-250 ms of import on every
command, and even the standard library's http.client 15 ms (it pulls in the email
package); the engine answers GETs with Content-Length or chunked bodies, nothing else.
Writes (and anything when the engine is not on a unix socket: tcp://, ssh://) stay with
the docker CLI through the runner, pointed at the same engine (docker/endpoint.py).

The API version is negotiated, never pinned: the engine's own (`/_ping` says it, in the
ping each command makes anyway), capped at the newest one tr4ctl knows. The reader is
strict: an answer cut short, one that never comes, or one that is not JSON is an error
of its own, never taken for a whole answer or for "no engine".
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tr4ctl.docker.endpoint import DockerEndpoint
from tr4ctl.docker.failures import (
    api_failure,
    api_not_json,
    api_timed_out,
    api_truncated,
    client_too_old,
    engine_too_old,
    unreachable,
)

# Engine 20.10 speaks 1.41, the oldest tr4ctl supports (README); 1.51 is Engine 28's, the
# newest the tests prove. Every call used here exists unchanged between the two.
OLDEST_API = "1.41"
NEWEST_API = "1.51"
TIMEOUT = 30.0
# The engine's refusal of a client below its minimum (Engine 25+; 29 refuses below 1.44).
_MINIMUM_REFUSAL = re.compile(r"minimum supported api version is v?([0-9]+\.[0-9]+)", re.IGNORECASE)
_NO_BODY_STATUSES = {204, 304}
_MAX_LINE = 64 * 1024


def api_version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def negotiate(engine_version: str | None) -> str:
    """The API version to speak: the engine's, capped at the newest tr4ctl knows; an
    engine older than the oldest tr4ctl supports (or one that names no version) is
    refused with both versions named."""
    if not engine_version or not re.fullmatch(r"[0-9]+\.[0-9]+", engine_version):
        raise engine_too_old(engine_version, OLDEST_API)
    if api_version_key(engine_version) < api_version_key(OLDEST_API):
        raise engine_too_old(engine_version, OLDEST_API)
    return min(engine_version, NEWEST_API, key=api_version_key)


class HttpError(Exception):
    """The engine's answer could not be read as HTTP."""


class Truncated(HttpError):
    """The connection ended before the answer did."""


class NothingReceived(HttpError):
    """The connection ended before the first byte of an answer (a kept-alive
    connection the engine closed meanwhile)."""


class ByteStream(Protocol):
    """What read_response reads from: io.BytesIO's semantics (short reads at the end)."""

    def readline(self, limit: int = ...) -> bytes: ...

    def read(self, size: int = ...) -> bytes: ...


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


def _line(stream: ByteStream, where: str) -> bytes:
    line = stream.readline(_MAX_LINE)
    if not line.endswith(b"\n"):
        if len(line) >= _MAX_LINE:
            raise HttpError(f"a line over {_MAX_LINE} bytes {where}")
        raise Truncated(f"the connection ended {where}")
    return line


def _exactly(stream: ByteStream, size: int, where: str) -> bytes:
    data = stream.read(size)
    if len(data) < size:
        raise Truncated(f"the connection ended {where} ({len(data)} of {size} bytes)")
    return data


def read_response(stream: ByteStream) -> Response:
    """One HTTP/1.1 response, read to its exact end (the connection stays usable)."""
    first = stream.readline(_MAX_LINE)
    if not first:
        raise NothingReceived("the connection ended before any answer")
    if not first.endswith(b"\n"):
        raise Truncated("the connection ended inside the status line")
    parts = first.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise HttpError(f"not an HTTP answer: {first[:60]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    while (line := _line(stream, "inside the headers")) not in (b"\r\n", b"\n"):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return Response(status, _chunked(stream), headers)
    if "content-length" in headers:
        length = headers["content-length"]
        if not length.isdigit():
            raise HttpError(f"a bad Content-Length: {length[:20]!r}")
        return Response(status, _exactly(stream, int(length), "inside the body"), headers)
    if status in _NO_BODY_STATUSES or status < 200:
        return Response(status, b"", headers)
    if headers.get("connection", "").lower() == "close":
        return Response(status, stream.read(), headers)
    raise HttpError("an answer with neither a Content-Length nor chunked encoding")


def _chunked(stream: ByteStream) -> bytes:
    chunks = []
    while True:
        size_text = _line(stream, "before the last chunk").split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise HttpError(f"a bad chunk size: {size_text[:20]!r}") from None
        if size == 0:
            break
        chunks.append(_exactly(stream, size, "inside a chunk"))
        if _line(stream, "after a chunk") not in (b"\r\n", b"\n"):
            raise HttpError("a chunk longer than its size")
    while _line(stream, "inside the trailer") not in (b"\r\n", b"\n"):
        pass  # trailer fields: none the engine sends that tr4ctl needs
    return b"".join(chunks)


class _SocketStream:
    """A buffered reader on the socket with one deadline for the whole answer (a
    per-read timeout would let a trickling answer last forever)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = bytearray()
        self.deadline = 0.0
        self.received = 0  # bytes of the current answer

    def begin(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.received = len(self.buffer)

    def _fill(self) -> bool:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        self.buffer += data
        self.received += len(data)
        return bool(data)

    def readline(self, limit: int = _MAX_LINE) -> bytes:
        while (end := self.buffer.find(b"\n", 0, limit)) < 0 and len(self.buffer) < limit:
            if not self._fill():
                break
        size = end + 1 if end >= 0 else min(len(self.buffer), limit)
        return self._take(size)

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self.buffer) < size) and self._fill():
            pass
        return self._take(len(self.buffer) if size < 0 else min(size, len(self.buffer)))

    def _take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


class EngineAPI:
    """One keep-alive connection to the engine, for the duration of a command. Requests
    from several threads (build-local checks its images in parallel) take turns on it:
    interleaved, one thread would read another's answer."""

    def __init__(self, path: Path, timeout: float = TIMEOUT):
        self.path = path
        self.timeout = timeout
        self._socket: socket.socket | None = None
        self._stream: _SocketStream | None = None
        self._turn = threading.Lock()
        self._version: str | None = None

    @property
    def version(self) -> str:
        """The negotiated API version (one ping, made by the first call that needs it)."""
        if self._version is None:
            status, message = self._ping()
            if status != 200:
                raise api_failure("GET", "/_ping", status, message)
        assert self._version is not None
        return self._version

    def get(self, path: str, query: Mapping[str, Any] | None = None, *,
            missing_ok: bool = False) -> Any:
        """The decoded JSON answer; None for a 404 when missing_ok."""
        target = f"/v{self.version}{path}"
        if query:
            target += "?" + urllib.parse.urlencode(
                {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in query.items()})
        response = self._request("GET", target, path)
        if response.status == 404 and missing_ok:
            return None
        if response.status >= 400:
            message = _message(response.body)
            if response.status == 400 and (minimum := _MINIMUM_REFUSAL.search(message)):
                raise client_too_old(minimum.group(1), self.version)
            raise api_failure("GET", path, response.status, message)
        if not response.body:
            return None
        try:
            return json.loads(response.body)
        except ValueError:
            raise api_not_json("GET", path, response.body) from None

    def _request(self, method: str, target: str, call: str) -> Response:
        request = f"{method} {target} HTTP/1.1\r\nHost: docker\r\n\r\n".encode()
        with self._turn:
            return self._exchange(request, f"{method} {call}")

    def _exchange(self, request: bytes, call: str) -> Response:
        for attempt in (1, 2):
            reused = self._socket is not None
            try:
                if self._socket is None:
                    self._connect()
                assert self._socket is not None and self._stream is not None
                self._stream.begin(self.timeout)
                self._socket.sendall(request)
                response = read_response(self._stream)
            except TimeoutError:
                self.close()
                raise api_timed_out(call, self.timeout, str(self.path)) from None
            except (NothingReceived, BrokenPipeError, ConnectionResetError) as exc:
                nothing = self._stream is None or self._stream.received == 0
                self.close()
                # A kept-alive connection the engine closed meanwhile: once more, afresh.
                if reused and attempt == 1 and nothing:
                    continue
                raise api_truncated(call, str(exc) if isinstance(exc, HttpError)
                                    else "the engine reset the connection") from None
            except Truncated as exc:
                self.close()
                raise api_truncated(call, str(exc)) from None
            except (OSError, HttpError) as exc:
                self.close()
                raise unreachable(str(self.path), exc) from None
            except BaseException:
                # Ctrl-C or SIGTERM between the request and the end of its answer: the
                # rest of that answer would be read as the next request's (the clean-up
                # after the signal asks again at once). A new connection for it.
                self.close()
                raise
            if not response.keep_alive:
                self.close()
            return response
        raise AssertionError("not reached")

    def _connect(self) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(self.timeout)
        self._socket.connect(str(self.path))
        self._stream = _SocketStream(self._socket)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket = self._stream = None

    # -- the reads tr4ctl makes ---------------------------------------------------------
    def _ping(self) -> tuple[int, str]:
        """/_ping, unversioned (an engine refuses a versioned path below its minimum):
        under a millisecond (/version asks containerd), and it names the engine's API
        version, which the calls after it speak."""
        response = self._request("GET", "/_ping", "GET /_ping")
        if response.status == 200:
            self._version = negotiate(response.headers.get("api-version"))
        return response.status, _message(response.body)

    def ping(self) -> bool:
        """The engine answers; the API version is negotiated on the way."""
        return self._ping()[0] == 200

    def server_version(self) -> str:
        return str(self.get("/version").get("Version", ""))

    def containers(self, *labels: str) -> list[dict[str, Any]]:
        return self.get("/containers/json", {"all": "1", "filters": {"label": list(labels)}})

    def inspect_container(self, container_id: str) -> dict[str, Any] | None:
        return self.get(f"/containers/{container_id}/json", missing_ok=True)

    def volume_names(self) -> set[str]:
        return {volume["Name"] for volume in self.get("/volumes").get("Volumes") or []}

    def network(self, name: str) -> dict[str, Any] | None:
        return self.get(f"/networks/{urllib.parse.quote(name, safe='')}", missing_ok=True)

    def info(self) -> dict[str, Any]:
        return self.get("/info")

    def services(self, *labels: str) -> list[dict[str, Any]]:
        return self.get("/services", {"filters": {"label": list(labels)}})

    def tasks(self, service: str) -> list[dict[str, Any]]:
        return self.get("/tasks", {"filters": {"service": [service]}})

    def nodes(self) -> list[dict[str, Any]]:
        return self.get("/nodes")

    def image(self, name: str) -> dict[str, Any] | None:
        return self.get(f"/images/{urllib.parse.quote(name, safe='')}/json", missing_ok=True)


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", "")).strip()
    except (ValueError, AttributeError):
        return body.decode(errors="replace").strip()[:200]


def engine_api(endpoint: DockerEndpoint) -> EngineAPI | None:
    """An API client when the engine is on a unix socket this user can open (else the
    reads go through the docker CLI, to the same engine)."""
    path = endpoint.socket_path
    if path is None or not os.access(path, os.R_OK | os.W_OK):
        return None
    return EngineAPI(path)
