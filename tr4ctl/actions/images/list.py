"""`tr4ctl images list`: the image each service uses, and whether this host has it."""

from __future__ import annotations

from typing import Any

from tr4ctl.runtime import Runtime


def list_images(rt: Runtime) -> list[dict[str, Any]]:
    config = rt.config
    rt.engine.require_engine()
    wanted = {
        "backend": rt.stack_inputs.backend_image,
        "backend base": config.backend_base_image,
        "nginx": config.nginx_image,
        "chroma": config.chroma_image,
        "certbot": config.certbot_image,
        **({"backup": config.backup_image} if config.backup_schedule else {}),
    }
    return [{"role": role, "image": image, "present": rt.engine.image_exists(image)}
            for role, image in wanted.items()]
