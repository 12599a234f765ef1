"""Deploy hooks: which hook runs when, what it is given, what its end means. Pure.

An operator's executables in <project-dir>/hooks/: `pre-deploy` before a deploy changes
anything (failing stops the deploy), `post-deploy` after a deploy succeeded,
`post-rollback` after a rollback succeeded (failing, those two are reported: the release
already serves).
"""

from __future__ import annotations

from dataclasses import dataclass

from tr4ctl.plan.releases import DEPLOY, ROLLBACK, Release

HOOKS_DIR = "hooks"
PRE_DEPLOY = "pre-deploy"
POST_DEPLOY = "post-deploy"
POST_ROLLBACK = "post-rollback"
# What a hook inherits from tr4ctl's environment: enough to run, never a secret.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME")
OUTPUT_LINES = 20


@dataclass(frozen=True)
class HookRun:
    hook: str
    exit_code: int | None  # None: killed at the time limit
    seconds: float
    output_tail: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def outcome(self) -> str:
        if self.exit_code is None:
            return "timed out"
        return "ok" if self.exit_code == 0 else f"exit {self.exit_code}"

    def audit(self, release: str) -> dict[str, object]:
        return {"hook": self.hook, "release": release, "result": self.outcome,
                "exit_code": self.exit_code, "seconds": self.seconds}


def pre_hook(kind: str) -> str | None:
    return PRE_DEPLOY if kind == DEPLOY else None


def post_hook(kind: str) -> str | None:
    return {DEPLOY: POST_DEPLOY, ROLLBACK: POST_ROLLBACK}.get(kind)


def hook_environment(hook: str, release: Release, previous: Release | None, *,
                     commit: str | None, project_dir: str, project: str,
                     inherited: dict[str, str]) -> dict[str, str]:
    """The hook's whole environment: the release's facts and a few inherited basics
    (tr4ctl's own environment may hold secrets: it is not passed on)."""
    return {
        **{key: value for key, value in inherited.items() if key in INHERITED},
        "TR4CTL_HOOK": hook,
        "TR4CTL_PROJECT": project,
        "TR4CTL_PROJECT_DIR": project_dir,
        "TR4CTL_RELEASE_ID": release.id,
        "TR4CTL_RELEASE_KIND": release.kind,
        "TR4CTL_RELEASE_IMAGE": release.image,
        "TR4CTL_RELEASE_COMMIT": commit or "",
        "TR4CTL_PREVIOUS_RELEASE_ID": previous.id if previous else "",
        "TR4CTL_PREVIOUS_RELEASE_IMAGE": previous.image if previous else "",
    }


def tail(output: bytes, lines: int = OUTPUT_LINES) -> str:
    return "\n".join(output.decode(errors="replace").strip().splitlines()[-lines:])
