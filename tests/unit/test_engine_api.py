"""The Engine API client against a real unix-socket server speaking like dockerd (no
Docker needed): Content-Length and chunked answers, keep-alive, errors, a dead socket."""

from __future__ import annotations

import io
import json
import socket
import threading
from pathlib import Path

import pytest

from tr4ctl.docker.engine_api import EngineAPI, HttpError, local_socket, read_response
from tr4ctl.errors import MissingPrerequisite, OperationFailed


def answer(status: int, body: bytes, *, chunked: bool = False) -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
    if chunked:
        pieces = [body[i:i + 7] for i in range(0, len(body), 7)]
        payload = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + payload
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class FakeEngine:
    """Answers each request line from a table, over one kept-alive connection."""

    def __init__(self, path: Path, routes: dict[str, bytes]):
        self.routes = routes
        self.requests: list[str] = []
        self.connections = 0
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rb") as stream:
                while line := stream.readline():
                    while stream.readline() not in (b"\r\n", b""):
                        pass
                    target = line.split()[1].decode()
                    self.requests.append(target)
                    conn.sendall(self.routes.get(target.split("?")[0], answer(404, b'{"message": "no such thing"}')))


def test_reads_content_length_and_chunked_answers_on_one_connection(tmp_path):
    inspect = {"Id": "abc", "State": {"Status": "running"}, "Config": {"Labels": {}}}
    engine = FakeEngine(tmp_path / "docker.sock", {
        "/v1.41/version": answer(200, json.dumps({"Version": "20.10.24"}).encode()),
        "/v1.41/containers/json": answer(200, json.dumps([{"Id": "abc"}]).encode(), chunked=True),
        "/v1.41/containers/abc/json": answer(200, json.dumps(inspect).encode(), chunked=True),
    })
    api = EngineAPI(tmp_path / "docker.sock")
    assert api.server_version() == "20.10.24"
    assert api.containers("com.docker.compose.project=acme") == [{"Id": "abc"}]
    assert api.inspect_container("abc") == inspect
    assert api.inspect_container("gone") is None
    assert engine.connections == 1
    assert engine.requests[1].startswith("/v1.41/containers/json?all=1&filters=")
    assert "com.docker.compose.project%3Dacme" in engine.requests[1]


def test_threads_sharing_the_client_each_read_their_own_answer(tmp_path):
    """build-local asks for three images' labels at once over the one connection."""
    names = [f"img{n}" for n in range(6)]
    routes = {}
    for name in names:
        # Chunked, so an answer is several reads: a thread that does not wait its turn
        # reads another's answer, or half of one.
        routes[f"/v1.41/images/{name}/json"] = answer(
            200, json.dumps({"Config": {"Labels": {"name": name}}}).encode(), chunked=True)
    FakeEngine(tmp_path / "docker.sock", routes)
    api = EngineAPI(tmp_path / "docker.sock")
    seen: dict[str, str] = {}

    def read(name: str) -> None:
        for _ in range(20):
            labels = api.image(name)["Config"]["Labels"]
            seen[name] = labels["name"] if labels["name"] == name else f"wrong: {labels}"

    threads = [threading.Thread(target=read, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {name: name for name in names}


def test_an_error_answer_carries_the_engines_message(tmp_path):
    FakeEngine(tmp_path / "docker.sock", {
        "/v1.41/volumes": answer(500, b'{"message": "disk I/O error"}')})
    with pytest.raises(OperationFailed, match="disk I/O error"):
        EngineAPI(tmp_path / "docker.sock").volume_names()


def test_no_engine_is_a_missing_prerequisite(tmp_path):
    with pytest.raises(MissingPrerequisite, match="no Docker engine is reachable"):
        EngineAPI(tmp_path / "absent.sock").server_version()


def test_garbage_is_not_taken_for_an_answer():
    with pytest.raises(HttpError):
        read_response(io.BytesIO(b"SSH-2.0-OpenSSH\r\n"))
    assert read_response(io.BytesIO(b"HTTP/1.1 204 No Content\r\n\r\n")) == (204, b"")


@pytest.mark.parametrize("environ, expected", [
    ({}, Path("/var/run/docker.sock")),
    ({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, Path("/run/user/1000/docker.sock")),
    ({"DOCKER_HOST": "tcp://10.0.0.2:2376"}, None),
    ({"DOCKER_HOST": "ssh://ops@host"}, None),
    ({"DOCKER_CONTEXT": "remote"}, None),
])
def test_the_api_is_used_only_where_the_docker_cli_would_use_the_same_socket(environ, expected):
    assert local_socket(environ) == expected
