"""`tr4ctl cert status`: each certificate on disk, whether nginx serves it, and how
renewal is scheduled (the certbot-renew service)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tr4ctl.actions.cert.lineages import read_lineages
from tr4ctl.actions.cert.served import served_certificate
from tr4ctl.actions.nginx.apply import active_nginx_mode
from tr4ctl.actions.preflight import require_stack
from tr4ctl.facts import (
    NGINX_CERT_CHECK_SECONDS,
    RENEW_INTERVAL_SECONDS,
    RENEW_SERVICE,
    RENEW_STATE_FILE,
)
from tr4ctl.plan.certificates import (
    RENEW_BEFORE_DAYS,
    in_words,
    parse_renew_state,
    renewal_due,
    tls_domains_in_config,
)
from tr4ctl.runtime import Runtime


@dataclass
class CertStatus:
    nginx_config: str | None
    certificates: list[dict[str, Any]] = field(default_factory=list)
    renewal: dict[str, Any] = field(default_factory=dict)


def certificate_status(rt: Runtime) -> CertStatus:
    require_stack(rt, hint="run `tr4ctl up --env prod` first")
    now = datetime.now(UTC)
    states = rt.engine.service_states(("nginx", RENEW_SERVICE))
    nginx_up = states["nginx"].state == "running"
    mode = active_nginx_mode(rt)
    conf = rt.paths.nginx_conf
    tls_domains = tls_domains_in_config(conf.read_text(encoding="utf-8") if conf.exists() else "")
    report = CertStatus(mode)

    for domain, lineage in sorted(read_lineages(rt).items()):
        entry: dict[str, Any] = {"domain": domain, "server": lineage.server}
        cert = lineage.certificate
        if cert is None:
            entry.update(problem=lineage.problem, served_by_nginx=False)
            report.certificates.append(entry)
            continue
        entry.update(cert.as_dict(now))
        entry["renewal_due"] = renewal_due(cert, now)
        if not nginx_up or domain not in tls_domains:
            entry["served_by_nginx"] = False
            entry["served_note"] = ("nginx is not running" if not nginx_up else
                                    f"the active nginx config ({mode or '-'}) does not serve it")
        else:
            served = served_certificate(rt, domain)
            same = served.certificate is not None and served.certificate.fingerprint == cert.fingerprint
            entry["served_by_nginx"] = same
            entry["served_serial"] = served.certificate.serial if served.certificate else None
            if not same:
                entry["served_note"] = served.error or (
                    f"nginx serves an older certificate: it reloads within "
                    f"{NGINX_CERT_CHECK_SECONDS}s of a change, else run `tr4ctl cert renew`")
        report.certificates.append(entry)

    report.renewal = renewal_schedule(rt, states[RENEW_SERVICE].state, now)
    return report


def renewal_schedule(rt: Runtime, state: str, now: datetime) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "method": f"the {RENEW_SERVICE} service: `certbot renew` at start and then every "
                  f"{RENEW_INTERVAL_SECONDS // 3600} hours, each certificate at the CA it came "
                  "from (restart: unless-stopped, so it survives reboots); nginx serves a "
                  f"renewed certificate within {NGINX_CERT_CHECK_SECONDS} seconds",
        "service": RENEW_SERVICE,
        "state": state,
        "renew_before_days": RENEW_BEFORE_DAYS,
    }
    if state != "running":
        schedule["note"] = f"{RENEW_SERVICE} is not running: run `tr4ctl up` to start it"
        return schedule
    read = rt.engine.exec_in(RENEW_SERVICE, ["cat", RENEW_STATE_FILE], check=False)
    parsed = parse_renew_state(read.stdout if read.returncode == 0 else "")
    wanted_bundle = rt.config.acme_ca_bundle
    schedule.update(
        interval_seconds=parsed.interval_seconds,
        started=_iso(parsed.started),
        last_pass=_iso(parsed.last_pass),
        last_exit=parsed.last_exit,
        last_result=parsed.last_result,
        last_forced=parsed.last_forced,
        next_pass=_iso(parsed.next_pass),
        next_pass_in_seconds=parsed.seconds_to_next_pass(now),
        # The host file the service trusts for the ACME server (TR4CTL_ACME_CA_BUNDLE).
        ca_bundle=str(wanted_bundle) if wanted_bundle and parsed.ca_bundle else None,
    )
    if parsed.next_pass is not None:
        schedule["next_pass_in"] = in_words(schedule["next_pass_in_seconds"])
    if parsed.last_pass is None:
        schedule["note"] = "the first renewal pass is running"
    elif parsed.last_result == "failed":
        schedule["note"] = (f"the last pass failed (exit {parsed.last_exit}): see "
                            f"`tr4ctl logs {RENEW_SERVICE}`; `tr4ctl cert renew --dry-run` "
                            "runs the same renewal and names the cause")
    elif wanted_bundle and not parsed.ca_bundle:
        schedule["note"] = (f"{RENEW_SERVICE} does not have TR4CTL_ACME_CA_BUNDLE yet: "
                            "`tr4ctl cert renew --dry-run` gives it and tests renewal")
    return schedule


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None
