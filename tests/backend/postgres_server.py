"""A throwaway PostgreSQL server for the backend tests, from the host's Debian binaries
(whichever major version the distribution has: 15 on Debian 12, 17 on Debian 13, 14 and 16
on Ubuntu 22.04 and 24.04; scripts/test.sh installs it).

One server per test session (initdb takes under a second with --no-sync), listening on
127.0.0.1 and a unix socket in its own temporary folder, with password (scram-sha-256)
authentication only; each test gets its own database, owned by the test role.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# Where the package's name for this host comes from.
INSTALL_HINT = ("bash scripts/test.sh installs the distribution's server "
                "(scripts/host_packages.py /etc/os-release test names it)")
BINARIES = ("initdb", "pg_ctl", "postgres")
ROLE = "tr4ction_test"
# The server refuses to run as root: as root, the binaries run as this user.
SERVER_USER = "postgres"


class ServerUnavailable(Exception):
    """What to install or fix, in one line."""


def find_bindir() -> Path:
    """The newest /usr/lib/postgresql/<major>/bin with the server binaries."""
    override = os.environ.get("TR4CTL_TEST_PG_BINDIR")
    candidates = [Path(override)] if override else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if all((bindir / name).is_file() for name in BINARIES):
            return bindir
    where = override or "/usr/lib/postgresql/<major>/bin"
    raise ServerUnavailable(
        f"the PostgreSQL server binaries ({', '.join(BINARIES)}) are not in {where}: "
        f"{INSTALL_HINT}"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int = field(default_factory=_free_port)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    role_password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    _databases: int = 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def _as_server_user(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", SERVER_USER, "--", *argv] if os.geteuid() == 0 else argv

    def _run(self, argv: list[str], what: str) -> None:
        result = subprocess.run(self._as_server_user(argv), capture_output=True, text=True,
                                timeout=60, check=False)
        if result.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise ServerUnavailable(f"{what} failed: {result.stderr.strip()} {log[-2000:]}")

    def start(self) -> None:
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise ServerUnavailable(
                    f"no {SERVER_USER} user to run the server as (root may not): "
                    f"the server's package creates it: {INSTALL_HINT}"
                ) from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
        pwfile = self.root / "admin-password"
        pwfile.write_text(self.admin_password + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, account.pw_uid, account.pw_gid)
        pwfile.chmod(0o600)
        self._run([str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                   "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8",
                   "--locale=C.UTF-8", "--no-sync", "--no-instructions"], "initdb")
        pwfile.unlink()
        # Durability is not what these tests check: without fsync a database is created
        # in milliseconds.
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-l",
                   str(self.log_file), "-w", "-t", "30", "-o", options, "start"], "pg_ctl start")
        with self.admin() as connection:
            from psycopg import sql

            connection.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(self.role_password)))

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m",
                       "immediate", "-w", "stop"], "pg_ctl stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                               password=self.admin_password, dbname=database, autocommit=True)

    def server_version(self) -> str:
        with self.admin() as connection:
            return connection.execute("SHOW server_version").fetchone()[0]

    def create_database(self) -> str:
        from psycopg import sql

        self._databases += 1
        name = f"t{os.getpid()}_{self._databases}"
        with self.admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(ROLE)))
        return name

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self.admin() as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))

    def url(self, database: str, *, password: str | None = None) -> str:
        """The backend's DATABASE_URL: no password unless asked (it comes from a file)."""
        userinfo = f"{ROLE}:{password}" if password else ROLE
        return f"postgresql+psycopg://{userinfo}@127.0.0.1:{self.port}/{database}"


def start_server() -> PostgresServer:
    bindir = find_bindir()
    root = Path(tempfile.mkdtemp(prefix="tr4ctl-test-pg-"))
    server = PostgresServer(bindir, root)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server

