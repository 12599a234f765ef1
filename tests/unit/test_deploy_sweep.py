"""An interrupted deploy's sweep of the backend it was starting (actions/deploy/ship.py):
a container the engine creates after the stopped `docker compose up` asked for it is
removed too. The engine here is a stand-in; test_remote.py's lost connection is the real
case."""

from __future__ import annotations

from types import SimpleNamespace

from tr4ctl.actions.deploy import ship


class _Engine:
    """Backend containers as the engine lists them, one listing after another: the
    new one appears only on the second listing (its create was still running)."""

    def __init__(self):
        self.containers = {"old"}
        self.listings = 0
        self.removed: list[str] = []

    def service_containers(self, service):
        self.listings += 1
        if self.listings == 2:
            self.containers.add("late")
        return [SimpleNamespace(container_id=c) for c in sorted(self.containers)]

    def remove_containers(self, ids):
        self.removed += ids
        self.containers -= set(ids)


def test_a_backend_created_after_compose_was_stopped_is_removed(monkeypatch):
    monkeypatch.setattr(ship, "STRAY_SETTLE_SECONDS", 0)
    engine = _Engine()
    ship.remove_unknown_backends(SimpleNamespace(engine=engine), {"old"})
    assert engine.removed == ["late"] and engine.containers == {"old"}
