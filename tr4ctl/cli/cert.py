"""cert issue | renew | status: Let's Encrypt (or any ACME CA) certificates for nginx."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from tr4ctl.cli.common import examples, runtime
from tr4ctl.runtime import Runtime

app = typer.Typer(help="Issue, renew and inspect the site's TLS certificates.",
                  no_args_is_help=True)


@app.command("issue", epilog=examples(
    "tr4ctl cert issue --domain example.org --email ops@example.org",
    "tr4ctl cert issue --staging --dry-run"))
def issue(
    ctx: typer.Context,
    domain: str = typer.Option(None, "--domain", "-d", metavar="DOMAIN",
                               help="The site's DNS name (default: TR4CTL_DOMAIN)."),
    email: str = typer.Option(None, "--email", "-m", metavar="EMAIL",
                              help="For the CA's expiry notices (default: TR4CTL_EMAIL)."),
    staging: bool = typer.Option(False, "--staging", help="Let's Encrypt's staging CA (untrusted "
                                 "test certificates, generous rate limits)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Test the challenge against the CA; "
                                 "save nothing, change nothing."),
    server: str = typer.Option(None, "--server", metavar="URL",
                               help="ACME directory URL of another CA "
                                    "(default: TR4CTL_ACME_SERVER, else Let's Encrypt)."),
    ca_bundle: Path = typer.Option(None, "--ca-bundle", metavar="FILE",
                                   help="PEM file trusted for the ACME server's own TLS "
                                        "(default: TR4CTL_ACME_CA_BUNDLE)."),
    no_switch: bool = typer.Option(False, "--no-switch", help="Do not switch nginx to prod."),
) -> None:
    """Get a certificate, switch nginx to prod and prove HTTPS serves it.

    certbot answers the CA's HTTP challenge through the running nginx. A valid
    certificate with more than 30 days left is kept: the CA is not contacted.
    """
    from datetime import UTC, datetime

    from tr4ctl.actions.cert.issue import issue_certificate
    from tr4ctl.actions.cert.request import resolve_issue_request

    rt = runtime(ctx)
    config = rt.config
    request = resolve_issue_request(
        domain=domain, email=email, server=server, ca_bundle=ca_bundle, staging=staging,
        dry_run=dry_run, settings_domain=config.domain, settings_email=config.email,
        settings_server=config.acme_server, settings_ca_bundle=config.acme_ca_bundle)
    with rt.changing("cert issue"):
        report = issue_certificate(rt, request, switch=not no_switch)

    out = rt.out
    cert = report.certificate
    if report.decision == "dry-run":
        out.success(f"dry run for {report.domain} succeeded: the CA could check the challenge "
                    "(nothing saved, nginx unchanged)")
    else:
        if report.persisted:
            out.info(f"saved {', '.join(report.persisted)} in {rt.paths.env_file}")
        if report.nginx == "untouched":
            out.info(f"nginx not switched: `tr4ctl nginx use prod` serves {report.domain} over HTTPS")
        else:
            out.success(f"https://{report.domain} serves serial {report.served_serial} "
                        f"(nginx {report.nginx}; /health answered {report.http_status})")
        _warn_if_dev_stack(rt, report.nginx)
        _tell_renewal_service_updated(rt, report.renewal_service_updated)
    out.emit("cert issue", {
        "domain": report.domain, "decision": report.decision, "why": report.why,
        "certificate": cert.as_dict(datetime.now(UTC)) if cert else None,
        "nginx": report.nginx, "served_serial": report.served_serial,
        "http_status": report.http_status, "persisted": report.persisted,
        "renewal_service_updated": report.renewal_service_updated,
    })


def _tell_renewal_service_updated(rt: Runtime, updated: bool) -> None:
    if updated:
        rt.out.info("certbot-renew recreated from the current settings "
                    "(TR4CTL_ACME_CA_BUNDLE included): unattended renewals trust what this did")


def _warn_if_dev_stack(rt: Runtime, nginx_result: str) -> None:
    from tr4ctl.project.state import last_environment

    if nginx_result == "switched" and last_environment(rt.paths).value == "dev":
        rt.out.warn("the stack runs --env dev: `tr4ctl up --env prod` keeps HTTPS across "
                         "`up` (an `up --env dev` renders the dev nginx config again)")


@app.command("renew", epilog=examples("tr4ctl cert renew", "tr4ctl cert renew --dry-run"))
def renew(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Test renewal against the CA; "
                                 "save nothing."),
    force: bool = typer.Option(False, "--force", help="Renew every certificate, due or not."),
) -> None:
    """Renew the certificates that are due; reload nginx only if one it serves changed."""
    from tr4ctl.actions.cert.renew import renew_certificates

    rt = runtime(ctx)
    with rt.changing("cert renew"):
        report = renew_certificates(rt, dry_run=dry_run, force=force)
    out = rt.out
    _tell_renewal_service_updated(rt, report.renewal_service_updated)
    if not report.lineages:
        out.info("no certificates yet: nothing to renew (`tr4ctl cert issue` gets one)")
    else:
        out.table(None, ["domain", "serial before", "serial after", "renewed", "days left"],
                  [[item.domain, item.serial_before or "-", item.serial_after or "-",
                    "dry run" if dry_run else ("yes" if item.changed else "no (not due)"),
                    item.days_left if item.days_left is not None else "-"]
                   for item in report.lineages])
        if dry_run:
            out.success("dry run succeeded: renewal would work (nothing saved)")
        elif report.reloaded:
            out.success("nginx reloaded and serves " + ", ".join(
                f"{domain} serial {serial}" for domain, serial in report.served.items()))
        else:
            out.success("no certificate nginx serves changed: nginx not reloaded")
    out.emit("cert renew", {
        "dry_run": report.dry_run, "force": report.force, "reloaded": report.reloaded,
        "served": report.served, "renewal_service_updated": report.renewal_service_updated,
        "certificates": [asdict(item) | {"renewed": item.changed} for item in report.lineages],
    })


@app.command("status", epilog=examples("tr4ctl cert status", "tr4ctl cert status --json"))
def status(ctx: typer.Context) -> None:
    """Certificates (issuer, validity, days left, served?) and the renewal schedule."""
    from tr4ctl.actions.cert.status import certificate_status

    rt = runtime(ctx)
    report = certificate_status(rt)
    out = rt.out
    if report.certificates:
        out.table(f"certificates (nginx config={report.nginx_config or '-'})",
                  ["domain", "issuer", "not before", "not after", "days left", "served by nginx"],
                  [[c["domain"], c.get("issuer", c.get("problem")), _day(c.get("not_before")),
                    _day(c.get("not_after")), c.get("days_left", "-"),
                    "yes" if c["served_by_nginx"] else f"no ({c.get('served_note', '-')})"]
                   for c in report.certificates])
    else:
        out.info("no certificates yet (`tr4ctl cert issue --domain D --email E` gets one)")
    renewal = report.renewal
    if renewal.get("last_result") == "failed":
        out.warn(_renewal_line(renewal))
    else:
        out.info(_renewal_line(renewal))
    out.emit("cert status", {"nginx_config": report.nginx_config,
                             "certificates": report.certificates, "renewal": renewal})


def _renewal_line(renewal: dict) -> str:
    line = f"renewal: {renewal['service']} {renewal['state']}"
    if renewal.get("next_pass"):
        line += (f"; next automatic renewal {_minute(renewal['next_pass'])} "
                 f"(in {renewal['next_pass_in']})")
    if renewal.get("last_result"):
        line += f"; last pass {_minute(renewal['last_pass'])} {renewal['last_result']}"
        if renewal["last_result"] == "failed":
            line += f" (exit {renewal['last_exit']})"
    if renewal.get("ca_bundle"):
        line += f"; trusts {renewal['ca_bundle']} for the ACME server"
    if renewal.get("note"):
        line += f" ({renewal['note']})"
    return line


def _minute(value: str) -> str:
    """2026-11-30T02:50:07+00:00 -> 2026-11-30 02:50 UTC"""
    return value[:16].replace("T", " ") + " UTC"


def _day(value: str | None) -> str:
    return value[:10] if value else "-"
