"""Where the host reaches the stack's nginx: the published port on this machine.

In prod nginx serves HTTPS for the configured domain: the connection still goes to this
machine's published port, with the domain as TLS SNI and Host header, and the
certificate verified against the system trust or TR4CTL_CA_BUNDLE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tr4ctl.config.model import Config

IPV4_ANY = {"", "0.0.0.0"}
IPV6_ANY = {"::", "[::]"}


@dataclass(frozen=True)
class HostTarget:
    scheme: str  # http or https
    address: str  # the IP connected to
    port: int
    server_name: str | None = None  # SNI and Host (prod); None sends the address
    ca_bundle: Path | None = None

    def url(self, path: str) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{host}:{self.port}{path}"

    @property
    def is_loopback(self) -> bool:
        return self.address.startswith("127.") or self.address == "::1"

    def describe(self) -> str:
        shown = self.url("")
        if self.server_name:
            shown += f" (as {self.server_name})"
        return shown


def connect_address(bind_address: str) -> str:
    """nginx published on every address is reached on loopback; bound to one address,
    only that address answers."""
    if bind_address in IPV4_ANY:
        return "127.0.0.1"
    if bind_address in IPV6_ANY:
        return "::1"
    return bind_address.strip("[]")


def host_target(settings: Config, nginx_mode: str | None, *,
                scheme: str | None = None) -> HostTarget:
    """The target for nginx's active mode; scheme="http" forces the HTTP port (to check
    the redirect in prod)."""
    tls = nginx_mode == "prod"
    chosen = scheme or ("https" if tls else "http")
    return HostTarget(
        scheme=chosen,
        address=connect_address(settings.bind_address),
        port=settings.https_port if chosen == "https" else settings.http_port,
        server_name=settings.domain if tls else None,
        ca_bundle=settings.ca_bundle if chosen == "https" else None,
    )
