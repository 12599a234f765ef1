"""images build-local | list: the stack's images, with or without a registry."""

from __future__ import annotations

from dataclasses import asdict

import typer

from tr4ctl.cli.context import app_context

app = typer.Typer(help="Build registry-free images, or list the configured ones.",
                  no_args_is_help=True)


@app.command("build-local")
def build_local(
    ctx: typer.Context,
    with_pebble: bool = typer.Option(False, "--with-pebble",
                                     help="Also build pebble, the ACME test server."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if up to date."),
) -> None:
    """Build nginx, Chroma, certbot and the backend base from Debian and PyPI packages,
    and point this project's settings at them (for hosts without an image registry)."""
    from tr4ctl.actions.local_images import build_local_images

    app_ctx = app_context(ctx)
    built = build_local_images(app_ctx, with_pebble=with_pebble, force=force)
    app_ctx.out.table("local images", ["image", "result", "seconds"],
                      [[b.tag, b.result, b.seconds] for b in built])
    app_ctx.out.success(f"settings in {app_ctx.paths.env_file} point at the local images")
    app_ctx.out.emit("images build-local", {"images": [asdict(b) for b in built]})


@app.command("list")
def list_images(ctx: typer.Context) -> None:
    """The image each service uses, and whether it is present on this host."""
    from tr4ctl.plan.stack import backend_image

    app_ctx = app_context(ctx)
    settings = app_ctx.settings
    app_ctx.engine.require_engine()
    wanted = {
        "backend": backend_image(settings),
        "backend base": settings.backend_base_image,
        "nginx": settings.nginx_image,
        "chroma": settings.chroma_image,
        "certbot": settings.certbot_image,
    }
    rows = [{"role": role, "image": image, "present": app_ctx.engine.image_exists(image)}
            for role, image in wanted.items()]
    app_ctx.out.table("images", ["role", "image", "present"],
                      [[r["role"], r["image"], "yes" if r["present"] else "no"] for r in rows])
    app_ctx.out.emit("images list", {"images": rows})
