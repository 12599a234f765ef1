"""Traffic through nginx while a command changes the stack, and what became of it."""

from __future__ import annotations

import ssl
import threading
import time
import warnings
from collections.abc import Callable
from typing import Self

import httpx

ClientFactory = Callable[[], httpx.Client]


class AccountLoad(threading.Thread):
    """Creates accounts through nginx until stopped; remembers when each 201 arrived."""

    def __init__(self, client: ClientFactory, prefix: str = "load"):
        super().__init__(daemon=True)
        self.client = client
        self.prefix = prefix
        self.committed: list[tuple[str, float]] = []
        self.failures: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with self.client() as client:
                n = 0
                while not self.halt.is_set():
                    email = f"{self.prefix}-{n}@example.test"
                    n += 1
                    try:
                        response = client.post("/api/users", json={
                            "email": email, "password": "load-password-123456", "role": "founder"})
                    except httpx.HTTPError as exc:
                        self.failures.append(repr(exc))
                        time.sleep(0.2)
                        continue
                    if response.status_code == 201:
                        self.committed.append((email, time.monotonic()))
                    else:
                        self.failures.append(f"{response.status_code} {response.text[:80]}")

    def committed_before(self, moment: float) -> set[str]:
        return {email for email, at in list(self.committed) if at < moment}


class RequestLoad:
    """Requests through nginx on fresh connections, every few milliseconds, from a few
    threads; logins (0.2 s of bcrypt each) among them, so some are in flight at every
    switch. Each answer that is not 2xx, and each connection error, is a failure."""

    def __init__(self, url: Callable[[str], str], login: dict[str, str] | None = None,
                 threads: int = 3, verify: bool | str | ssl.SSLContext = True,
                 headers: dict | None = None, extensions: dict | None = None):
        self.url = url
        self.login = login
        self.verify = verify
        self.headers = headers or {}
        self.extensions = extensions or {}  # {"sni_hostname": ...} for HTTPS to 127.0.0.1
        self.failures: list[str] = []
        self.done = 0
        self.logins = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(threads)]

    def _run(self, index: int) -> None:
        while not self._stop.is_set():
            login = index == 0 and self.login is not None
            try:
                with httpx.Client(verify=self.verify, timeout=30, headers=self.headers) as client:
                    if login:
                        response = client.post(self.url("/api/auth/login"), json=self.login,
                                               extensions=self.extensions)
                    else:
                        response = client.get(self.url("/health"), extensions=self.extensions)
                if not 200 <= response.status_code < 300:
                    self.failures.append(f"{response.status_code} {response.text[:80]}")
            except Exception as exc:  # noqa: BLE001 - every failure counts
                self.failures.append(repr(exc))
            self.done += 1
            self.logins += login
            time.sleep(0.01)

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.5)  # a few requests after the change too
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
