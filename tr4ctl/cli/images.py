"""images build-local | list: the stack's images, with or without a registry."""

from __future__ import annotations

from dataclasses import asdict

import typer

from tr4ctl.cli.common import examples, runtime

app = typer.Typer(help="Build registry-free images, list the configured ones, or ship them to a host.",
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


@app.command("ship", epilog=examples("tr4ctl images ship --host ssh://ubuntu@host.example",
                                     "TR4CTL_HOST=ssh://root@10.0.0.5 tr4ctl images ship",
                                     "tr4ctl images ship --host ssh://root@host.example "
                                     "tr4ction/backend:abc123"))
def ship(
    ctx: typer.Context,
    images: list[str] = typer.Argument(None, metavar="[IMAGE]...",
                                       help="Images to ship (default: every image the "
                                            "stack's settings name)."),
    host: str = typer.Option(None, "--host", metavar="ssh://[user@]host[:port]",
                             help="The host to ship to (default: TR4CTL_HOST)."),
    accept_host_key: bool = typer.Option(False, "--accept-host-key",
                                         help="Trust the host's key on first contact "
                                              "(a changed key is refused always)."),
) -> None:
    """Send the stack's images to a host over SSH, only those it lacks (by image id).

    `docker save` here streams into `docker load` there over one SSH connection; an
    image the host holds under another name is only tagged. With TR4CTL_REGISTRY set,
    the images are pushed here and pulled there instead.
    """
    from tr4ctl.actions.images.ship import ship_command

    rt = runtime(ctx)
    result = ship_command(rt, host=host, images=images or [], accept_host_key=accept_host_key)
    rows = ([[image, "sent"] for image in result.sent]
            + [[image, "tagged (same id there)"] for image in result.tagged]
            + [[image, "already there"] for image in result.present])
    rt.out.table(f"images on {result.destination}", ["image", "result"], rows)
    if result.sent or result.tagged:
        via = "through the registry" if result.via == "registry" else \
            f"{result.bytes_sent / (1 << 20):.1f} MiB"
        rt.out.success(f"{len(result.sent)} sent ({via}), {len(result.tagged)} tagged, "
                       f"{len(result.present)} already there, in {result.seconds:.1f}s")
    else:
        rt.out.success(f"{result.destination} already holds every image: nothing sent")
    rt.out.emit("images ship", result.as_dict())
