"""The stack's PostgreSQL, from inside its container over the local socket (trusted
there; from the network it asks for the password). SQL travels on stdin: a password in
it never reaches a command line."""

from __future__ import annotations

from tr4ctl.docker.health import wait_healthy
from tr4ctl.docker.runner import ByteSource
from tr4ctl.facts import POSTGRES, POSTGRES_DB, POSTGRES_USER
from tr4ctl.project.state import remember_postgres_cluster
from tr4ctl.runtime import Runtime

ADMIN_DATABASE = "postgres"


def psql(rt: Runtime, database: str, sql: str) -> str:
    """The rows psql prints (unaligned, tuples only) for SQL given on stdin."""
    argv = ["psql", "-q", "-X", "-U", POSTGRES_USER, "-d", database, "-v", "ON_ERROR_STOP=1",
            "-tA", "-f", "-"]
    return rt.engine.exec_in(POSTGRES, argv, input_text=sql).stdout.strip()


def start_postgres(rt: Runtime, timeout: float) -> bool:
    """Running and healthy; True when this call started it."""
    running = rt.engine.service_states((POSTGRES,))[POSTGRES].state == "running"
    if not running:
        # Named explicitly, compose starts it although its profile is off on SQLite.
        rt.engine.compose_up([POSTGRES])
    wait_healthy(rt.engine, (POSTGRES,), timeout=timeout)
    # Its cluster exists now, made with the secret file's password.
    remember_postgres_cluster(rt.paths)
    return not running


def quoted_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def fresh_database(rt: Runtime, stamp: str) -> str:
    """The stack's database when nothing was ever put in it; else a new one, so an
    earlier copy (a way back of its own) is never overwritten."""
    used = psql(rt, POSTGRES_DB, "SELECT to_regclass('public.users') IS NOT NULL;")
    if used != "t":
        return POSTGRES_DB
    name = f"{POSTGRES_DB}_{stamp}"
    psql(rt, ADMIN_DATABASE, f"CREATE DATABASE {quoted_name(name)} OWNER {POSTGRES_USER};")
    return name


def recreate_database(rt: Runtime, name: str) -> None:
    """Empty, as a restore needs it (connections to it are ended first)."""
    psql(rt, ADMIN_DATABASE, f"DROP DATABASE IF EXISTS {quoted_name(name)} WITH (FORCE);")
    psql(rt, ADMIN_DATABASE, f"CREATE DATABASE {quoted_name(name)} OWNER {POSTGRES_USER};")


def set_password(rt: Runtime, password: str) -> None:
    """The role's password as .env says (a restored .env may carry another one than the
    cluster was made with)."""
    literal = "'" + password.replace("'", "''") + "'"
    psql(rt, ADMIN_DATABASE, f"ALTER ROLE {POSTGRES_USER} PASSWORD {literal};")


def restore_dump(rt: Runtime, name: str, source: ByteSource) -> None:
    argv = rt.engine.exec_argv(POSTGRES, ["pg_restore", "--no-owner", "--exit-on-error",
                                             "-U", POSTGRES_USER, "-d", name])
    rt.engine.runner.run_from_stream(argv, source, what=f"restoring the PostgreSQL database {name}")
