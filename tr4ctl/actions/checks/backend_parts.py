"""The optional parts the running backend's image declares (plan/backend_contract.py)."""

from __future__ import annotations

from tr4ctl.errors import MissingPrerequisite
from tr4ctl.plan.backend_contract import (
    PROVIDES_LABEL,
    SHIPPED_LABEL,
    WHAT,
    provided_parts,
)
from tr4ctl.runtime import Runtime


def image_parts(rt: Runtime, image: str | None) -> frozenset[str]:
    """What `image` declares; an image not there (or unnamed) is read as the configured
    one (the caller's own checks say when it is missing)."""
    image = image or rt.stack_inputs.backend_image
    return provided_parts(rt.engine.image_label(image, PROVIDES_LABEL),
                          rt.engine.image_label(image, SHIPPED_LABEL),
                          own_source=bool(rt.config.backend_source))


def require_part(rt: Runtime, part: str, command: str) -> None:
    """Exit 3 for a command that needs a part the running backend does not provide."""
    image = rt.engine.service_states(("backend",))["backend"].image
    if part not in image_parts(rt, image):
        raise MissingPrerequisite(
            f"{command} needs {WHAT[part]}, which this backend does not provide",
            f"a backend provides it by implementing it and declaring it in its image: "
            f"LABEL io.tr4ctl.provides={part} (README: Your own backend)")
