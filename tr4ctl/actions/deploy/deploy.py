"""`tr4ctl deploy`: a new release of the backend (see ship.py for the steps)."""

from __future__ import annotations

from tr4ctl.actions.deploy.release import release_backend
from tr4ctl.actions.deploy.ship import ShipReport
from tr4ctl.assets import backend_image
from tr4ctl.config import values
from tr4ctl.errors import BadInput
from tr4ctl.plan.releases import DEPLOY
from tr4ctl.runtime import Runtime


def deploy(rt: Runtime, *, image: str | None, build: bool, timeout: float,
           ref: str | None = None) -> ShipReport:
    """--image REF, else the backend code's image (TR4CTL_BACKEND_SOURCE at --ref, or the
    shipped code; built when missing or asked): with nothing changed, a rolling restart
    that is still recorded as a release."""
    if image is not None:
        image = _checked_image(image, build=build)
        if ref is not None:
            raise BadInput("--ref and --image together: --ref builds that commit of "
                           "TR4CTL_BACKEND_SOURCE, --image deploys an image as it is",
                           "give one of them")
    config = rt.config
    source = rt.choose_backend_ref(ref) if image is None else None
    if source is not None and source.image is not None:
        chosen = image or config.backend_image or source.image
    else:
        chosen = image or backend_image(config.backend_image, config.backend_base_image)
    must_build = image is None and (build or not rt.engine.image_exists(chosen))
    return release_backend(rt, image=chosen, kind=DEPLOY, build=must_build, timeout=timeout)


def _checked_image(image: str, *, build: bool) -> str:
    """Refused before anything is looked at: a release needs a real reference."""
    try:
        checked = values.image(image)
    except ValueError:
        raise BadInput(f"--image {image!r} is not an image reference (name[:tag])",
                       "give a local image such as tr4ction/backend:2.1; `docker images` "
                       "lists them") from None
    if build:
        raise BadInput("--build and --image together: --build builds the shipped backend "
                       "code, --image deploys an image as it is",
                       "give one of them")
    return checked
