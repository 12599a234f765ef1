"""`tr4ctl cert issue`: pre-flight (no impact), certbot through the running nginx, then
nginx prod and the proof that HTTPS serves the certificate that is on disk.

Until certbot succeeds nothing is changed: a refused challenge leaves nginx, its config
and the certificate files exactly as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tr4ctl.actions.certificates import (
    read_lineages,
    require_stack,
    run_certbot,
    wait_until_served,
)
from tr4ctl.actions.nginx_config import (
    active_nginx_mode,
    apply_nginx_config,
    reload_and_check,
    use_nginx_mode,
)
from tr4ctl.cli.context import AppContext
from tr4ctl.errors import OperationFailed
from tr4ctl.files import write_private
from tr4ctl.plan.certificates import (
    CertificateInfo,
    IssueDecision,
    IssueRequest,
    certbot_certonly_argv,
    issue_decision,
    tls_domains_in_config,
    utc_now,
)
from tr4ctl.plan.envfile import with_values
from tr4ctl.plan.environments import NginxMode


@dataclass
class IssueReport:
    domain: str
    decision: str  # issue, renew, keep, dry-run
    why: str
    certificate: CertificateInfo | None = None
    nginx: str = "untouched"  # switched, reloaded, unchanged, untouched
    served_serial: str | None = None
    http_status: int | None = None
    persisted: list[str] = field(default_factory=list)


def issue_certificate(ctx: AppContext, request: IssueRequest, *, switch: bool) -> IssueReport:
    # Pre-flight: no impact yet.
    require_stack(ctx, nginx=True, what="the ACME HTTP challenge")
    lineage = read_lineages(ctx).get(request.domain)
    decision, why = issue_decision(lineage, request, utc_now())
    report = IssueReport(request.domain, decision.value, why)

    if request.dry_run:
        # A test against the CA that saves nothing: always run, whatever is on disk.
        run_certbot(ctx, certbot_certonly_argv(request, replace_existing=lineage is not None),
                    request.ca_bundle)
        report.decision = "dry-run"
        return report

    if decision is IssueDecision.KEEP:
        assert lineage is not None and lineage.certificate is not None
        certificate = lineage.certificate
        ctx.out.info(f"a certificate for {request.domain} exists ({why}): the CA was not contacted")
    else:
        ctx.out.info(f"requesting a certificate for {request.domain} ({why})")
        run_certbot(ctx, certbot_certonly_argv(
            request, replace_existing=decision is IssueDecision.RENEW), request.ca_bundle)
        issued = read_lineages(ctx).get(request.domain)
        if issued is None or issued.certificate is None:
            raise OperationFailed(f"certbot succeeded but no certificate is in live/{request.domain}",
                                  "see `tr4ctl cert status`; nginx was not changed")
        certificate = issued.certificate
        ctx.out.success(f"certificate issued for {request.domain}: serial {certificate.serial}, "
                        f"valid until {certificate.not_after:%Y-%m-%d}")
    report.certificate = certificate

    # From here on, things change.
    report.persisted = persist_settings(ctx, request.persist)
    serve_and_prove(ctx, request.domain, certificate, report,
                    switch=switch, changed=decision is not IssueDecision.KEEP)
    return report


def persist_settings(ctx: AppContext, updates: dict[str, str]) -> list[str]:
    """Values given as flags become the project's settings (renewals need the same ones)."""
    env_file = ctx.paths.env_file
    if not updates:
        return []
    if not env_file.exists():
        ctx.out.warn(f"{env_file} is missing: {', '.join(sorted(updates))} not saved")
        return []
    write_private(env_file, with_values(env_file.read_text(encoding="utf-8"), updates))
    ctx.reload_settings()
    return sorted(updates)


def serve_and_prove(ctx: AppContext, domain: str, certificate: CertificateInfo,
                    report: IssueReport, *, switch: bool, changed: bool) -> None:
    conf = ctx.paths.nginx_conf
    previous_text = conf.read_text(encoding="utf-8") if conf.exists() else None
    served_before = tls_domains_in_config(previous_text or "")
    if switch:
        # nginx runs (pre-flight), so the config is either the same or was reloaded.
        if use_nginx_mode(ctx, NginxMode.PROD, domain_override=domain).result != "unchanged":
            report.nginx = "switched"
        elif changed:
            reload_and_check(ctx)  # same config, new files: nginx reads them on reload only
            report.nginx = "reloaded"
        else:
            report.nginx = "unchanged"
    elif domain in served_before and active_nginx_mode(ctx) == NginxMode.PROD.value:
        if changed:
            reload_and_check(ctx)
            report.nginx = "reloaded"
        else:
            report.nginx = "unchanged"
    else:
        return  # --no-switch and nginx does not serve this domain over HTTPS

    served = wait_until_served(ctx, domain, certificate)
    report.http_status = served.http_status
    if served.certificate is not None:
        report.served_serial = served.certificate.serial
    if served.certificate is None or served.certificate.fingerprint != certificate.fingerprint:
        restored = ""
        if report.nginx == "switched" and previous_text is not None:
            apply_nginx_config(ctx, previous_text)
            restored = "; the previous nginx config was restored"
        got = (f"serial {served.certificate.serial}" if served.certificate
               else served.error or "no certificate")
        raise OperationFailed(
            f"HTTPS on port {ctx.settings.https_port} does not serve the new certificate "
            f"(serial {certificate.serial}; got {got}){restored}",
            "the certificate is saved; check `tr4ctl logs nginx`, then `tr4ctl nginx use prod`",
        )
