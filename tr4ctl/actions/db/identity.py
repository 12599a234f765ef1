"""The database the stack's data lives in: recorded state (.tr4ctl/state.json), not a
setting. `tr4ctl db use` moves the data and changes the record; a .env, an environment
variable or a `config set` that names another database would start the backend on an
empty one, and is refused where it is given, before anything changes.

A state.json of the previous release records no database: it is inferred from what
exists, the backend's container (what it runs on) first, then the files the last `up`
rendered for it; a project where neither exists has no data yet.
"""

from __future__ import annotations

from tr4ctl.config.load import read_env_file
from tr4ctl.config.model import ENVIRONMENT, Config
from tr4ctl.docker import commands as cmd
from tr4ctl.errors import BadInput, Tr4ctlError
from tr4ctl.facts import POSTGRES
from tr4ctl.plan.database import (
    DatabaseRecord,
    configured_database,
    database_of_environment,
    database_of_rendered,
)
from tr4ctl.plan.masking import shown
from tr4ctl.project.state import postgres_cluster_made, record_database, recorded_database
from tr4ctl.runtime import Runtime

DATABASE_KEY = "TR4CTL_DATABASE"
PASSWORD_KEY = "TR4CTL_DATABASE_PASSWORD"
SERVICE_LABEL = cmd.COMPOSE_SERVICE_LABEL


def stack_database(rt: Runtime) -> DatabaseRecord | None:
    """Where the stack's data lives; None while it has none."""
    recorded, record = recorded_database(rt.paths)
    if recorded:
        return record
    return inferred_database(rt)


def inferred_database(rt: Runtime) -> DatabaseRecord | None:
    backends = _backend_containers(rt)
    if backends:
        env = dict(item.partition("=")[::2]
                   for item in (backends[0].get("Config") or {}).get("Env") or [])
        return database_of_environment(env)
    paths = rt.paths
    if not paths.compose_file.exists():
        return None
    try:
        compose_text = paths.compose_file.read_text(encoding="utf-8")
    except OSError:
        return None
    # The backend's env file (or, for a project of a release before it, .env itself).
    source = paths.backend_env_file if paths.backend_env_file.exists() else paths.env_file
    try:
        backend_env = read_env_file(source).values
    except BadInput:
        backend_env = {}
    return database_of_rendered(compose_text, backend_env)


def _backend_containers(rt: Runtime) -> list[dict]:
    try:
        containers = rt.engine.inspect_containers()
    except Tr4ctlError:  # no engine: the files still tell
        return []
    backends = [c for c in containers
                if ((c.get("Config") or {}).get("Labels") or {}).get(SERVICE_LABEL) == "backend"]
    # The one serving first (a stopped one may be an older container left behind).
    return sorted(backends, key=lambda c: not (c.get("State") or {}).get("Running"))


def database_refusal(stack: DatabaseRecord | None, config: Config, env_file_path: str, *,
                     setting: bool = False) -> BadInput | None:
    """Why this configuration would strand the stack's data, or None. `setting`: the
    configuration is the one `config set` would write (nothing written yet)."""
    if stack is None:
        return None
    wanted = configured_database(config)
    if wanted.same_as(stack):
        return None
    if wanted.engine != stack.engine:
        source = config.source(DATABASE_KEY)
        where = ("as set" if setting else "in the environment" if source == ENVIRONMENT else
                 f"in {env_file_path}" if source == ".env" else "by default")
        back = ("nothing was changed" if setting else
                f"unset {DATABASE_KEY} in the environment" if source == ENVIRONMENT else
                f"`tr4ctl config set {DATABASE_KEY}={stack.engine}`")
        return BadInput(f"{DATABASE_KEY} is {wanted.engine} ({where}) but this stack's data is "
                        f"in {stack.engine}: the backend would start on an empty database",
                        f"`tr4ctl db use {wanted.engine}` moves the data there and sets "
                        f"{DATABASE_KEY}; {back}")
    fix = "nothing was changed" if setting else \
        f"put DATABASE_URL back to {stack.url} in {env_file_path}"
    return BadInput(f"DATABASE_URL names {shown('DATABASE_URL', wanted.url)} but this stack's "
                    f"data is in {stack.url}: the backend would start on another database",
                    f"`tr4ctl db use sqlite|postgres` moves the data and sets it; {fix}")


def require_database_as_recorded(rt: Runtime, config: Config | None = None) -> None:
    """BadInput when the configuration names another database than the data's."""
    refusal = database_refusal(stack_database(rt), config or rt.config, str(rt.paths.env_file))
    if refusal is not None:
        raise refusal


def adopt_database(rt: Runtime) -> None:
    """The first `up` of a stack (or the first since the previous release): its data
    lives in the configured database from now on. A record that exists is left alone."""
    recorded, record = recorded_database(rt.paths)
    if recorded and record is not None:
        return
    # The caller's pre-flight made sure the configuration agrees with what exists.
    record_database(rt.paths, configured_database(rt.config))


def record_restored_database(rt: Runtime) -> None:
    """A restored archive brings its data and its .env together: its database is the
    stack's from now on."""
    record_database(rt.paths, configured_database(rt.config))


def require_password_unchanged(rt: Runtime) -> None:
    """PostgreSQL's role keeps the password its cluster was made with: a changed or
    emptied TR4CTL_DATABASE_PASSWORD would be written to the secret file while the server
    keeps the old one, and the backend's next start would fail to log in. Refused here,
    before anything changes."""
    path = rt.paths.db_password_file
    try:
        in_use = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}",
                       "run tr4ctl as the user who made the project") from None
    config = rt.config
    given = config.database_password or ""
    if not in_use or given == in_use or not _cluster_made(rt):
        return
    source = config.source(PASSWORD_KEY)
    where = "in the environment" if source == ENVIRONMENT else f"in {rt.paths.env_file}"
    what = "is empty" if not given else "is not the password PostgreSQL has"
    fix = (f"unset {PASSWORD_KEY} in the environment" if source == ENVIRONMENT else
           f"put back in {rt.paths.env_file} the password in use (the content of {path})")
    raise BadInput(f"{PASSWORD_KEY} {what} ({where}): PostgreSQL keeps its role's password, "
                   "and the backend's next start would fail to log in",
                   f"{fix}; nothing was changed")


def _cluster_made(rt: Runtime) -> bool:
    if postgres_cluster_made(rt.paths):
        return True
    stack = stack_database(rt)
    if stack is not None and stack.engine == POSTGRES:
        return True
    try:
        return bool(rt.engine.labelled_container_ids(
            f"{rt.engine.OWN_LABEL}={rt.config.project_name}", f"{SERVICE_LABEL}={POSTGRES}"))
    except Tr4ctlError:
        return False


def require_new_database_login(rt: Runtime) -> None:
    """A running backend keeps the connections it opened: a PostgreSQL that no longer
    takes the secret file's password shows only at the next start (a reboot). A new
    process in the backend's container logs in now, as that start will."""
    from tr4ctl.actions.users.manage import run_manage

    run_manage(rt, ["revision"], what="a new login to PostgreSQL (as the backend's next start "
               "makes)", hint=f"PostgreSQL must take the password in {rt.paths.db_password_file}"
               "; `tr4ctl logs postgres` says why it refused")
