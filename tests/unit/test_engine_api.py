"""The Engine API client against a real unix-socket server (a thread in the test, no
Docker): Content-Length and chunked answers, keep-alive, the negotiated API version,
errors, a dead socket, and answers cut short, never finished or not JSON."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tr4ctl.docker.endpoint import DockerEndpoint
from tr4ctl.docker.engine_api import (
    NEWEST_API,
    OLDEST_API,
    EngineAPI,
    HttpError,
    Truncated,
    engine_api,
    negotiate,
    read_response,
)
from tr4ctl.errors import ExitCode, MissingPrerequisite, OperationFailed


def answer(status: int, body: bytes, *, chunked: bool = False,
           headers: dict[str, str] | None = None) -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    if chunked:
        pieces = [body[i:i + 7] for i in range(0, len(body), 7)]
        payload = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + payload
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def pong(version: str) -> bytes:
    return answer(200, b"OK", headers={"Api-Version": version})


class FakeEngine:
    """Answers each request line from a table, over kept-alive connections, as dockerd
    does: `/_ping` unversioned with its API version in a header; a versioned path below
    `minimum` refused with the engine's own words."""

    def __init__(self, path: Path, routes: dict[str, bytes], *, api: str = "1.41",
                 minimum: str | None = None):
        self.routes = {"/_ping": pong(api), **routes}
        self.minimum = minimum
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
                try:
                    while line := stream.readline():
                        while stream.readline() not in (b"\r\n", b""):
                            pass
                        target = line.split()[1].decode()
                        self.requests.append(target)
                        conn.sendall(self._answer(target.split("?")[0]))
                except OSError:  # the client closed its end first: the next one
                    continue

    def _answer(self, path: str) -> bytes:
        version = path.split("/")[1].removeprefix("v")
        if self.minimum and path != "/_ping" and \
                tuple(map(int, version.split("."))) < tuple(map(int, self.minimum.split("."))):
            message = (f"client version {version} is too old. Minimum supported API version "
                       f"is {self.minimum}, please upgrade your client to a newer version")
            return answer(400, json.dumps({"message": message}).encode())
        return self.routes.get(path, answer(404, b'{"message": "no such thing"}'))


class CraftedEngine:
    """Accepts one connection, answers the ping properly, then sends `raw` for the next
    request and does `then`: "close" the connection, or "hang" (keep it open, silent)."""

    def __init__(self, path: Path, raw: bytes, then: str = "close"):
        self.raw, self.then = raw, then
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        self.done = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn, conn.makefile("rb") as stream:
            for reply in (pong("1.41"), self.raw):
                if not stream.readline():
                    return
                while stream.readline() not in (b"\r\n", b""):
                    pass
                conn.sendall(reply)
            if self.then == "hang":
                self.done.wait(10)


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
    assert engine.requests[0] == "/_ping"  # unversioned: it is what names the version
    assert engine.requests[2].startswith("/v1.41/containers/json?all=1&filters=")
    assert "com.docker.compose.project%3Dacme" in engine.requests[2]


def test_an_answer_left_unread_by_ctrl_c_is_never_read_as_the_next_one(tmp_path, monkeypatch):
    """Issue 19: SIGTERM (a KeyboardInterrupt) landing between a request and its answer
    left the answer on the kept-alive connection; the clean-up's next read took it for its
    own (a `restore` put back nothing and left the stack stopped)."""
    from tr4ctl.docker import engine_api

    engine = FakeEngine(tmp_path / "docker.sock", {
        "/v1.41/containers/json": answer(200, json.dumps([{"Id": "abc"}]).encode()),
        "/v1.41/volumes": answer(200, json.dumps({"Volumes": []}).encode()),
    })
    api = EngineAPI(tmp_path / "docker.sock")
    assert api.containers("x=y") == [{"Id": "abc"}]
    reader = engine_api.read_response
    signalled = []

    def signal_first(stream):
        if not signalled:
            signalled.append(True)
            raise KeyboardInterrupt  # the signal, as interrupts.py raises it
        return reader(stream)

    monkeypatch.setattr(engine_api, "read_response", signal_first)
    with pytest.raises(KeyboardInterrupt):
        api.containers("x=y")
    assert api.get("/volumes") == {"Volumes": []}
    assert engine.connections == 2  # the interrupted one was closed, never reused


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


# -- the API version: negotiated, never pinned --------------------------------------------
@pytest.mark.parametrize("engine, spoken", [
    ("1.41", "1.41"),  # Debian 12's 20.10
    ("1.45", "1.45"),
    ("1.51", "1.51"),  # Engine 28
    ("1.52", NEWEST_API),  # Engine 29: the newest tr4ctl knows
    ("1.60", NEWEST_API),
])
def test_the_version_spoken_is_the_lower_of_the_engines_and_the_newest_known(engine, spoken):
    assert negotiate(engine) == spoken


def test_an_engine_that_refuses_old_clients_is_spoken_to_in_its_own_version(tmp_path):
    """Engine 29 (and 28 with DOCKER_MIN_API_VERSION=1.44) refuses every client below
    1.44: the calls go out in the version the ping named."""
    FakeEngine(tmp_path / "docker.sock", {
        "/v1.51/volumes": answer(200, b'{"Volumes": [{"Name": "acme_data"}]}')},
        api="1.51", minimum="1.44")
    api = EngineAPI(tmp_path / "docker.sock")
    assert api.ping()
    assert api.volume_names() == {"acme_data"}


def test_an_engine_older_than_the_oldest_supported_is_refused_naming_both(tmp_path):
    FakeEngine(tmp_path / "docker.sock", {}, api="1.40")
    with pytest.raises(MissingPrerequisite) as caught:
        EngineAPI(tmp_path / "docker.sock").ping()
    assert caught.value.exit_code == ExitCode.PREREQUISITE
    assert "API 1.40" in caught.value.message and f"API {OLDEST_API}" in caught.value.message


def test_an_engine_whose_minimum_is_above_the_newest_known_is_refused_naming_both(tmp_path):
    FakeEngine(tmp_path / "docker.sock", {}, api="1.60", minimum="1.55")
    api = EngineAPI(tmp_path / "docker.sock")
    with pytest.raises(MissingPrerequisite) as caught:
        api.volume_names()
    assert caught.value.exit_code == ExitCode.PREREQUISITE
    assert "1.55" in caught.value.message and NEWEST_API in caught.value.message


# -- errors ---------------------------------------------------------------------------------
def test_an_error_answer_carries_the_engines_message(tmp_path):
    FakeEngine(tmp_path / "docker.sock", {
        "/v1.41/volumes": answer(500, b'{"message": "disk I/O error"}')})
    with pytest.raises(OperationFailed, match="disk I/O error"):
        EngineAPI(tmp_path / "docker.sock").volume_names()


def test_no_engine_is_a_missing_prerequisite(tmp_path):
    with pytest.raises(MissingPrerequisite, match="no Docker engine is reachable"):
        EngineAPI(tmp_path / "absent.sock").server_version()


def one_line(error) -> str:
    text = f"{error.message} {error.hint}"
    assert "\n" not in text
    return error.message


@pytest.mark.parametrize("raw, words", [
    # The connection ends inside a chunk: never taken for the last chunk.
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n[{\"Name\": \"acme_d",
     ("GET /volumes", "cut short", "inside a chunk")),
    # ... or after a whole chunk, before the last (zero) one.
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n",
     ("GET /volumes", "cut short", "before the last chunk")),
    # A Content-Length body shorter than announced.
    (b"HTTP/1.1 200 OK\r\nContent-Length: 120\r\n\r\n{\"Volumes\": [",
     ("GET /volumes", "cut short", "13 of 120 bytes")),
    (b"HTTP/1.1 200 OK\r\nContent-Type: app", ("GET /volumes", "cut short", "headers")),
])
def test_an_answer_cut_short_is_an_error_of_its_own(tmp_path, raw, words):
    CraftedEngine(tmp_path / "docker.sock", raw, then="close")
    with pytest.raises(OperationFailed) as caught:
        EngineAPI(tmp_path / "docker.sock").volume_names()
    message = one_line(caught.value)
    assert all(word in message for word in words), message
    assert "no Docker engine" not in message


def test_an_answer_that_never_finishes_is_a_timeout_naming_the_call_and_the_wait(tmp_path):
    engine = CraftedEngine(tmp_path / "docker.sock",
                           b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"Vol", then="hang")
    api = EngineAPI(tmp_path / "docker.sock", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(OperationFailed) as caught:
        api.volume_names()
    engine.done.set()
    assert time.monotonic() - started < 5
    message = one_line(caught.value)
    assert "GET /volumes timed out after 0.5s" in message
    assert "start the Docker engine" not in caught.value.hint


def test_an_engine_that_answers_nothing_times_out_too(tmp_path):
    engine = CraftedEngine(tmp_path / "docker.sock", b"", then="hang")
    with pytest.raises(OperationFailed, match=r"GET /volumes timed out after 0.3s"):
        EngineAPI(tmp_path / "docker.sock", timeout=0.3).volume_names()
    engine.done.set()


def test_an_answer_that_is_not_json_is_an_error_of_its_own(tmp_path):
    body = b"<html><body>502 Bad Gateway</body></html>"
    CraftedEngine(tmp_path / "docker.sock",
                  b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    with pytest.raises(OperationFailed) as caught:
        EngineAPI(tmp_path / "docker.sock").volume_names()
    message = one_line(caught.value)
    assert "GET /volumes" in message and "not JSON" in message and "<html>" in message


def test_a_kept_alive_connection_closed_by_the_engine_is_opened_again(tmp_path):
    """The engine may close an idle kept-alive connection: the next read opens a new one
    (nothing of its answer had arrived, so nothing is lost)."""
    path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()

    def serve():
        first, _ = server.accept()
        with first, first.makefile("rb") as stream:  # answers the ping, then closes
            stream.readline()
            while stream.readline() not in (b"\r\n", b""):
                pass
            first.sendall(pong("1.41"))
        second, _ = server.accept()
        with second, second.makefile("rb") as stream:
            stream.readline()
            while stream.readline() not in (b"\r\n", b""):
                pass
            second.sendall(answer(200, b'{"Volumes": [{"Name": "v"}]}'))

    threading.Thread(target=serve, daemon=True).start()
    api = EngineAPI(path)
    assert api.ping()
    time.sleep(0.1)  # the first connection is closed by now
    assert api.volume_names() == {"v"}


def test_garbage_is_not_taken_for_an_answer():
    with pytest.raises(HttpError):
        read_response(io.BytesIO(b"SSH-2.0-OpenSSH\r\n"))
    empty = read_response(io.BytesIO(b"HTTP/1.1 204 No Content\r\n\r\n"))
    assert (empty.status, empty.body) == (204, b"")


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    b"HTTP/1.1 200 O",
])
def test_every_way_an_answer_can_end_early_is_refused(raw):
    with pytest.raises(Truncated):
        read_response(io.BytesIO(raw))


def test_a_whole_chunked_answer_with_a_trailer_is_read_and_the_next_one_left():
    stream = io.BytesIO(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\nHTTP/1.1 204 X\r\n\r\n")
    assert read_response(stream).body == b"abcde"
    assert read_response(stream).status == 204


def test_the_reader_is_used_only_for_a_unix_socket(tmp_path):
    (tmp_path / "docker.sock").touch()
    assert engine_api(DockerEndpoint(f"unix://{tmp_path}/docker.sock", "test")) is not None
    assert engine_api(DockerEndpoint("tcp://127.0.0.1:2375", "test")) is None
    assert engine_api(DockerEndpoint("ssh://ops@127.0.0.1", "test")) is None


def test_the_cli_refuses_an_engine_too_old_in_one_line_exit_3(tmp_path):
    FakeEngine(tmp_path / "docker.sock", {}, api="1.40")
    (tmp_path / ".env").write_text("TR4CTL_PROJECT_NAME=acme\n")
    result = subprocess.run(
        [sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path), "status"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/docker.sock"})
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "API 1.40" in lines[0] and f"API {OLDEST_API}" in lines[0]
