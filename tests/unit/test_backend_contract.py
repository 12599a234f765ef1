"""The optional parts a backend declares (io.tr4ctl.provides): read strictly, reported
as "not provided" by verify and health, refused with exit 3 by a command that needs one."""

from dataclasses import replace
from types import SimpleNamespace

import pytest

from tr4ctl.actions.checks.backend_parts import require_part
from tr4ctl.errors import ExitCode, MissingPrerequisite
from tr4ctl.plan.backend_contract import (
    ACCOUNTS,
    MIGRATIONS,
    OPTIONAL_PARTS,
    READY,
    contract_report,
    not_provided,
    provided_parts,
    runs_as_root,
)
from tr4ctl.plan.services import absent


@pytest.mark.parametrize("provides, shipped, own_source, parts", [
    ("ready,accounts,migrations", None, True, {READY, ACCOUNTS, MIGRATIONS}),
    (" Ready , migrations,telepathy", None, True, {READY, MIGRATIONS}),  # unknown: ignored
    ("", None, True, set()),
    (None, None, True, set()),  # someone else's image that declares nothing provides nothing
    (None, "3f2a9c1b7d4e", True, set(OPTIONAL_PARTS)),  # the shipped backend, before the label
    ("ready", "3f2a9c1b7d4e", False, {READY}),  # a declaration wins
    # No TR4CTL_BACKEND_SOURCE and no label at all: an older tr4ctl's shipped backend
    # (test_upgrade's, from before io.tr4ctl.backend-version).
    (None, None, False, set(OPTIONAL_PARTS)),
])
def test_an_image_provides_what_its_label_names(provides, shipped, own_source, parts):
    assert provided_parts(provides, shipped, own_source) == parts


def test_a_missing_part_is_reported_not_failed():
    check = not_provided("backend /ready", READY)
    assert check.ok and check.verdict == "skip"
    assert "not provided by this backend" in check.reason and "/ready" in check.reason


class Engine:
    def __init__(self, labels):
        self.labels = labels

    def image_label(self, image, key):
        return self.labels.get(key)

    def service_states(self, services):
        return {"backend": replace(absent("backend"), image="team/app:1")}


def test_a_command_that_needs_a_missing_part_is_exit_3_naming_it():
    rt = SimpleNamespace(engine=Engine({"io.tr4ctl.provides": "ready"}),
                         config=SimpleNamespace(backend_source="/srv/team-app"))
    with pytest.raises(MissingPrerequisite, match="users seed needs the accounts command") \
            as raised:
        require_part(rt, ACCOUNTS, "users seed")
    assert raised.value.exit_code == ExitCode.PREREQUISITE
    assert "io.tr4ctl.provides=accounts" in raised.value.hint
    require_part(rt, READY, "deploy")  # provided: no refusal


@pytest.mark.parametrize("user, root", [("", True), (None, True), ("root", True), ("0", True),
                                        ("0:0", True), ("root:app", True), ("10001", False),
                                        ("10001:10001", False), ("app", False)])
def test_root_is_no_user_root_or_uid_0(user, root):
    assert runs_as_root(user) is root


def test_doctor_names_the_parts_an_image_lacks():
    ok, words = contract_report("app", frozenset({READY}))
    assert ok
    assert words == ("runs as app; provides ready; not provided by this backend: accounts, "
                     "migrations, request-id")
    ok, words = contract_report("", frozenset(OPTIONAL_PARTS))
    assert not ok and words.startswith("runs as root (USER not set); provides ready, accounts")
