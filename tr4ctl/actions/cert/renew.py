"""`tr4ctl cert renew`: certbot renews what is due, inside the certbot-renew service (so
a dry run passes only if the unattended renewals would); nginx reloads only if a
certificate it serves changed, and then must serve the new one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tr4ctl.actions.cert.certbot import run_certbot_in_renewal_service
from tr4ctl.actions.cert.issue import require_nginx
from tr4ctl.actions.cert.lineages import read_lineages
from tr4ctl.actions.cert.renewal_service import refresh_renewal_service
from tr4ctl.actions.cert.request import require_acme_ca_bundle_setting
from tr4ctl.actions.cert.served import wait_until_served
from tr4ctl.actions.nginx.apply import reload_and_check
from tr4ctl.actions.preflight import require_running
from tr4ctl.errors import OperationFailed, Tr4ctlError
from tr4ctl.facts import RENEW_SERVICE
from tr4ctl.plan.certificates import Lineage, certbot_renew_argv, tls_domains_in_config
from tr4ctl.runtime import Runtime


@dataclass
class RenewedLineage:
    domain: str
    serial_before: str | None
    serial_after: str | None
    days_left: int | None

    @property
    def changed(self) -> bool:
        return self.serial_after is not None and self.serial_after != self.serial_before


@dataclass
class RenewReport:
    dry_run: bool
    force: bool
    lineages: list[RenewedLineage] = field(default_factory=list)
    reloaded: bool = False
    served: dict[str, str | None] = field(default_factory=dict)  # domain -> served serial
    renewal_service_updated: bool = False


def renew_certificates(rt: Runtime, *, dry_run: bool, force: bool) -> RenewReport:
    # Pre-flight: no impact yet.
    require_acme_ca_bundle_setting(rt.config)
    require_nginx(rt, "renewal (the ACME HTTP challenge)")
    require_running(rt, RENEW_SERVICE, message=f"{RENEW_SERVICE} is not running: renewals "
                    "run in it, attended or not", hint="run `tr4ctl up --env prod` first")
    report = RenewReport(dry_run, force)
    before = read_lineages(rt)
    if not before:
        return report

    # The service must trust what the settings say before it is tested or used.
    report.renewal_service_updated = refresh_renewal_service(rt)
    failure: Tr4ctlError | None = None
    for domain, lineage in sorted(before.items()):
        argv = certbot_renew_argv(domain, lineage.server, dry_run=dry_run, force=force)
        try:
            run_certbot_in_renewal_service(rt, argv, server=lineage.server)
        except OperationFailed as exc:
            # Keep going: other lineages may renew, and nginx must serve those.
            failure = failure or OperationFailed(f"{domain}: {exc.message}", exc.hint,
                                                 details=exc.details)
    after = before if dry_run else read_lineages(rt)
    now = datetime.now(UTC)
    report.lineages = [_compare(domain, before.get(domain), after.get(domain), now)
                       for domain in sorted(set(before) | set(after))]

    changed = {item.domain for item in report.lineages if item.changed}
    conf = rt.paths.nginx_conf
    served = tls_domains_in_config(conf.read_text(encoding="utf-8") if conf.exists() else "")
    to_prove = [domain for domain in served if domain in changed]
    if to_prove:
        reload_and_check(rt)
        report.reloaded = True
        for domain in to_prove:
            expected = after[domain].certificate
            assert expected is not None
            got = wait_until_served(rt, domain, expected)
            report.served[domain] = got.certificate.serial if got.certificate else None
            if got.certificate is None or got.certificate.fingerprint != expected.fingerprint:
                raise OperationFailed(
                    f"{domain} was renewed (serial {expected.serial}) but nginx still serves "
                    f"{got.certificate.serial if got.certificate else got.error}",
                    "check `tr4ctl logs nginx`, then `tr4ctl nginx use prod`",
                )
    if failure is not None:
        if not dry_run:
            _alert(rt, failure.message)
        raise failure
    if not dry_run:
        _alert(rt, None)
    return report


def _alert(rt: Runtime, failure: str | None) -> None:
    """A failed renewal opens the `renewal` incident (alerted once), a good one ends it.
    A dry run is a test, not a renewal: it alerts nothing."""
    from tr4ctl.actions.alerts.notify import alert_safely
    from tr4ctl.plan.alerts import renewal_text

    alert_safely(rt, "renewal", failure is not None,
                 renewal_text(rt.names.project, failure is not None, failure or ""))


def _compare(domain: str, before: Lineage | None, after: Lineage | None,
             now: datetime) -> RenewedLineage:
    old = before.certificate if before else None
    new = after.certificate if after else None
    return RenewedLineage(domain, old.serial if old else None, new.serial if new else None,
                          new.days_left(now) if new else None)
