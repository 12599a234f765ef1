"""What every command gets: the global options, and lazily, settings and the engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tr4ctl.output import Output
from tr4ctl.plan.layout import ProjectPaths, StackNames

if TYPE_CHECKING:
    from tr4ctl.engine import Engine
    from tr4ctl.settings import Tr4ctlSettings


@dataclass
class AppContext:
    project_dir: Path
    project_name_option: str | None
    out: Output
    debug: bool = False
    _settings: Tr4ctlSettings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def paths(self) -> ProjectPaths:
        return ProjectPaths(self.project_dir)

    @property
    def settings(self) -> Tr4ctlSettings:
        if self._settings is None:
            from tr4ctl.settings import load_settings

            self._settings = load_settings(self.paths.env_file,
                                           project_name=self.project_name_option)
        return self._settings

    def reload_settings(self) -> Tr4ctlSettings:
        self._settings = None
        return self.settings

    @property
    def names(self) -> StackNames:
        return StackNames(self.settings.project_name)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from tr4ctl.engine import Engine

            self._engine = Engine(self.out, self.settings.project_name, [self.paths.compose_file])
        return self._engine


    @contextmanager
    def changing(self, command: str) -> Iterator[None]:
        """Hold the stack's lock while a command changes it (read-only commands never wait).

        While a restore is half done, only finishing it (or stopping the stack) may run:
        half-restored volumes must never be served or backed up.
        """
        from tr4ctl.actions.backup_journal import refuse_if_restore_interrupted
        from tr4ctl.lock import stack_lock

        with stack_lock(self.paths.rendered_dir / "lock", command,
                        self.settings.lock_timeout, on_wait=self.out.warn):
            if command not in ("backup restore", "down"):
                refuse_if_restore_interrupted(self)
            yield


def app_context(ctx: typer.Context) -> AppContext:
    return ctx.find_root().obj
