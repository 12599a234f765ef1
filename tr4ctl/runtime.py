"""What every command works with: the project's paths and names, its configuration
(read once), output, the Docker engine, and the lock for commands that change things.

The CLI builds one Runtime from the global options; actions take it as their first
argument. Nothing here parses options or prints tables.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tr4ctl.errors import BadInput, MissingPrerequisite
from tr4ctl.output import Output
from tr4ctl.plan.layout import ProjectPaths, StackNames

if TYPE_CHECKING:
    from tr4ctl.actions.images.backend_source import ResolvedSource
    from tr4ctl.config.model import Config
    from tr4ctl.docker.engine import Engine
    from tr4ctl.plan.stack import StackInputs

TARGET_KEY = "TR4CTL_TARGET"

# Commands that may start a project in a folder that does not exist yet.
CREATE_PROJECT_DIR = frozenset({"init", "up", "config set", "images build-local"})
# The changing commands that may run in a folder with no project yet: they make one, or
# bring one back from an archive. Any other (down --volumes above all) run from the wrong
# folder would act on the default project's containers and volumes.
START_PROJECT = CREATE_PROJECT_DIR | {"backup restore"}


@dataclass
class Runtime:
    project_dir: Path
    out: Output
    project_name_option: str | None = None
    target_option: str | None = None  # `up --target`
    debug: bool = False
    _config: Config | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)
    _stack_inputs: StackInputs | None = field(default=None, repr=False)
    _backend_source: ResolvedSource | None = field(default=None, repr=False)

    @property
    def paths(self) -> ProjectPaths:
        return ProjectPaths(self.project_dir)

    @property
    def config(self) -> Config:
        if self._config is None:
            from tr4ctl.config.load import load_config

            self._config = load_config(self.paths.env_file, options=self.config_options)
        return self._config

    @property
    def config_options(self) -> dict[str, str | None]:
        """Settings given as global options: they win over the environment and .env."""
        return {"TR4CTL_PROJECT_NAME": self.project_name_option,
                TARGET_KEY: self.target_option}

    def reload_config(self) -> Config:
        """After tr4ctl itself changed .env (init, config set, a restore)."""
        self._config = None
        self._stack_inputs = None
        self._engine = None  # the target may have changed
        return self.config

    @property
    def services(self) -> tuple[str, ...]:
        """The long-running services of this stack (PostgreSQL's only on postgres)."""
        from tr4ctl.facts import stack_services

        return stack_services(self.config.database, bool(self.config.backup_schedule),
                              bool(self.config.alert_webhook))

    @property
    def names(self) -> StackNames:
        return StackNames(self.config.project_name)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self.engine_for(self.config)
        return self._engine

    def engine_for(self, config: Config) -> Engine:
        """The engine facade a configuration works with (`config set` checks a new
        target against the engine before writing it)."""
        from tr4ctl.docker.commands import ComposeProject
        from tr4ctl.docker.endpoint import resolve_endpoint
        from tr4ctl.docker.engine import Engine
        from tr4ctl.docker.engine_api import engine_api
        from tr4ctl.docker.runner import Runner
        from tr4ctl.facts import SWARM

        project = ComposeProject(config.project_name, (self.paths.compose_file,))
        # One engine for every call: the reader and every docker process alike.
        endpoint = resolve_endpoint(os.environ)
        runner = Runner(self.out, endpoint.child_environment(os.environ))
        if config.target == SWARM:
            from tr4ctl.docker.swarm import SwarmEngine

            return SwarmEngine(runner, project, engine_api(endpoint),
                               tool_image=config.certbot_image)
        from tr4ctl.project.state import seen_ready

        return Engine(runner, project, engine_api(endpoint),
                      recorded_ready=lambda: seen_ready(self.paths))

    @property
    def stack_inputs(self) -> StackInputs:
        """The templates and backend image the stack's files are rendered from."""
        if self._stack_inputs is None:
            from tr4ctl.assets import (
                backend_context,
                backend_fingerprint,
                backend_image,
                load_templates,
            )
            from tr4ctl.plan.stack import StackInputs
            from tr4ctl.project.releases import read_history
            from tr4ctl.project.state import maintenance_record

            config = self.config
            # After a deploy the current release's image runs: `up` never goes back to
            # another one behind the operator's back (`tr4ctl deploy` changes it).
            current = read_history(self.paths).current
            source = self.backend_source
            own = source.image is not None
            self._stack_inputs = StackInputs(
                templates=load_templates(config.templates_dir),
                backend_image=current.image if current else (
                    (config.backend_image or source.image) if own else backend_image(
                        config.backend_image, config.backend_base_image)),
                backend_context=source.location if own else str(backend_context()),
                backend_version=source.version if own else backend_fingerprint(
                    config.backend_base_image),
                maintenance=maintenance_record(self.paths),
                **self._tool_versions())
        return self._with_file_digests(self._stack_inputs)

    def _with_file_digests(self, inputs: StackInputs) -> StackInputs:
        """The secret files' digests as they are now, read at each use: a key `up`
        writes after the first use is named after its content all the same."""
        from dataclasses import replace

        from tr4ctl.files import content_digest
        from tr4ctl.plan.stack import swarm_secret_files

        files = swarm_secret_files(self.config, self.paths)
        if not files:
            return inputs
        return replace(inputs, file_digests={key: content_digest(Path(path))
                                             for key, path in files.items()})

    @property
    def backend_source(self) -> ResolvedSource:
        """TR4CTL_BACKEND_SOURCE resolved (at HEAD for a repository, unless a command
        chose a ref): refused with exit 2 when it names no build context."""
        if self._backend_source is None:
            from tr4ctl.actions.images.backend_source import resolve_backend_source

            self._backend_source = resolve_backend_source(self.config.backend_source, None)
        return self._backend_source

    def choose_backend_ref(self, ref: str | None) -> ResolvedSource:
        """`deploy --ref`: the source at that ref is what this command builds."""
        from tr4ctl.actions.images.backend_source import resolve_backend_source

        self._backend_source = resolve_backend_source(self.config.backend_source, ref)
        self._stack_inputs = None
        return self._backend_source

    def forget_stack_inputs(self) -> None:
        """Read them again at the next use (maintenance mode was just switched)."""
        self._stack_inputs = None

    def _tool_versions(self) -> dict[str, str | None]:
        """The engine's and compose's versions, which decide the healthchecks' timing;
        None each when not there (rendering does not need an engine: `config show`)."""
        from tr4ctl.errors import Tr4ctlError

        try:
            return {"engine_version": self.engine.server_version,
                    "compose_version": self.engine.compose_version}
        except Tr4ctlError:
            return {"engine_version": None, "compose_version": None}

    @property
    def has_project(self) -> bool:
        """tr4ctl has set up this project dir: a .env, or rendered files (a lock file
        left by a refused command alone is no project)."""
        rendered = self.paths.rendered_dir
        return self.paths.env_file.exists() or (rendered.is_dir() and any(
            entry.name != "lock" for entry in rendered.iterdir()))

    @property
    def project_named(self) -> bool:
        """The operator named the project (--project-name or TR4CTL_PROJECT_NAME): then
        a folder with no project may still read that project's containers."""
        return bool(self.project_name_option or os.environ.get("TR4CTL_PROJECT_NAME"))

    def no_project(self) -> MissingPrerequisite:
        # Exit 3, like every command whose stack is not there (errors.ExitCode).
        return MissingPrerequisite(
            f"the stack is not running: no stack yet in {self.project_dir} (no tr4ctl project "
            "there)", "pass the project's folder with --project-dir (or TR4CTL_PROJECT_DIR), or "
            "start one there with `tr4ctl init` or `tr4ctl up`")

    def ensure_project_dir(self, *, create: bool) -> None:
        """The project dir is a folder tr4ctl can write in (created when `create`)."""
        directory = self.project_dir
        problem = None
        if not directory.exists():
            if not create:
                raise self.no_project()
            try:
                directory.mkdir(parents=True)
            except OSError as exc:
                problem = exc.strerror or str(exc)
        elif not directory.is_dir():
            problem = "it is not a folder"
        if problem is None and not os.access(directory, os.W_OK | os.X_OK):
            problem = "it is not writable by this user"
        if problem:
            raise BadInput(f"cannot use {directory} as the project dir: {problem}",
                           "pass --project-dir with a folder you can write in")

    @contextmanager
    def changing(self, command: str) -> Iterator[None]:
        """Hold the stack's lock while a command changes it (read-only commands never
        wait); refuse while a restore is half done, unless the command may run then."""
        from tr4ctl.errors import Interrupted
        from tr4ctl.interrupts import signal_name
        from tr4ctl.lock import stack_lock
        from tr4ctl.project.journal import refuse_if_restore_interrupted

        self.ensure_project_dir(create=command in CREATE_PROJECT_DIR)
        if command not in START_PROJECT and not self.has_project:
            raise self.no_project()
        with stack_lock(self.paths.rendered_dir / "lock", command, self._lock_timeout(),
                        on_wait=self.out.warn):
            refuse_if_restore_interrupted(self.paths, command)
            began = time.monotonic()
            outcome: BaseException | None = None
            try:
                yield
            except KeyboardInterrupt:
                # Said while the lock is released on the way out; a flow that knows its
                # step (up) raises a more precise Interrupted itself.
                outcome = Interrupted(f"`tr4ctl {command}` interrupted ({signal_name()}) "
                                      "part way", "`tr4ctl status` shows the stack; run the "
                                      "command again to finish")
                raise outcome from None
            except BaseException as exc:
                outcome = exc
                raise
            finally:
                self._remember_seen_ready()
                self._audit(command, outcome, time.monotonic() - began)

    def _audit(self, command: str, outcome: BaseException | None, seconds: float) -> None:
        """Every changing command's line in the audit log: its name and how it ended
        (done, failed, interrupted), never its arguments (a value given to `config set`
        may be a secret)."""
        from tr4ctl.errors import ExitCode
        from tr4ctl.project.audit import record

        code = 0 if outcome is None else int(getattr(outcome, "exit_code", None)
                                             or ExitCode.FAILED)
        # Refused as given (2) or missing what it needs (3): nothing was changed, and a
        # refusal leaves nothing behind, a line in the log included.
        if code in (ExitCode.BAD_INPUT, ExitCode.PREREQUISITE) or not self.has_project:
            return
        try:
            record(self.paths, "command", command=command, exit_code=code,
                   result="ok" if code == 0 else "failed", seconds=round(seconds, 2))
        except OSError as exc:  # the command's own outcome matters more than its record
            self.out.warn(f"the audit log could not be written: {exc}")

    def _remember_seen_ready(self) -> None:
        """The containers this command's waits saw pass their own check, for `status`
        (plan/healthchecks.py): kept under the lock, whatever the command's outcome."""
        if self._engine is not None and self._engine.seen_ready:
            from tr4ctl.project.state import remember_seen_ready

            remember_seen_ready(self.paths, self._engine.seen_ready)
            self._engine.seen_ready.clear()

    def _lock_timeout(self) -> float:
        """From the configuration; its default while the configuration does not load, so
        `config set` can still repair a broken .env."""
        from tr4ctl.config.keys import KEYS

        try:
            return self.config.lock_timeout
        except BadInput:
            return KEYS["TR4CTL_LOCK_TIMEOUT"].default
