"""A new backend release on a swarm: the swarm's own rolling update, followed.

The steps, named in progress lines and in the error if one fails:
  backup   the database alone, online (as on compose)
  build    the backend image from the shipped code (when asked, or missing)
  ship     the image to each other node a replica may run on that lacks its id
           (`docker save | docker load` over SSH, or the registry: images/nodes.py)
  update   `docker service update --image`: one replica at a time, the new task started
           and healthy before an old one stops (start-first); nginx follows the replicas
           through the swarm's DNS, retrying the next one when a replica goes away
  watch    the update's status until the swarm says completed, or rolled back: a new
           task that fails, or fails its healthcheck, makes the swarm put the previous
           image back on its own (failure_action: rollback)
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

from tr4ctl.actions.deploy.hooks import hooks_after, hooks_before
from tr4ctl.actions.deploy.ship import (
    BACKEND,
    Progress,
    ShipReport,
    backup_before_release,
    failure_for,
    prune_old_images,
    record_code,
    record_release,
    record_what_up_ran,
)
from tr4ctl.actions.images.backend_build import (
    build_backend_image,
    built_commit,
    source_name,
)
from tr4ctl.actions.images.nodes import ship_to_nodes
from tr4ctl.actions.preflight import require_stack
from tr4ctl.errors import MissingPrerequisite, OperationFailed
from tr4ctl.files import write_atomic
from tr4ctl.plan.releases import ROLLBACK, SUCCEEDED, Release, utc_text
from tr4ctl.plan.stack import render_compose
from tr4ctl.plan.swarm import UpdateProgress, update_progress
from tr4ctl.project.audit import operator
from tr4ctl.project.releases import read_history, write_history
from tr4ctl.project.state import last_environment
from tr4ctl.runtime import Runtime

POLL_SECONDS = 0.5


def ship_rolling(rt: Runtime, *, image: str, kind: str, build: bool, timeout: float,
                 rolled_back_to: str | None = None) -> ShipReport:
    engine, paths = rt.engine, rt.paths
    require_stack(rt, hint="run `tr4ctl up` first: deploy updates a running backend")
    service = engine.service_document(BACKEND)
    if service is None:
        raise MissingPrerequisite("the backend service is not on the swarm: there is nothing "
                                  "to update", "run `tr4ctl up`")
    if not build and not engine.image_exists(image):
        raise OperationFailed(f"image {image} does not exist on this node",
                              "build it (`tr4ctl deploy --build`) or load it here (`docker "
                              "load`): deploy ships it to the other nodes; the running "
                              "release was not touched")
    env = last_environment(paths)
    new_stack = render_compose(rt.config, env, paths, replace(rt.stack_inputs,
                                                               backend_image=image))
    history = read_history(paths)
    running = next((c for c in engine.service_containers(BACKEND) if c.state == "running"),
                   None)
    unrecorded = not history.releases
    if running is not None:
        record_what_up_ran(rt, history, running, write=False)
    previous = history.current
    release = Release(id=history.next_id(), kind=kind, time=utc_text(datetime.now(UTC)),
                      image=image, image_id=None, fingerprint=None, db_revision=None,
                      by=operator(), rolled_back_to=rolled_back_to,
                      commit=built_commit(rt, history, image))
    after = hooks_before(rt, kind, release, previous)  # a failing pre-deploy: no change
    if unrecorded and history.releases:
        write_history(paths, history)
    progress = Progress(rt.out.info)
    began = time.monotonic()
    try:
        progress("backup", "the database, online")
        release.backup = backup_before_release(rt, previous)
        if build:
            progress("build", f"{image} from {source_name(rt)}")
            build_backend_image(rt, env, image)
        progress("ship", f"{image} to the nodes that lack it")
        shipped = [result.as_dict() for result in ship_to_nodes(rt, [image])]
        before = update_progress(engine.service_document(BACKEND) or {})
        progress("update", f"{image}, one replica at a time (start-first)")
        engine.update_image(BACKEND, image)
        progress("watch", "the swarm's rolling update")
        outcome = wait_update(rt, before, timeout)
        if outcome.rolled_back:
            raise OperationFailed(
                f"the swarm rolled the backend back: {outcome.message or outcome.state}",
                f"{_still(previous)} serves again; the failed tasks' reasons are below "
                f"(`docker service ps {engine.stack.service(BACKEND)} --no-trunc`)",
                details="\n".join(engine.failed_tasks(BACKEND)) or None)
        write_atomic(paths.compose_file, new_stack)
        new = next((c for c in engine.service_containers(BACKEND)
                    if c.state == "running" and c.image == image), None)
        if new is not None:
            record_code(rt, release, new)
    except BaseException as exc:  # noqa: BLE001 - Ctrl-C too is recorded
        command = kind if kind == ROLLBACK else "deploy"
        failure = failure_for(rt, command, progress.step, exc, None, previous)
        record_release(rt, history, release, began, progress, failure=exc)
        raise failure from None
    release.result = SUCCEEDED
    record_release(rt, history, release, began, progress)
    prune_old_images(rt, history)  # this node's; each other node keeps what it loaded
    hooks_after(rt, after, release, previous)
    return ShipReport(release, previous, progress.done(), shipped)


def wait_update(rt: Runtime, before: UpdateProgress, timeout: float) -> UpdateProgress:
    """Until the update that started after `before` has finished, either way. On a
    timeout the swarm is asked to roll back: the previous release keeps serving."""
    engine = rt.engine
    deadline = time.monotonic() + timeout
    while True:
        now = update_progress(engine.service_document(BACKEND) or {})
        if now.started != before.started and now.finished:
            return now
        if time.monotonic() > deadline:
            engine.roll_back_service(BACKEND)
            raise OperationFailed(f"the rolling update did not finish in {timeout:.0f}s "
                                  f"({now.state}: {now.message or 'no message'})",
                                  "the swarm was asked to roll it back; `tr4ctl status` "
                                  "shows the replicas")
        time.sleep(POLL_SECONDS)


def _still(previous: Release | None) -> str:
    return f"release {previous.id} ({previous.image})" if previous else "the previous backend"
