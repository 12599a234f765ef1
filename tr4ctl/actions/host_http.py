"""HTTP from the host to the stack's published nginx port (httpx, one reused connection)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Self

from tr4ctl.errors import BadInput
from tr4ctl.plan.target import HostTarget

if TYPE_CHECKING:
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

    def timed_get(self, path: str) -> tuple[int, float]:
        """(status, milliseconds) of one GET; the body is read, so the time is complete."""
        started = time.perf_counter()
        response = self.request("GET", path)
        response.read()
        return response.status_code, (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tls_verify(target: HostTarget) -> Any:
    if target.scheme != "https":
        return True
    if target.ca_bundle is None:
        return True
    import ssl

    if not target.ca_bundle.is_file():
        raise BadInput(f"CA bundle {target.ca_bundle} does not exist",
                       "fix TR4CTL_CA_BUNDLE in .env, or unset it to use the system's trust")
    try:
        return ssl.create_default_context(cafile=str(target.ca_bundle))
    except ssl.SSLError as exc:
        raise BadInput(f"CA bundle {target.ca_bundle} is not PEM certificates: {exc.reason}",
                       "point TR4CTL_CA_BUNDLE at a PEM file") from None


def describe_error(exc: Exception) -> str:
    """One line for a failed request: the exception's kind and its first line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
