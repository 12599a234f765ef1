"""Certificates in the certbot_conf volume, as nginx would see them."""

from __future__ import annotations

from tr4ctl.cli.context import AppContext


def certificate_path(domain: str) -> str:
    return f"/etc/letsencrypt/live/{domain}/fullchain.pem"


def certificate_present(ctx: AppContext, domain: str | None) -> bool:
    if not domain:
        return False
    test = ["test", "-s", certificate_path(domain)]
    nginx = ctx.engine.service_states(("nginx",))["nginx"]
    if nginx.state == "running":
        return ctx.engine.exec_in("nginx", test, check=False).returncode == 0
    # No nginx yet: a throwaway certbot container sees the same volume.
    probe = ctx.engine.run_tool("certbot", test[1:], entrypoint="test", check=False)
    return probe.returncode == 0
