"""`tr4ctl cert issue`: pre-flight (no impact), certbot through the running nginx, then
nginx prod and the proof that HTTPS serves the certificate that is on disk.

Until certbot succeeds nothing is changed: a refused challenge leaves nginx, its config
and the certificate files exactly as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tr4ctl.actions.cert.certbot import run_certbot
from tr4ctl.actions.cert.lineages import read_lineages
from tr4ctl.actions.cert.renewal_service import refresh_renewal_service
from tr4ctl.actions.cert.served import wait_until_served
from tr4ctl.actions.nginx.apply import active_nginx_mode, apply_nginx_config, reload_and_check
from tr4ctl.actions.nginx.use import use_nginx_mode
from tr4ctl.actions.preflight import require_running, require_stack
from tr4ctl.config.store import save_env_values
from tr4ctl.errors import OperationFailed
from tr4ctl.plan.certificates import (
    CertificateInfo,
    IssueDecision,
    IssueRequest,
    certbot_certonly_argv,
    issue_decision,
    tls_domains_in_config,
)
from tr4ctl.plan.environments import NginxMode
from tr4ctl.runtime import Runtime


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
    renewal_service_updated: bool = False


def issue_certificate(rt: Runtime, request: IssueRequest, *, switch: bool) -> IssueReport:
    # Pre-flight: no impact yet.
    require_nginx(rt, "the ACME HTTP challenge")
    lineage = read_lineages(rt).get(request.domain)
    decision, why = issue_decision(lineage, request, datetime.now(UTC))
    report = IssueReport(request.domain, decision.value, why)

    if request.dry_run:
        # A test against the CA that saves nothing: always run, whatever is on disk.
        run_certbot(rt, certbot_certonly_argv(request, replace_existing=lineage is not None),
                    request.ca_bundle, server=request.expected_server)
        report.decision = "dry-run"
        return report

    if decision is IssueDecision.KEEP:
        assert lineage is not None and lineage.certificate is not None
        certificate = lineage.certificate
        rt.out.info(f"a certificate for {request.domain} exists ({why}): the CA was not contacted")
    else:
        rt.out.info(f"requesting a certificate for {request.domain} ({why})")
        run_certbot(rt, certbot_certonly_argv(
            request, replace_existing=decision is IssueDecision.RENEW), request.ca_bundle,
            server=request.expected_server)
        issued = read_lineages(rt).get(request.domain)
        if issued is None or issued.certificate is None:
            raise OperationFailed(f"certbot succeeded but no certificate is in live/{request.domain}",
                                  "see `tr4ctl cert status`; nginx was not changed")
        certificate = issued.certificate
        rt.out.success(f"certificate issued for {request.domain}: serial {certificate.serial}, "
                        f"valid until {certificate.not_after:%Y-%m-%d}")
    report.certificate = certificate

    # From here on, things change.
    report.persisted = persist_settings(rt, request.persist)
    serve_and_prove(rt, request.domain, certificate, report,
                    switch=switch, changed=decision is not IssueDecision.KEEP)
    # The unattended renewals need the CA bundle this certificate came with.
    report.renewal_service_updated = refresh_renewal_service(rt)
    return report


def require_nginx(rt: Runtime, what: str) -> None:
    """Pre-flight of the cert commands: a rendered stack with nginx running."""
    hint = "run `tr4ctl up --env prod` first"
    require_stack(rt, hint=hint)
    require_running(rt, "nginx", message=f"nginx is not running: {what} needs it", hint=hint)


def persist_settings(rt: Runtime, updates: dict[str, str]) -> list[str]:
    """Values given as flags become the project's settings (renewals need the same ones)."""
    env_file = rt.paths.env_file
    if not updates:
        return []
    if not env_file.exists():
        rt.out.warn(f"{env_file} is missing: {', '.join(sorted(updates))} not saved")
        return []
    if save_env_values(env_file, updates, options=rt.config_options):
        rt.reload_config()
    return sorted(updates)


def serve_and_prove(rt: Runtime, domain: str, certificate: CertificateInfo,
                    report: IssueReport, *, switch: bool, changed: bool) -> None:
    conf = rt.paths.nginx_conf
    previous_text = conf.read_text(encoding="utf-8") if conf.exists() else None
    served_before = tls_domains_in_config(previous_text or "")
    if switch:
        # nginx runs (pre-flight), so the config is either the same or was reloaded.
        if use_nginx_mode(rt, NginxMode.PROD, domain_override=domain).result != "unchanged":
            report.nginx = "switched"
        elif changed:
            reload_and_check(rt)  # same config, new files: nginx reads them on reload only
            report.nginx = "reloaded"
        else:
            report.nginx = "unchanged"
    elif domain in served_before and active_nginx_mode(rt) == NginxMode.PROD.value:
        if changed:
            reload_and_check(rt)
            report.nginx = "reloaded"
        else:
            report.nginx = "unchanged"
    else:
        return  # --no-switch and nginx does not serve this domain over HTTPS

    served = wait_until_served(rt, domain, certificate)
    report.http_status = served.http_status
    if served.certificate is not None:
        report.served_serial = served.certificate.serial
    if served.certificate is None or served.certificate.fingerprint != certificate.fingerprint:
        restored = ""
        if report.nginx == "switched" and previous_text is not None:
            apply_nginx_config(rt, previous_text)
            restored = "; the previous nginx config was restored"
        got = (f"serial {served.certificate.serial}" if served.certificate
               else served.error or "no certificate")
        raise OperationFailed(
            f"HTTPS on port {rt.config.https_port} does not serve the new certificate "
            f"(serial {certificate.serial}; got {got}){restored}",
            "the certificate is saved; check `tr4ctl logs nginx`, then `tr4ctl nginx use prod`",
        )
