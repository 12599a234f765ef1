"""Releases of the backend as data: the history kept in <project-dir>/.tr4ctl/
releases.json, which one is current, which can be rolled back to, which images to keep.

Pure: callers read and write the file, and pass in `now`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

FORMAT = "tr4ctl-releases"
# 2: a release records the commit its image was built from (1: read, commit unknown).
FORMAT_VERSION = 2
# UP: what `up` ran before the first deploy, recorded by that deploy as the way back.
DEPLOY, ROLLBACK, UP = "deploy", "rollback", "up"
SUCCEEDED, FAILED = "succeeded", "failed"
KEEP_IMAGES = 5


@dataclass
class Release:
    id: str  # r1, r2, ... in the order they were made
    kind: str  # deploy, rollback, or up (what ran before the first deploy)
    time: str  # UTC, ISO 8601
    image: str
    image_id: str | None
    fingerprint: str | None  # the backend code's (BACKEND_VERSION of the image)
    db_revision: str | None  # the migration head this code ships
    known_revisions: list[str] = field(default_factory=list)
    result: str = SUCCEEDED
    by: str = ""  # user@host
    seconds: float | None = None
    backup: str | None = None  # the database backup taken just before
    rolled_back_to: str | None = None  # for a rollback: the release it returned to
    failed_step: str | None = None
    reason: str | None = None
    commit: str | None = None  # TR4CTL_BACKEND_SOURCE's commit the image was built from


@dataclass
class History:
    releases: list[Release] = field(default_factory=list)

    @property
    def current(self) -> Release | None:
        """The last release that succeeded: what the backend runs."""
        return next((r for r in reversed(self.releases) if r.result == SUCCEEDED), None)

    def next_id(self) -> str:
        return f"r{len(self.releases) + 1}"

    def find(self, release_id: str) -> Release | None:
        return next((r for r in self.releases if r.id == release_id), None)

    def previous_good(self) -> Release | None:
        """The successful release before the current one, with another image."""
        current = self.current
        if current is None:
            return None
        good = [r for r in self.releases if r.result == SUCCEEDED and r.id != current.id]
        return next((r for r in reversed(good) if r.image_id != current.image_id
                     or r.image != current.image), None)

    def images_to_keep(self, keep: int = KEEP_IMAGES) -> list[str]:
        """The images of the last `keep` successful releases, newest first (the current
        one always among them): older ones may be pruned."""
        kept: list[str] = []
        for release in reversed(self.releases):
            if release.result == SUCCEEDED and release.image not in kept:
                kept.append(release.image)
        return kept[:keep]

    def images_to_prune(self, keep: int = KEEP_IMAGES) -> list[str]:
        """The images of releases older than the last `keep` successful ones (failed
        releases' included), never one that is kept."""
        kept = set(self.images_to_keep(keep))
        return list(dict.fromkeys(r.image for r in self.releases if r.image not in kept))

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION,
                           "releases": [asdict(r) for r in self.releases]}, indent=2) + "\n"


class HistoryError(ValueError):
    pass


def parse_history(text: str) -> History:
    """A history written by this version or an older one; HistoryError otherwise."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise HistoryError(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise HistoryError("not a tr4ctl release history")
    version = document.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise HistoryError(f"written by a newer tr4ctl (format {version})")
    known = {f.name for f in fields(Release)}
    releases = []
    for entry in document.get("releases") or []:
        if isinstance(entry, dict):
            releases.append(Release(**{k: v for k, v in entry.items() if k in known}))
    return History(releases)


def commit_of_image(history: History, image: str, built: tuple[str, str | None]) -> str | None:
    """The commit an image was built from: the source's just now (`built`: its image and
    commit), else what an earlier release with that image recorded (a rollback)."""
    if image == built[0] and built[1]:
        return built[1]
    return next((r.commit for r in reversed(history.releases)
                 if r.image == image and r.commit), None)


def utc_text(now: datetime) -> str:
    return now.isoformat(timespec="seconds")


def rollback_refusal(target: Release, database_revision: str | None) -> str | None:
    """Why the target's code cannot run on the database as it is, or None. Code runs on
    a database at any revision it ships (it migrates forward from an older one), never
    on one a newer release moved past its head."""
    if database_revision is None or not target.known_revisions:
        return None
    if database_revision not in target.known_revisions:
        return (f"the database is at migration {database_revision}, newer than release "
                f"{target.id} knows (its head is {target.db_revision})")
    return None


def audit_line(event: str, now: datetime, by: str, **details: Any) -> str:
    return json.dumps({"time": utc_text(now), "event": event, "by": by, **details},
                      default=str) + "\n"
