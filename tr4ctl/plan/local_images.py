"""Recipes for images built without any registry: Debian packages (mmdebstrap) for the
bases, PyPI for the Python services. Each recipe's hash is stored as a label, so an
unchanged recipe is never rebuilt.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

CA_BUNDLE_IN_IMAGE = "/usr/local/share/tr4ctl/ca-certificates.crt"
RECIPE_LABEL = "io.tr4ctl.recipe"
CHROMA_VERSION = "1.5.9"
CERTBOT_VERSION = "5.8.0"
POSTGRES_MAJOR = "15"  # bookworm's; the official default image is newer (postgres:17-alpine)
POSTGRES_BIN = f"/usr/lib/postgresql/{POSTGRES_MAJOR}/bin"
POSTGRES_ENTRYPOINT = "/usr/local/bin/docker-entrypoint.sh"


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
    """A Dockerfile on top of a DebianImage: services installed from PyPI, and what
    `docker import` cannot set (STOPSIGNAL)."""

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

# What the stack uses of the official image's docker-entrypoint.sh, for Debian's
# PostgreSQL. The password is read as root (a secret file may be readable by root only)
# and reaches initdb through a file, never argv or the server's environment.
POSTGRES_ENTRYPOINT_SCRIPT = r"""#!/bin/sh
# tr4ctl's local PostgreSQL image, configured like the official one:
#   POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD)  needed on the first start only
#   POSTGRES_USER (default postgres), POSTGRES_DB (default: the user)
#   PGDATA (default /var/lib/postgresql/data): initialised on the first start, with
#   scram-sha-256 passwords from any address, trust on the container's own socket,
#   listening on all addresses.
# Then postgres runs as PID 1, as the postgres user: docker stop's signal reaches it.
set -eu
die() { echo "docker-entrypoint: $*" >&2; exit 1; }
as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        "$@"
    fi
}

if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi
for argument; do
    case "$argument" in -V|--version|--help|-\?|--describe-config) exec "$@" ;; esac
done

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres {} +
    chmod 700 "$PGDATA"
    chown postgres:postgres /var/run/postgresql
    chmod 2775 /var/run/postgresql
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        [ -z "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are exclusive"
        # $(...) drops trailing newlines, as the official image's $(< file) does.
        password=$(cat "$POSTGRES_PASSWORD_FILE") || die "cannot read POSTGRES_PASSWORD_FILE"
    else
        password="${POSTGRES_PASSWORD:-}"
    fi
    [ -n "$password" ] || die "no password: set POSTGRES_PASSWORD_FILE for the first start"
    user="${POSTGRES_USER:-postgres}"
    database="${POSTGRES_DB:-$user}"
    work=$(mktemp -d)
    (umask 077 && printf '%s\n' "$password" > "$work/password")
    unset password
    [ "$(id -u)" != 0 ] || chown -R postgres:postgres "$work"
    echo "docker-entrypoint: initialising $PGDATA (user $user, database $database)" >&2
    as_postgres initdb --username="$user" --pwfile="$work/password" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$work/password"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    if [ "$database" != postgres ]; then
        # A server on a private socket only, for as long as createdb takes.
        as_postgres pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -k $work" start >/dev/null
        as_postgres createdb -h "$work" -U "$user" -- "$database"
        as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
    rm -rf "$work"
fi
unset POSTGRES_PASSWORD
if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
fi
exec "$@"
"""

POSTGRES_BASE = DebianImage(
    tag=f"tr4ctl-local/postgres-base:{POSTGRES_MAJOR}-bookworm",
    packages=(f"postgresql-{POSTGRES_MAJOR}",),
    # The package's own cluster ("main", under /var/lib/postgresql/15): the entrypoint
    # makes one in PGDATA instead.
    customize=(
        f'rm -rf "$1/var/lib/postgresql/{POSTGRES_MAJOR}" "$1/etc/postgresql/{POSTGRES_MAJOR}"',
    ),
)

_ENTRYPOINT_B64 = base64.b64encode(POSTGRES_ENTRYPOINT_SCRIPT.encode()).decode()
POSTGRES = PipImage(
    tag=f"tr4ctl-local/postgres:{POSTGRES_MAJOR}-bookworm",
    base=POSTGRES_BASE,
    dockerfile_body=(
        # No build context (the image is built from this text): the script comes inline.
        f"RUN echo {_ENTRYPOINT_B64} | base64 -d > {POSTGRES_ENTRYPOINT} "
        f"&& chmod 755 {POSTGRES_ENTRYPOINT} "
        "&& install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data\n"
        # Its own bin first: /usr/bin/pg_isready is Debian's wrapper, which looks for the
        # clusters of /etc/postgresql (there are none).
        f"ENV PATH={POSTGRES_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
        "PGDATA=/var/lib/postgresql/data\n"
        # A fast shutdown (sessions ended, committed work kept), as the official image:
        # SIGTERM's smart shutdown waits for the backend's pooled connections to close.
        "STOPSIGNAL SIGINT\n"
        "EXPOSE 5432\n"
        f'ENTRYPOINT ["{POSTGRES_ENTRYPOINT}"]\n'
        'CMD ["postgres"]\n'
    ),
)

# The scheduled backup service (TR4CTL_BACKUP_SCHEDULE): restic for the encrypted,
# deduplicated copies off the host, sqlite3 for SQLite's online backup API, ssh for
# restic's sftp backend. All Debian packages: no registry needed.
BACKUP = DebianImage(
    tag="tr4ctl-local/backup:bookworm",
    packages=("restic", "sqlite3", "openssh-client", "ca-certificates", "procps"),
    changes=('CMD ["/bin/sh"]',),
)

# Which setting each built image is written to.
SETTINGS_FOR = {
    PYTHON_BASE.tag: "TR4CTL_BACKEND_BASE_IMAGE",
    NGINX.tag: "TR4CTL_NGINX_IMAGE",
    CHROMA.tag: "TR4CTL_CHROMA_IMAGE",
    CERTBOT.tag: "TR4CTL_CERTBOT_IMAGE",
    POSTGRES.tag: "TR4CTL_POSTGRES_IMAGE",
    BACKUP.tag: "TR4CTL_BACKUP_IMAGE",
}


def mmdebstrap_argv(image: DebianImage, tarball: Path) -> list[str]:
    """No mirror is named: mmdebstrap uses the host's apt sources."""
    return ["mmdebstrap", "--variant=minbase", "--quiet", f"--include={','.join(image.packages)}",
            *(f"--customize-hook={hook}" for hook in image.customize), "bookworm", str(tarball)]


def recipes(with_pebble: bool) -> tuple[list[DebianImage], list[PipImage]]:
    debian = [PYTHON_BASE, NGINX, POSTGRES_BASE, BACKUP] + ([PEBBLE] if with_pebble else [])
    return debian, [CHROMA, CERTBOT, POSTGRES]
