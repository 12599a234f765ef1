"""Running the operator's deploy hooks (plan/hooks.py says which, with what). The one
door for their processes: each runs in its own session, so at the time limit
(TR4CTL_HOOK_TIMEOUT) it is killed with everything it started; every run is recorded in
the audit log."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from tr4ctl.errors import BadInput, OperationFailed
from tr4ctl.facts import COMMIT_LABEL
from tr4ctl.plan.hooks import HOOKS_DIR, HookRun, hook_environment, post_hook, pre_hook, tail
from tr4ctl.plan.releases import Release
from tr4ctl.runtime import Runtime


def hook_path(rt: Runtime, hook: str) -> Path | None:
    """The hook's file, or None when the operator has none. One that is there but is no
    executable regular file is refused (exit 2) before anything changes."""
    path = rt.project_dir / HOOKS_DIR / hook
    if not os.path.lexists(path):
        return None
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise BadInput(f"hook {path} cannot be read: {exc.strerror}",
                       f"fix or remove {path}") from None
    if not stat.S_ISREG(mode) or not os.access(path, os.X_OK):
        raise BadInput(f"hook {path} is not an executable file",
                       f"make it one (chmod +x {path}) or remove it")
    return path


def run_hook(rt: Runtime, hook: str, release: Release, previous: Release | None
             ) -> HookRun | None:
    from tr4ctl.project.audit import record

    path = hook_path(rt, hook)
    if path is None:
        return None
    commit = rt.engine.image_label(release.image, COMMIT_LABEL)
    environment = hook_environment(hook, release, previous, commit=commit,
                                   project_dir=str(rt.project_dir), project=rt.names.project,
                                   inherited=dict(os.environ))
    limit = rt.config.hook_timeout
    rt.out.info(f"hook {hook}: {path} (release {release.id}, at most {limit:g} s)")
    began = time.monotonic()
    with tempfile.TemporaryFile() as output:
        proc = subprocess.Popen([str(path)], cwd=rt.project_dir, env=environment,
                                stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                start_new_session=True)
        try:
            code: int | None = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            code = None
        except BaseException:  # Ctrl-C: the hook goes with us
            _kill(proc)
            raise
        if code is None:
            _kill(proc)
        output.seek(0)
        run = HookRun(hook, code, round(time.monotonic() - began, 2), tail(output.read()))
    record(rt.paths, "hook", **run.audit(release.id))
    return run


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def require_pre_hook(rt: Runtime, hook: str, release: Release, previous: Release | None) -> None:
    """A failing pre-deploy hook stops the deploy: exit 1, nothing changed."""
    run = run_hook(rt, hook, release, previous)
    if run is not None and not run.ok:
        limit = f" (TR4CTL_HOOK_TIMEOUT={rt.config.hook_timeout:g})" if run.exit_code is None \
            else ""
        raise OperationFailed(f"hook {hook} failed: {run.outcome}{limit}; the deploy did not "
                              "start", "the running release was not touched; fix the hook "
                              "or what it checks, then deploy again",
                              details=run.output_tail or None)


def report_post_hook(rt: Runtime, hook: str, release: Release, previous: Release | None) -> None:
    """After the release serves: a failing hook is a warning (it cannot undo it)."""
    run = run_hook(rt, hook, release, previous)
    if run is not None and not run.ok:
        rt.out.warn(f"hook {hook} failed: {run.outcome} (release {release.id} serves; "
                    "see the audit log)" + (f"\n{run.output_tail}" if run.output_tail else ""))


def hooks_before(rt: Runtime, kind: str, release: Release, previous: Release | None
                 ) -> str | None:
    """Before a release changes anything: the post hook checked (one that cannot run is
    refused now), the pre hook run. The post hook to run after success, if any."""
    after = post_hook(kind)
    if after:
        hook_path(rt, after)
    if before := pre_hook(kind):
        require_pre_hook(rt, before, release, previous)
    return after


def hooks_after(rt: Runtime, after: str | None, release: Release,
                previous: Release | None) -> None:
    if after:
        report_post_hook(rt, after, release, previous)
