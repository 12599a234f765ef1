"""The certificates in the certbot_conf volume, as nginx (or a certbot container) sees
them."""

from __future__ import annotations

from tr4ctl.actions.nginx.apply import nginx_running
from tr4ctl.errors import OperationFailed
from tr4ctl.facts import LETSENCRYPT_DIR
from tr4ctl.plan.certificates import Lineage, live_listing_script, parse_live_listing
from tr4ctl.runtime import Runtime


def certificate_path(domain: str) -> str:
    return f"{LETSENCRYPT_DIR}/live/{domain}/fullchain.pem"


def certificate_present(rt: Runtime, domain: str | None) -> bool:
    if not domain:
        return False
    test = ["test", "-s", certificate_path(domain)]
    if nginx_running(rt):
        return rt.engine.exec_in("nginx", test, check=False).returncode == 0
    # No nginx yet: a throwaway certbot container sees the same volume.
    probe = rt.engine.run_tool("certbot", test[1:], entrypoint="test", check=False)
    return probe.returncode == 0


def read_lineages(rt: Runtime) -> dict[str, Lineage]:
    """Every certificate under live/, read in one exec (nginx, else a certbot container)."""
    script = live_listing_script()
    if nginx_running(rt):
        listed = rt.engine.exec_in("nginx", ["sh", "-c", script], check=False)
    else:
        listed = rt.engine.run_tool("certbot", ["-c", script], entrypoint="sh", check=False)
    if listed.returncode != 0:
        raise OperationFailed("could not read the certificates in the certbot_conf volume",
                              "see `tr4ctl status`", details=listed.stderr.strip() or None)
    return parse_live_listing(listed.stdout)
