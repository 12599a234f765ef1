"""images build-local | list: the stack's images, with or without a registry."""

from __future__ import annotations

from dataclasses import asdict

import typer

from tr4ctl.cli.common import examples, runtime

app = typer.Typer(help="Build registry-free images, or list the configured ones.",
                  no_args_is_help=True)


@app.command("build-local", epilog=examples("tr4ctl images build-local",
                                            "tr4ctl images build-local --with-pebble --force"))
def build_local(
    ctx: typer.Context,
    with_pebble: bool = typer.Option(False, "--with-pebble",
                                     help="Also build pebble, the ACME test server."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if up to date."),
) -> None:
    """Build the stack's images without a registry and point the settings at them.

    nginx, Chroma, certbot, PostgreSQL and the backend base are built from Debian and
    PyPI packages, for hosts without an image registry.
    """
    from tr4ctl.actions.images.build_local import build_local_images

    rt = runtime(ctx)
    with rt.changing("images build-local"):
        built = build_local_images(rt, with_pebble=with_pebble, force=force)
    rt.out.table("local images", ["image", "result", "seconds"],
                      [[b.tag, b.result, b.seconds] for b in built])
    rt.out.success(f"settings in {rt.paths.env_file} point at the local images")
    rt.out.emit("images build-local", {"images": [asdict(b) for b in built]})


@app.command("list", epilog=examples("tr4ctl images list"))
def list_images(ctx: typer.Context) -> None:
    """The image each service uses, and whether it is present on this host."""
    from tr4ctl.actions.images.list import list_images

    rt = runtime(ctx)
    rows = list_images(rt)
    rt.out.table("images", ["role", "image", "present"],
                 [[r["role"], r["image"], "yes" if r["present"] else "no"] for r in rows])
    rt.out.emit("images list", {"images": rows})
