"""Removing a container the engine is already removing (a helper run with --rm whose
client a signal just ended) is waited for, not an error: restore's put-back hit it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tr4ctl.docker import engine as engine_module
from tr4ctl.docker.engine import Engine
from tr4ctl.errors import Tr4ctlError


class _Runner:
    def __init__(self, rm_error: str, listings: list[str]):
        self.rm_error, self.listings, self.calls = rm_error, listings, []

    def run(self, argv, check=True, **_):
        self.calls.append(argv)
        if argv[:2] == ["docker", "rm"]:
            if check:
                raise Tr4ctlError(f"docker rm failed: {self.rm_error}")
            return SimpleNamespace(returncode=1, stderr=self.rm_error, stdout="")
        return SimpleNamespace(returncode=0, stderr="", stdout=self.listings.pop(0))

    def output(self, argv, **options):
        return self.run(argv, **options).stdout


def test_a_removal_already_under_way_is_waited_for(monkeypatch):
    monkeypatch.setattr(engine_module.time, "sleep", lambda _s: None)
    runner = _Runner("removal of container abc is already in progress", ["abc\n", ""])
    Engine(runner, project=None).remove_containers(["abc"])
    assert [c[:2] for c in runner.calls] == [["docker", "rm"], ["docker", "ps"],
                                             ["docker", "ps"]]


def test_any_other_failure_is_the_runners_one_line_error():
    runner = _Runner("permission denied", [])
    with pytest.raises(Tr4ctlError, match="permission denied"):
        Engine(runner, project=None).remove_containers(["abc"])
