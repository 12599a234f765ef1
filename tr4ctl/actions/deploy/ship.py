"""A new backend release beside the running one, with no failed request.

The steps, each named in progress lines and in the error if it fails:
  backup   the database alone, online (the way back if a migration goes wrong)
  build    the backend image from the shipped code (when asked, or missing)
  start    a second backend container with the new image (`compose up --scale
           backend=2 --no-recreate`): the old one keeps serving
  ready    the new container healthy and its /ready answering; its gunicorn master
           has run the migrations, once, before its workers started
  switch   nginx's upstream set to the new container by name: rendered, `nginx -t`,
           graceful reload, checked (nginx owns the proxy, so no stale address)
  drain    nginx's old workers finish their requests to the old container
  retire   the old container stopped (SIGTERM: gunicorn finishes in-flight requests)
           and removed; nginx back to the service name, which now means the new one
Until `switch` nothing the old release serves has changed; a failure there or before
removes the new container and puts the compose file and nginx config back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from tr4ctl.actions.backup.create import NoDatabaseYet, take_database_backup
from tr4ctl.actions.backup.location import backup_dir
from tr4ctl.actions.checks.backend_parts import image_parts
from tr4ctl.actions.deploy.hooks import hooks_after, hooks_before
from tr4ctl.actions.images.backend_build import (
    build_backend_image,
    built_commit,
    source_name,
)
from tr4ctl.actions.nginx.apply import active_nginx_mode, apply_nginx_config
from tr4ctl.actions.preflight import require_running, require_stack
from tr4ctl.docker.health import wait_healthy
from tr4ctl.errors import Interrupted, MissingPrerequisite, OperationFailed, Tr4ctlError
from tr4ctl.facts import BACKEND_PORT
from tr4ctl.files import write_atomic
from tr4ctl.interrupts import deferred, signal_name
from tr4ctl.plan.backend_contract import MIGRATIONS, READY
from tr4ctl.plan.backup import KIND_DEPLOY
from tr4ctl.plan.environments import NginxMode
from tr4ctl.plan.releases import FAILED, ROLLBACK, SUCCEEDED, UP, History, Release, utc_text
from tr4ctl.plan.services import ServiceState
from tr4ctl.plan.stack import render_compose, render_nginx
from tr4ctl.project.audit import operator, record
from tr4ctl.project.releases import read_history, write_history
from tr4ctl.project.state import last_environment, now_text, record_step
from tr4ctl.project.state import steps_ended as end_steps
from tr4ctl.runtime import Runtime

BACKEND = "backend"
# The new container's first requests go through its own loopback: /ready says whether
# the database (migrated), the data folders and Chroma are there.
READY_PROBE = f"""
import json, urllib.error, urllib.request
try:
    answer = urllib.request.urlopen("http://127.0.0.1:{BACKEND_PORT}/ready", timeout=5).read()
except urllib.error.HTTPError as exc:
    answer = exc.read()
except Exception as exc:
    answer = json.dumps({{"status": "unreachable", "error": str(exc)}}).encode()
print(answer.decode())
"""
DRAIN_SECONDS = 30
STOP_SECONDS = 30
LOG_LINES = 20


@dataclass
class ShipReport:
    release: Release
    previous: Release | None
    steps: dict[str, float]  # step -> seconds it took
    shipped: list[dict] = field(default_factory=list)  # a swarm's: the image to each node


class Progress:
    """Times each step, records it in state.json before it starts (a kill at any point
    leaves it for `status`) and says it (a deploy is seconds of waiting: show where)."""

    def __init__(self, say: Callable[[str], None], record: Callable[[str], None] | None = None):
        self.say = say
        self.record = record
        self.step = "pre-flight"
        self.steps: dict[str, float] = {}
        self._began = time.monotonic()

    def __call__(self, step: str, what: str) -> None:
        self._close()
        self.step = step
        if self.record:
            self.record(step)
        self.say(f"{step}: {what}")

    def _close(self) -> None:
        now = time.monotonic()
        self.steps[self.step] = round(now - self._began, 2)
        self._began = now

    def done(self) -> dict[str, float]:
        self._close()
        return self.steps


def ship(rt: Runtime, *, image: str, kind: str, build: bool, timeout: float,
         rolled_back_to: str | None = None) -> ShipReport:
    """The caller holds the stack's lock and chose the image."""
    engine, paths = rt.engine, rt.paths
    # -- pre-flight: no impact yet ------------------------------------------------------
    require_stack(rt, hint="run `tr4ctl up` first: deploy replaces a running backend")
    hint = "run `tr4ctl up`: deploy replaces a running backend"
    require_running(rt, "nginx", message="nginx is {state}: nothing would serve the new release",
                    hint=hint)
    old = [c for c in engine.service_containers(BACKEND) if c.state == "running"]
    if not old:
        raise MissingPrerequisite("the backend is not running: there is nothing to replace",
                                  hint)
    if not build and not engine.image_exists(image):
        raise MissingPrerequisite(f"image {image} does not exist on this host",
                                  "build it (`tr4ctl deploy --build`) or load it (`docker "
                                  "load`); the running release was not touched")
    env = last_environment(paths)
    mode = NginxMode(active_nginx_mode(rt) or env.value)
    inputs = replace(rt.stack_inputs, backend_image=image)
    new_compose = render_compose(rt.config, env, paths, inputs)
    old_compose = paths.compose_file.read_text(encoding="utf-8")
    old_nginx = paths.nginx_conf.read_text(encoding="utf-8")
    history = read_history(paths)
    unrecorded = not history.releases
    record_what_up_ran(rt, history, old[0], write=False)
    previous = history.current
    release = Release(id=history.next_id(), kind=kind, time=utc_text(datetime.now(UTC)),
                      image=image, image_id=None, fingerprint=None, db_revision=None,
                      by=operator(), rolled_back_to=rolled_back_to,
                      commit=built_commit(rt, history, image))
    command = kind if kind == ROLLBACK else "deploy"
    after = hooks_before(rt, kind, release, previous)  # a failing pre-deploy: no change
    if unrecorded and history.releases:
        write_history(paths, history)
    progress = Progress(rt.out.info, step_recorder(rt, command))
    began = time.monotonic()
    new: ServiceState | None = None
    try:
        progress("backup", "the database, online")
        release.backup = backup_before_release(rt, previous)
        if build:
            progress("build", f"{image} from {source_name(rt)}")
            build_backend_image(rt, env, image)
        progress("start", f"a backend container with {image}, beside the running one")
        write_atomic(paths.compose_file, new_compose)
        engine.add_container(BACKEND, len(old) + 1)
        new = the_new_container(engine, {c.container_id for c in old})
        progress("ready", f"{new.name}: migrations, health, /ready")
        wait_ready(rt, new, timeout)
        record_code(rt, release, new)
        progress("switch", f"nginx to {new.name} (tested, graceful reload)")
        apply_nginx_config(rt, render_nginx(rt.config, mode, rt.stack_inputs, upstream=new.name))
    except BaseException as exc:  # noqa: BLE001 - Ctrl-C, SIGTERM too put the old release back
        with deferred("putting the old release back", raise_after=False):
            failure = failure_for(rt, command, progress.step, exc, new, previous)
            put_back(rt, new, old_compose, old_nginx, {c.container_id for c in old})
            record_release(rt, history, release, began, progress, failure=exc)
            steps_ended(rt.paths, command, exc, still_serving(previous))
        raise failure from None
    # The new release serves every new request from here on: what follows only retires
    # the old one, and a failure there is reported but changes nothing for clients. A
    # signal now waits for it (a retire cut short would leave two backends behind nginx).
    try:
        with deferred("retiring the old release"):
            try:
                retire(rt, old, mode, progress)
                release.result = SUCCEEDED
                record_release(rt, history, release, began, progress)
            finally:
                steps_ended(rt.paths, command)
    except KeyboardInterrupt:
        raise Interrupted(f"`{command}` interrupted ({signal_name()}) after the switch: "
                          f"release {release.id} ({image}) serves, the old one is retired",
                          "`tr4ctl status` shows it") from None
    prune_old_images(rt, history)
    hooks_after(rt, after, release, previous)
    return ShipReport(release, previous, progress.done())


def step_recorder(rt: Runtime, command: str) -> Callable[[str], None]:
    started = now_text()
    return lambda step: record_step(rt.paths, command, step, started)


def steps_ended(paths, command: str, exc: BaseException | None = None,
                outcome: str | None = None) -> None:
    """The step record cleared; a signal's interruption kept for `status`."""
    try:
        end_steps(paths, command, outcome=outcome,
                  interrupted_by=signal_name() if isinstance(exc, KeyboardInterrupt) else None)
    except OSError:
        pass  # the error on its way out matters more than the record


def still_serving(previous: Release | None) -> str:
    return (f"release {previous.id} ({previous.image}) still serves, unchanged" if previous
            else "the previous backend still serves, unchanged")


def prune_old_images(rt: Runtime, history: History) -> None:
    """Only the last releases' images stay on this host (`rollback` needs them); an
    image a container still uses is kept by the engine itself (no --force)."""
    rt.engine.remove_images([image for image in history.images_to_prune()
                             if rt.engine.image_exists(image)])


def retire(rt: Runtime, old: list[ServiceState], mode: NginxMode, progress: Progress) -> None:
    """After the switch: the old containers drained, stopped, removed; nginx back on the
    service name, which now means the new container only."""
    progress("drain", "nginx's old workers finish their requests")
    wait_nginx_drained(rt)
    progress("retire", ", ".join(c.name or c.container_id[:12] for c in old))
    for container in old:
        if container.state == "running":
            rt.engine.stop_container(container.container_id, STOP_SECONDS)
        rt.engine.remove_containers([container.container_id])
    apply_nginx_config(rt, render_nginx(rt.config, mode, rt.stack_inputs))


def the_new_container(engine, old_ids: set[str]) -> ServiceState:
    added = [c for c in engine.service_containers(BACKEND) if c.container_id not in old_ids]
    if not added:
        raise OperationFailed("compose started no new backend container", None)
    return added[0]


def backup_before_release(rt: Runtime, previous: Release | None) -> str | None:
    """The database, online; None when a backend without migrations made none (there is
    nothing of tr4ctl's to keep: README, Your own backend)."""
    try:
        return str(take_database_backup(rt, backup_dir(rt, None), KIND_DEPLOY).path)
    except NoDatabaseYet:
        image = previous.image if previous else rt.stack_inputs.backend_image
        if MIGRATIONS in image_parts(rt, image):
            raise
        rt.out.info("no database yet: this backend does not provide migrations")
        return None


def wait_ready(rt: Runtime, new: ServiceState, timeout: float) -> None:
    label = f"backend ({new.name})"

    def state() -> dict[str, ServiceState]:
        seen = rt.engine.container_state(new.container_id, label)
        # Its restart policy would start a crashing container again and again (a failed
        # migration exits the master): the first crash is the answer.
        if seen.restart_count or seen.state == "restarting":
            seen = replace(seen, state="exited")
        return {label: seen}

    wait_healthy(rt.engine, (label,), timeout=timeout, read=state)
    if READY not in image_parts(rt, new.image):
        return  # healthy is all a backend without /ready can tell (README: Your own backend)
    deadline = time.monotonic() + timeout
    while True:
        answer = rt.engine.exec_in_container(new.container_id, ["python3", "-c", READY_PROBE],
                                             check=False, timeout=30).stdout
        try:
            report = json.loads(answer.strip().splitlines()[-1])
        except (ValueError, IndexError):
            report = {"status": "unreadable", "answer": answer[-200:]}
        if report.get("status") == "ready":
            return
        if time.monotonic() > deadline:
            raise OperationFailed(f"{new.name} is healthy but not ready: {json.dumps(report)}",
                                  None)
        time.sleep(0.5)


def record_what_up_ran(rt: Runtime, history: History, running: ServiceState, *,
                       write: bool = True) -> None:
    """Before the first deploy, the backend `up` started becomes the first release (kind
    "up"), so that `rollback` has a way back to it. With write=False only in `history`
    (written by the caller once the pre-deploy hook passed)."""
    if history.releases or not running.image:
        return
    release = Release(id=history.next_id(), kind=UP, time=utc_text(datetime.now(UTC)),
                      image=running.image, image_id=None, fingerprint=None, db_revision=None,
                      by=operator(), result=SUCCEEDED,
                      commit=built_commit(rt, history, running.image))
    record_code(rt, release, running)
    history.releases.append(release)
    if write:
        write_history(rt.paths, history)


def record_code(rt: Runtime, release: Release, new: ServiceState) -> None:
    """What the new container runs: its image id, its code's version and migrations."""
    release.image_id = rt.engine.image_id(release.image)
    if MIGRATIONS not in image_parts(rt, release.image):
        return
    answer = rt.engine.exec_in_container(
        new.container_id, ["python3", "-m", "app.manage", "revision"], check=False,
        timeout=120).stdout
    try:
        revision = json.loads(answer.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return
    release.fingerprint = revision.get("version")
    release.db_revision = revision.get("head")
    release.known_revisions = list(revision.get("known") or [])


def wait_nginx_drained(rt: Runtime) -> None:
    """Old workers say "worker process is shutting down" until their last request ends."""
    nginx = rt.engine.service_states(("nginx",))["nginx"]
    deadline = time.monotonic() + DRAIN_SECONDS
    while nginx.container_id and time.monotonic() < deadline:
        processes = rt.engine.top(nginx.container_id) or []
        if not any("shutting down" in p["args"] for p in processes):
            return
        time.sleep(0.2)


def put_back(rt: Runtime, new: ServiceState | None, old_compose: str, old_nginx: str,
             old_ids: set[str] | None = None) -> None:
    """Back to exactly what served before; every step tried, whatever failed first. A
    signal during `start` may come before the new container is known: then every
    backend container but the old ones goes."""
    def remove_new() -> None:
        if new is not None:
            rt.engine.remove_containers([new.container_id])
        elif old_ids is not None:
            remove_unknown_backends(rt, old_ids)

    for undo in (lambda: apply_nginx_config(rt, old_nginx), remove_new,
                 lambda: write_atomic(rt.paths.compose_file, old_compose)):
        try:
            undo()
        except Exception as exc:  # noqa: BLE001 - the first failure is the one to report
            rt.out.warn(f"while putting the old release back: {exc}")


# A `docker compose up` stopped half way (the signal kills it) may have handed the
# engine a create or a start that still completes: the sweep goes on until a listing a
# while later finds no stray backend, within a bound.
STRAY_SETTLE_SECONDS = 2.0
STRAY_SWEEP_SECONDS = 30.0


def remove_unknown_backends(rt: Runtime, old_ids: set[str]) -> None:
    """Every backend container but the old ones removed, also one the engine finishes
    creating after the compose process that asked for it was stopped."""
    deadline = time.monotonic() + STRAY_SWEEP_SECONDS
    empty_listings = 0
    while time.monotonic() < deadline:
        strays = strays_seen(rt, old_ids)
        if strays:
            rt.engine.remove_containers(strays)
            empty_listings = 0
        else:
            empty_listings += 1
            if empty_listings == 2:  # two empty listings STRAY_SETTLE_SECONDS apart
                return
        time.sleep(STRAY_SETTLE_SECONDS)


def strays_seen(rt: Runtime, old_ids: set[str]) -> list[str]:
    return [c.container_id for c in rt.engine.service_containers(BACKEND)
            if c.container_id not in old_ids]


def record_release(rt: Runtime, history, release: Release, began: float, progress: Progress,
            failure: BaseException | None = None) -> None:
    release.seconds = round(time.monotonic() - began, 2)
    if failure is not None:
        release.result = FAILED
        release.failed_step = progress.step
        release.reason = (failure.message if isinstance(failure, Tr4ctlError)
                          else type(failure).__name__)
    history.releases.append(release)
    write_history(rt.paths, history)
    record(rt.paths, release.kind, datetime.now(UTC), release=release.id,
                 image=release.image, result=release.result, step=release.failed_step,
                 reason=release.reason, seconds=release.seconds,
                 rolled_back_to=release.rolled_back_to, backup=release.backup)


def failure_for(rt: Runtime, command: str, step: str, exc: BaseException,
                new: ServiceState | None, previous: Release | None) -> BaseException:
    """The error to report once the old release is back: the step, the cause, and the
    cause's own exit code (a missing image stays 3, a malformed reference 2)."""
    still = still_serving(previous)
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted(f"`{command}` interrupted ({signal_name()}) at {step}", still)
    reason = exc.message if isinstance(exc, Tr4ctlError) else f"{type(exc).__name__}: {exc}"
    details = exc.details if isinstance(exc, Tr4ctlError) else None
    if new is not None and not details:
        details = rt.engine.container_logs(new.container_id, LOG_LINES) or None
    kind = type(exc) if isinstance(exc, Tr4ctlError) else OperationFailed
    return kind(f"{command} failed at {step}: {reason}",
                f"{still}; the new container's last log lines are below" if details else still,
                details=details)
