"""What a backend provides beyond the contract every backend meets (port 8000, /health,
non-root): the optional parts, as its image declares them.

A backend declares them in a label, `io.tr4ctl.provides=ready,accounts,migrations,request-id`. A
declaration, not a probe: a 404 on /ready cannot tell "not provided" from "broken", and
probing `app.manage` would run someone else's code to find out. An image with no label
provides none, except the shipped backend's images (they carry io.tr4ctl.backend-version
and provide them all).

Pure: the caller reads the labels."""

from __future__ import annotations

from tr4ctl.plan.verdicts import Check, skipped

PROVIDES_LABEL = "io.tr4ctl.provides"
SHIPPED_LABEL = "io.tr4ctl.backend-version"
READY, ACCOUNTS, MIGRATIONS, REQUEST_ID = "ready", "accounts", "migrations", "request-id"
OPTIONAL_PARTS = (READY, ACCOUNTS, MIGRATIONS, REQUEST_ID)
WHAT = {READY: "GET /ready", ACCOUNTS: "the accounts command (python3 -m app.manage)",
        MIGRATIONS: "migrations (python3 -m app.manage revision)",
        REQUEST_ID: "request ids (nginx's X-Request-ID echoed on the answer and logged)"}
ROOT_USERS = ("", "root", "0")


def provided_parts(provides: str | None, shipped_version: str | None,
                   own_source: bool = False) -> frozenset[str]:
    """The optional parts an image declares; unknown names are ignored (a newer contract's
    part is not one this tr4ctl uses). An image with no label of either kind on a project
    with no TR4CTL_BACKEND_SOURCE (`own_source` False) is the shipped backend of an older
    tr4ctl, from before either label: it provides them all, as it always did."""
    if provides is None:
        return frozenset(OPTIONAL_PARTS) if shipped_version or not own_source else frozenset()
    named = {part.strip().lower() for part in provides.split(",")}
    return frozenset(part for part in OPTIONAL_PARTS if part in named)


def not_provided_reason(part: str) -> str:
    return (f"not provided by this backend: {WHAT[part]} (its image's {PROVIDES_LABEL} "
            f"label does not name {part!r})")


def not_provided(name: str, part: str) -> Check:
    """A check of an optional part the backend lacks: reported, not failed."""
    return skipped(name, not_provided_reason(part))


def runs_as_root(user: str | None) -> bool:
    """An image's USER (`name`, `uid`, `name:group`, `uid:gid`): none, root or 0 is root."""
    return (user or "").split(":")[0].strip() in ROOT_USERS


def contract_report(user: str | None, parts: frozenset[str]) -> tuple[bool, str]:
    """doctor's view of a built backend image: (meets the contract, what it says). What
    an image shows of the contract without running it: the user it runs as, and the
    optional parts it declares; the port and /health are for `verify` on a running stack."""
    missing = [part for part in OPTIONAL_PARTS if part not in parts]
    declared = ", ".join(part for part in OPTIONAL_PARTS if part in parts) or "none"
    words = f"provides {declared}" + (
        f"; not provided by this backend: {', '.join(missing)}" if missing else "")
    if runs_as_root(user):
        return False, f"runs as root (USER {user or 'not set'}); {words}"
    return True, f"runs as {user}; {words}"
