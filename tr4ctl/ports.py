"""Can this host publish on an address and port? (pre-flight for `up`, `doctor` and
`config set`, before compose removes a working nginx to find out)."""

from __future__ import annotations

import errno
import socket

FREE, BUSY, NOT_LOCAL = "free", "busy", "not an address of this host"


def probe_bind(host: str, port: int) -> str:
    """FREE, BUSY, or NOT_LOCAL (port 0 checks only the address)."""
    address = host.strip("[]")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                return NOT_LOCAL
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return BUSY
            raise
    return FREE


def port_in_use(host: str, port: int) -> bool:
    return probe_bind(host, port) == BUSY
