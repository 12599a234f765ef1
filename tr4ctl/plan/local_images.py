"""Recipes for images built without any registry: Debian packages (mmdebstrap) for the
bases, PyPI for the Python services. Each recipe's hash is stored as a label, so an
unchanged recipe is never rebuilt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

CA_BUNDLE_IN_IMAGE = "/usr/local/share/tr4ctl/ca-certificates.crt"
RECIPE_LABEL = "io.tr4ctl.recipe"
CHROMA_VERSION = "1.5.9"
CERTBOT_VERSION = "5.8.0"


@dataclass(frozen=True)
class DebianImage:
    """mmdebstrap minbase + packages, imported as an image."""

    tag: str
    packages: tuple[str, ...]
    customize: tuple[str, ...] = ()  # mmdebstrap --customize-hook commands
    changes: tuple[str, ...] = ()  # docker import --change instructions

    @property
    def recipe_hash(self) -> str:
        return _hash(asdict(self))


@dataclass(frozen=True)
class PipImage:
    """A Dockerfile on top of a DebianImage, for services installed from PyPI."""

    tag: str
    base: DebianImage
    dockerfile_body: str

    @property
    def recipe_hash(self) -> str:
        return _hash({"tag": self.tag, "base": self.base.recipe_hash, "body": self.dockerfile_body})

    def dockerfile(self) -> str:
        return f"FROM {self.base.tag}\nLABEL {RECIPE_LABEL}={self.recipe_hash}\n{self.dockerfile_body}"


def _hash(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# Containers reach PyPI only when they trust the host's CA bundle.
_TRUST_HOST_CA = (
    f'mkdir -p "$1{CA_BUNDLE_IN_IMAGE.rsplit("/", 1)[0]}"',
    f'cp /etc/ssl/certs/ca-certificates.crt "$1{CA_BUNDLE_IN_IMAGE}"',
)

PYTHON_BASE = DebianImage(
    tag="tr4ctl-local/python:3.11-bookworm",
    packages=("python3", "python3-venv", "ca-certificates", "curl", "passwd"),
    customize=_TRUST_HOST_CA,
    changes=(
        f"ENV PIP_CERT={CA_BUNDLE_IN_IMAGE}",
        f"ENV SSL_CERT_FILE={CA_BUNDLE_IN_IMAGE}",
        "ENV PIP_DISABLE_PIP_VERSION_CHECK=1",
        'CMD ["python3"]',
    ),
)

NGINX = DebianImage(
    tag="tr4ctl-local/nginx:1.22-bookworm",
    packages=("nginx-light", "curl", "ca-certificates"),
    # Debian's default site holds port 80; tr4ctl's config lives in conf.d.
    customize=('rm -f "$1/etc/nginx/sites-enabled/default"',),
    # docker import (engine 20.10) takes no STOPSIGNAL: compose sets stop_signal instead.
    changes=('CMD ["nginx", "-g", "daemon off;"]', "EXPOSE 80 443"),
)

PEBBLE = DebianImage(
    tag="tr4ctl-local/pebble:bookworm",
    packages=("pebble", "ca-certificates"),
    changes=('CMD ["pebble", "-config", "/etc/pebble/config.json"]',),
)

CHROMA = PipImage(
    tag=f"tr4ctl-local/chroma:{CHROMA_VERSION}",
    base=PYTHON_BASE,
    dockerfile_body=(
        f"RUN python3 -m venv /opt/chroma && /opt/chroma/bin/pip install --no-cache-dir "
        f"chromadb=={CHROMA_VERSION}\n"
        "ENV PATH=/opt/chroma/bin:$PATH ANONYMIZED_TELEMETRY=False\n"
        "EXPOSE 8000\n"
        'CMD ["chroma", "run", "--host", "0.0.0.0", "--port", "8000", "--path", "/data"]\n'
    ),
)

CERTBOT = PipImage(
    tag=f"tr4ctl-local/certbot:{CERTBOT_VERSION}",
    base=PYTHON_BASE,
    dockerfile_body=(
        f"RUN python3 -m venv /opt/certbot && /opt/certbot/bin/pip install --no-cache-dir "
        f"certbot=={CERTBOT_VERSION}\n"
        "ENV PATH=/opt/certbot/bin:$PATH\n"
        'ENTRYPOINT ["certbot"]\n'
    ),
)

# Which setting each built image is written to.
SETTINGS_FOR = {
    PYTHON_BASE.tag: "TR4CTL_BACKEND_BASE_IMAGE",
    NGINX.tag: "TR4CTL_NGINX_IMAGE",
    CHROMA.tag: "TR4CTL_CHROMA_IMAGE",
    CERTBOT.tag: "TR4CTL_CERTBOT_IMAGE",
}


def mmdebstrap_argv(image: DebianImage, tarball: Path) -> list[str]:
    """No mirror is named: mmdebstrap uses the host's apt sources."""
    return ["mmdebstrap", "--variant=minbase", "--quiet", f"--include={','.join(image.packages)}",
            *(f"--customize-hook={hook}" for hook in image.customize), "bookworm", str(tarball)]


def recipes(with_pebble: bool) -> tuple[list[DebianImage], list[PipImage]]:
    debian = [PYTHON_BASE, NGINX] + ([PEBBLE] if with_pebble else [])
    return debian, [CHROMA, CERTBOT]
