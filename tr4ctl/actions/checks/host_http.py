"""HTTP from the host to the stack's published nginx port: httpx for the checks, and a
bare stdlib connection for timing, where the client's own cost must stay small."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Self

from tr4ctl.errors import BadInput
from tr4ctl.plan.target import HostTarget

if TYPE_CHECKING:
    import http.client
    import ssl

    import httpx

REQUEST_TIMEOUT = 5.0


class HostClient:
    """Sends every request to the target's address with its SNI and Host header."""

    def __init__(self, target: HostTarget, timeout: float = REQUEST_TIMEOUT):
        import httpx

        self.target = target
        headers = {"Host": target.server_name} if target.server_name else {}
        # trust_env=False: a proxy from the environment must never carry this traffic.
        self.client = httpx.Client(verify=tls_verify(target), headers=headers, timeout=timeout,
                                   trust_env=False, follow_redirects=False)
        self._extensions = {"sni_hostname": target.server_name} if target.server_name else {}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, self.target.url(path), extensions=self._extensions,
                                   **kwargs)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tls_verify(target: HostTarget) -> Any:
    """httpx's verify= for the target: True for plain HTTP, else an SSL context."""
    return tls_context(target) if target.scheme == "https" else True


def tls_context(target: HostTarget) -> ssl.SSLContext:
    """Verification against TR4CTL_CA_BUNDLE when set, else the system's trust store."""
    import ssl

    if target.ca_bundle is None:
        return ssl.create_default_context()
    from tr4ctl.files import read_regular_text

    hint = "fix TR4CTL_CA_BUNDLE in .env, or unset it to use the system's trust"
    try:
        pem = read_regular_text(target.ca_bundle, "CA bundle", hint=hint)
    except FileNotFoundError:
        raise BadInput(f"CA bundle {target.ca_bundle} does not exist", hint) from None
    try:
        return ssl.create_default_context(cadata=pem)
    except ssl.SSLError as exc:
        raise BadInput(f"CA bundle {target.ca_bundle} is not PEM certificates: {exc.reason}",
                       "point TR4CTL_CA_BUNDLE at a PEM file") from None


class TimedConnection:
    """One keep-alive connection from the standard library, for latency samples.

    httpx costs about a millisecond more per request on this kind of machine, as much as
    nginx itself takes; http.client keeps the figure close to what the stack spends.
    """

    def __init__(self, target: HostTarget, timeout: float = REQUEST_TIMEOUT):
        self.target = target
        self.timeout = timeout
        self._context = tls_context(target) if target.scheme == "https" else None
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        import http.client
        import socket

        target, context = self.target, self._context
        if context is None:
            return http.client.HTTPConnection(target.address, target.port, timeout=self.timeout)

        class ToAddress(http.client.HTTPSConnection):
            # Named for the domain (Host header, SNI, certificate check), connected to the
            # published port on this machine.
            def connect(self) -> None:
                raw = socket.create_connection((target.address, target.port), self.timeout)
                self.sock = context.wrap_socket(raw, server_hostname=target.server_name)

        return ToAddress(target.server_name or target.address, target.port,
                         timeout=self.timeout, context=context)

    def get(self, path: str) -> tuple[int, float]:
        """(status, milliseconds) of one GET, body read. A failed request drops the
        connection, so the next one starts afresh."""
        if self._connection is None:
            self._connection = self._connect()
        started = time.perf_counter()
        try:
            self._connection.request("GET", path)
            response = self._connection.getresponse()
            response.read()
        except Exception:
            self.close()
            raise
        elapsed = (time.perf_counter() - started) * 1000
        if response.will_close:
            self.close()
        return response.status, elapsed

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def describe_error(exc: Exception) -> str:
    """One line for a failed request: the exception's kind and its first line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
