"""Reads over the Docker Engine API on its unix socket: container states, volumes,
networks, images, the server version.

A read costs about a millisecond this way, against 40-70 ms for a docker CLI process;
`status` and the wait inside `up` ask several of them. The client is a few lines of
HTTP/1.1 on a socket: the docker SDK or httpx cost 100-250 ms of import on every
command, and even the standard library's http.client 15 ms (it pulls in the email
package); the engine answers GETs with Content-Length or chunked bodies, nothing else.
Writes (and anything when the engine is not on a local unix socket: tcp://, ssh://, a
docker context) stay with the docker CLI through the runner.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from tr4ctl.docker.failures import api_failure, unreachable

DEFAULT_SOCKET = "/var/run/docker.sock"
# Engine 20.10 speaks 1.41; every call used here exists in it unchanged.
API_VERSION = "v1.41"
TIMEOUT = 30.0


def local_socket(environ: Mapping[str, str]) -> Path | None:
    """The engine's unix socket as the docker CLI would find it, or None when the CLI
    would talk to something else (then tr4ctl uses the CLI for reads too)."""
    if environ.get("DOCKER_CONTEXT"):
        return None
    host = environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        return None
    path = Path(host.removeprefix("unix://") if host else DEFAULT_SOCKET)
    return path


class HttpError(Exception):
    """The engine's answer could not be read as HTTP."""


def read_response(stream: BinaryIO) -> tuple[int, bytes]:
    """(status, body) of one HTTP/1.1 response; the connection stays usable."""
    status_line = stream.readline()
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise HttpError(f"not an HTTP answer: {status_line[:60]!r}")
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int(stream.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(stream.read(size))
            stream.readline()
        stream.readline()  # the empty line after the last chunk
        return int(parts[1]), b"".join(chunks)
    length = int(headers.get("content-length", "0"))
    return int(parts[1]), stream.read(length) if length else b""


class EngineAPI:
    """One keep-alive connection to the engine, for the duration of a command. Requests
    from several threads (build-local checks its images in parallel) take turns on it:
    interleaved, one thread would read another's answer."""

    def __init__(self, path: Path, timeout: float = TIMEOUT):
        self.path = path
        self.timeout = timeout
        self._socket: socket.socket | None = None
        self._stream: BinaryIO | None = None
        self._turn = threading.Lock()

    def get(self, path: str, query: Mapping[str, Any] | None = None, *,
            missing_ok: bool = False) -> Any:
        """The decoded JSON answer; None for a 404 when missing_ok."""
        target = f"/{API_VERSION}{path}"
        if query:
            target += "?" + urllib.parse.urlencode(
                {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in query.items()})
        status, body = self._request("GET", target)
        if status == 404 and missing_ok:
            return None
        if status >= 400:
            raise api_failure("GET", path, status, _message(body))
        return json.loads(body) if body else None

    def _request(self, method: str, target: str) -> tuple[int, bytes]:
        request = f"{method} {target} HTTP/1.1\r\nHost: docker\r\n\r\n".encode()
        with self._turn:
            return self._exchange(request)

    def _exchange(self, request: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                if self._stream is None:
                    self._connect()
                assert self._socket is not None and self._stream is not None
                self._socket.sendall(request)
                return read_response(self._stream)
            except (OSError, HttpError, ValueError) as exc:
                self.close()
                # A kept-alive connection the engine closed meanwhile: once more, afresh.
                if attempt == 2 or isinstance(exc, FileNotFoundError | ConnectionRefusedError):
                    raise unreachable(str(self.path), exc) from None
        raise AssertionError("not reached")

    def _connect(self) -> None:
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket.settimeout(self.timeout)
        self._socket.connect(str(self.path))
        self._stream = self._socket.makefile("rb")

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        if self._socket is not None:
            self._socket.close()
        self._socket = self._stream = None

    # -- the reads tr4ctl makes ---------------------------------------------------------
    def ping(self) -> bool:
        """The engine answers (/_ping: under a millisecond; /version asks containerd)."""
        status, _ = self._request("GET", f"/{API_VERSION}/_ping")
        return status == 200

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


def engine_api(environ: Mapping[str, str] | None = None) -> EngineAPI | None:
    """An API client when the engine is on a local unix socket this user can open."""
    path = local_socket(os.environ if environ is None else environ)
    if path is None or not os.access(path, os.R_OK | os.W_OK):
        return None
    return EngineAPI(path)
