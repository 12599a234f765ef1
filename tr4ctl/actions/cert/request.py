"""What `cert issue` asks for: flags merged with settings, every value checked, and the
CA bundle read from disk, before anything runs."""

from __future__ import annotations

from pathlib import Path

from tr4ctl.config.model import Config
from tr4ctl.errors import BadInput
from tr4ctl.files import read_regular_file
from tr4ctl.plan.certificates import (
    IssueRequest,
    pem_certificates,
    validate_domain,
    validate_email,
    validate_server,
)


def resolve_issue_request(*, domain: str | None, email: str | None, server: str | None,
                          ca_bundle: Path | None, staging: bool, dry_run: bool,
                          settings_domain: str | None, settings_email: str | None,
                          settings_server: str | None,
                          settings_ca_bundle: Path | None) -> IssueRequest:
    """Flags first, then settings; every refusal is one BadInput before anything runs."""
    if staging and server:
        raise BadInput("--staging and --server both choose the CA",
                       "use --staging for Let's Encrypt's staging CA, or --server URL, not both")
    if staging and settings_server and not server:
        raise BadInput(f"--staging conflicts with TR4CTL_ACME_SERVER={settings_server}",
                       "remove TR4CTL_ACME_SERVER from .env to use Let's Encrypt's staging CA")
    chosen_domain = domain if domain is not None else settings_domain
    if not chosen_domain:
        raise BadInput("no domain to issue a certificate for",
                       "pass --domain or set TR4CTL_DOMAIN in .env")
    chosen_email = email if email is not None else settings_email
    if not chosen_email:
        raise BadInput("no email for the CA's expiry notices",
                       "pass --email or set TR4CTL_EMAIL in .env")
    clean_domain = validate_domain(chosen_domain)
    clean_email = validate_email(chosen_email)
    chosen_server = server if server is not None else settings_server
    clean_server = validate_server(chosen_server) if chosen_server else None
    chosen_bundle = ca_bundle if ca_bundle is not None else settings_ca_bundle
    if staging and chosen_bundle is not None:
        raise BadInput("--staging uses Let's Encrypt's public staging CA: a CA bundle does not apply",
                       "drop --ca-bundle (or TR4CTL_ACME_CA_BUNDLE) with --staging")
    bundle = validate_ca_bundle_path(chosen_bundle) if chosen_bundle is not None else None

    persist: dict[str, str] = {}
    if domain is not None and clean_domain != settings_domain:
        persist["TR4CTL_DOMAIN"] = clean_domain
    if email is not None and clean_email != settings_email:
        persist["TR4CTL_EMAIL"] = clean_email
    if server is not None and clean_server != settings_server:
        persist["TR4CTL_ACME_SERVER"] = clean_server or ""
    if ca_bundle is not None and bundle is not None and bundle != settings_ca_bundle:
        # `cert renew` and later issues need the same trust: keep it with the server.
        persist["TR4CTL_ACME_CA_BUNDLE"] = str(bundle)
    return IssueRequest(clean_domain, clean_email, clean_server, staging, dry_run, bundle, persist)


def require_acme_ca_bundle_setting(config: Config) -> None:
    """TR4CTL_ACME_CA_BUNDLE is bind-mounted into the certbot-renew service: a relative
    path would be taken from the compose file's folder, a missing one would stop it."""
    bundle = config.acme_ca_bundle
    if bundle is None:
        return
    if not bundle.is_absolute():
        raise BadInput(f"TR4CTL_ACME_CA_BUNDLE={bundle} is a relative path",
                       f"set it to the absolute path: tr4ctl config set "
                       f"TR4CTL_ACME_CA_BUNDLE={bundle.resolve()}")
    validate_ca_bundle_path(bundle, setting="TR4CTL_ACME_CA_BUNDLE")


def validate_ca_bundle_path(path: Path, *, setting: str | None = None) -> Path:
    """The bundle is bind-mounted: it must be a readable PEM file whose path has no ':'.
    `setting` names where a bad value came from, so the message says what to change."""
    where = f"{setting}: " if setting else ""
    resolved = Path(path).expanduser().resolve()
    hint = "give the PEM file of the CA that signs the ACME server's TLS certificate"
    if ":" in str(resolved):
        raise BadInput(f"{where}CA bundle path {resolved} contains ':'",
                       "copy the file to a path without ':' (docker -v splits on it)")
    try:
        text = read_regular_file(resolved, f"{where}CA bundle", hint=hint)
    except FileNotFoundError:
        raise BadInput(f"{where}CA bundle {path} does not exist", hint) from None
    if not pem_certificates(text):
        raise BadInput(f"{where}CA bundle {resolved} holds no PEM certificate",
                       "give a file with -----BEGIN CERTIFICATE----- blocks")
    return resolved
