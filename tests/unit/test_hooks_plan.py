"""Deploy hooks without Docker: which hook when, its environment, what its end means."""

from __future__ import annotations

from tr4ctl.plan.hooks import HookRun, hook_environment, post_hook, pre_hook, tail
from tr4ctl.plan.releases import DEPLOY, ROLLBACK, UP, Release


def release(id_, image, kind=DEPLOY):
    return Release(id=id_, kind=kind, time="t", image=image, image_id=None, fingerprint=None,
                   db_revision=None)


def test_which_hook_runs_when():
    assert (pre_hook(DEPLOY), post_hook(DEPLOY)) == ("pre-deploy", "post-deploy")
    assert (pre_hook(ROLLBACK), post_hook(ROLLBACK)) == (None, "post-rollback")
    assert (pre_hook(UP), post_hook(UP)) == (None, None)


def test_the_environment_names_the_release_and_passes_no_secret():
    env = hook_environment("pre-deploy", release("r3", "app:3"), release("r2", "app:2"),
                           commit="abc123", project_dir="/srv/p", project="p",
                           inherited={"PATH": "/bin", "TR4CTL_DATABASE_PASSWORD": "s3cret",
                                      "JWT_SECRET_KEY": "k"})
    assert env["TR4CTL_RELEASE_ID"] == "r3" and env["TR4CTL_RELEASE_IMAGE"] == "app:3"
    assert env["TR4CTL_RELEASE_COMMIT"] == "abc123" and env["PATH"] == "/bin"
    assert env["TR4CTL_PREVIOUS_RELEASE_ID"] == "r2"
    assert "s3cret" not in env.values() and "k" not in env.values()
    first = hook_environment("pre-deploy", release("r1", "app:1"), None, commit=None,
                             project_dir="/srv/p", project="p", inherited={})
    assert first["TR4CTL_PREVIOUS_RELEASE_ID"] == "" and first["TR4CTL_RELEASE_COMMIT"] == ""


def test_outcomes_and_the_audit_record():
    assert HookRun("pre-deploy", 0, 0.1, "").ok
    assert HookRun("pre-deploy", 4, 0.1, "").outcome == "exit 4"
    timed_out = HookRun("pre-deploy", None, 1.0, "")
    assert not timed_out.ok and timed_out.audit("r3")["result"] == "timed out"
    assert tail(b"\n".join(b"line %d" % i for i in range(50))).splitlines()[0] == "line 30"
