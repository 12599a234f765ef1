"""The pure certificate layer: input validation, PEM parsing, the renew decision, the
certbot command lines and certbot's failures, without Docker or a CA."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tr4ctl.actions.cert.request import resolve_issue_request
from tr4ctl.assets import backend_context, backend_image, load_templates
from tr4ctl.config.model import Config
from tr4ctl.errors import BadInput
from tr4ctl.facts import (
    ACME_CA_BUNDLE_IN_CONTAINER,
    LONG_RUNNING_SERVICES,
    NGINX_CERT_CHECK_SECONDS,
    RENEW_FORCE_FILE,
    RENEW_INTERVAL_SECONDS,
)
from tr4ctl.plan import stack
from tr4ctl.plan.certificates import (
    LETSENCRYPT_SERVER,
    CertificateInfo,
    IssueDecision,
    IssueRequest,
    Lineage,
    certbot_certonly_argv,
    certbot_failure,
    certbot_renew_argv,
    in_words,
    issue_decision,
    parse_certificate,
    parse_live_listing,
    parse_renew_state,
    tls_domains_in_config,
    validate_domain,
    validate_email,
    validate_server,
)
from tr4ctl.plan.environments import Environment, NginxMode
from tr4ctl.plan.layout import ProjectPaths
from tr4ctl.plan.target import connect_address as probe_host


def load_stack_inputs(config):
    return stack.StackInputs(load_templates(config.templates_dir),
                             backend_image(config.backend_image, config.backend_base_image),
                             str(backend_context()))


def render_compose(config, env, paths):
    return stack.render_compose(config, env, paths, load_stack_inputs(config))


def render_nginx(config, mode):
    return stack.render_nginx(config, mode, load_stack_inputs(config))


def Tr4ctlSettings(_env_file=None, **values):
    return Config.defaults(**values)

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def make_pem(names=("site.example.test",), *, serial=0x1A2B, days=90, issuer="Test CA",
             start=NOW - timedelta(days=1)) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
    )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def request(**values) -> IssueRequest:
    return IssueRequest(**{"domain": "site.example.test", "email": "ops@example.test", **values})


# -- validation ------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["site.example.com", "A-B.Example.COM.", "tr4ctl-test.internal",
                                   "xn--bcher-kva.example"])
def test_valid_domains_are_normalised(value):
    assert validate_domain(value) == value.lower().rstrip(".")


@pytest.mark.parametrize("value, why", [
    ("localhost", "dot"), ("*.example.com", "wildcard"), ("-bad.example.com", "label"),
    ("bad_name.example.com", "label"), ("1.2.3.4", "IP"), ("", "empty"),
    ("a" * 64 + ".example.com", "label"), ("exa mple.com", "label"),
])
def test_invalid_domains_say_why(value, why):
    with pytest.raises(BadInput, match=why):
        validate_domain(value)


@pytest.mark.parametrize("value", ["ops@example.com", "first.last+tag@sub.example.org"])
def test_valid_emails(value):
    assert validate_email(value) == value


@pytest.mark.parametrize("value", ["nope", "a@b", "@example.com", "a..b@example.com",
                                   "ops@exa_mple.com", "ops example@example.com", "ops@"])
def test_invalid_emails(value):
    with pytest.raises(BadInput, match="invalid email"):
        validate_email(value)


def resolve(**values):
    given = {"domain": None, "email": None, "server": None, "ca_bundle": None, "staging": False,
             "dry_run": False, "settings_domain": None, "settings_email": None,
             "settings_server": None, "settings_ca_bundle": None}
    return resolve_issue_request(**{**given, **values})


def test_flags_win_over_settings_and_are_persisted_only_when_new():
    got = resolve(domain="new.example.test", email="ops@example.test",
                  settings_domain="old.example.test", settings_email="ops@example.test")
    assert (got.domain, got.email) == ("new.example.test", "ops@example.test")
    assert got.persist == {"TR4CTL_DOMAIN": "new.example.test"}


def test_settings_alone_persist_nothing():
    got = resolve(settings_domain="site.example.test", settings_email="ops@example.test",
                  settings_server="https://ca.internal/dir")
    assert got.server == "https://ca.internal/dir" and got.persist == {}


def test_staging_and_server_conflict_from_flags_or_settings():
    with pytest.raises(BadInput, match="--staging and --server"):
        resolve(domain="a.example.test", email="o@example.test", staging=True,
                server="https://ca.internal/dir")
    with pytest.raises(BadInput, match="TR4CTL_ACME_SERVER"):
        resolve(domain="a.example.test", email="o@example.test", staging=True,
                settings_server="https://ca.internal/dir")


def test_missing_domain_or_email_names_the_setting():
    with pytest.raises(BadInput) as caught:
        resolve(email="o@example.test")
    assert "TR4CTL_DOMAIN" in caught.value.hint
    with pytest.raises(BadInput) as caught:
        resolve(domain="a.example.test")
    assert "TR4CTL_EMAIL" in caught.value.hint


def test_ca_bundle_must_exist_and_hold_a_certificate(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        resolve(domain="a.example.test", email="o@example.test", ca_bundle=tmp_path / "no.pem")
    (tmp_path / "empty.pem").write_text("not a certificate\n")
    with pytest.raises(BadInput, match="no PEM certificate"):
        resolve(domain="a.example.test", email="o@example.test", ca_bundle=tmp_path / "empty.pem")
    (tmp_path / "ca.pem").write_bytes(make_pem())
    got = resolve(domain="a.example.test", email="o@example.test",
                  ca_bundle=tmp_path / "ca.pem", server="https://pebble:14000/dir")
    assert got.ca_bundle == (tmp_path / "ca.pem").resolve()
    assert got.persist["TR4CTL_ACME_CA_BUNDLE"] == str((tmp_path / "ca.pem").resolve())
    assert got.persist["TR4CTL_ACME_SERVER"] == "https://pebble:14000/dir"


def test_invalid_server_url():
    with pytest.raises(BadInput, match="ACME server URL"):
        resolve(domain="a.example.test", email="o@example.test", server="pebble:14000")


# -- parsing ---------------------------------------------------------------------------
def test_parse_certificate_reads_serial_issuer_names_and_validity():
    info = parse_certificate(make_pem(("site.example.test", "www.example.test"), serial=0xABCDEF,
                                      issuer="Pebble Intermediate CA 1"), "site.example.test")
    assert info.serial == "ABCDEF"
    assert info.issuer == "CN=Pebble Intermediate CA 1"
    assert info.names == ("site.example.test", "www.example.test")
    assert info.days_left(NOW) == 89
    assert len(info.fingerprint) == 64


def test_parse_certificate_takes_the_leaf_of_a_chain_and_der():
    leaf, intermediate = make_pem(serial=1), make_pem(serial=2)
    assert parse_certificate(leaf + intermediate).serial == "1"
    der = x509.load_pem_x509_certificate(leaf).public_bytes(serialization.Encoding.DER)
    assert parse_certificate(der).fingerprint == parse_certificate(leaf).fingerprint
    with pytest.raises(ValueError):
        parse_certificate(b"garbage")


def test_live_listing_gives_each_lineage_with_its_server():
    text = (
        "#tr4ctl domain a.example.test\n#tr4ctl server https://pebble:14000/dir\n"
        + make_pem(("a.example.test",), serial=10).decode()
        + "#tr4ctl domain b.example.test\n" + make_pem(("b.example.test",), serial=11).decode()
        + "#tr4ctl domain broken.example.test\nnot pem\n"
    )
    found = parse_live_listing(text)
    assert found["a.example.test"].server == "https://pebble:14000/dir"
    assert found["a.example.test"].certificate.serial == "A"
    assert found["b.example.test"].server is None
    assert found["broken.example.test"].certificate is None
    assert "unreadable" in found["broken.example.test"].problem
    assert parse_live_listing("") == {}


# -- the renew decision -----------------------------------------------------------------
def lineage(days_left: int, *, names=("site.example.test",), server=LETSENCRYPT_SERVER) -> Lineage:
    info = parse_certificate(make_pem(names, days=days_left + 100, start=NOW - timedelta(days=100)))
    return Lineage(info, server)


def test_no_certificate_means_issue():
    assert issue_decision(None, request(), NOW)[0] is IssueDecision.ISSUE


def test_more_than_30_days_left_is_kept():
    decision, why = issue_decision(lineage(31), request(), NOW)
    assert decision is IssueDecision.KEEP and "31" in why


@pytest.mark.parametrize("days", [30, 5, -3])
def test_30_days_or_less_is_renewed(days):
    assert issue_decision(lineage(days), request(), NOW)[0] is IssueDecision.RENEW


def test_other_names_or_another_ca_is_replaced():
    assert issue_decision(lineage(80, names=("other.example.test",)), request(), NOW)[0] \
        is IssueDecision.RENEW
    decision, why = issue_decision(lineage(80, server="https://pebble:14000/dir"), request(), NOW)
    assert decision is IssueDecision.RENEW and "pebble" in why
    assert issue_decision(lineage(80, server="https://pebble:14000/dir"),
                          request(server="https://pebble:14000/dir"), NOW)[0] is IssueDecision.KEEP
    assert issue_decision(lineage(80), request(staging=True), NOW)[0] is IssueDecision.RENEW


def test_unreadable_certificate_is_replaced():
    assert issue_decision(Lineage(None, None, "unreadable"), request(), NOW)[0] \
        is IssueDecision.RENEW


# -- certbot command lines ----------------------------------------------------------------
def test_certonly_argv_pins_the_lineage_and_never_asks():
    argv = certbot_certonly_argv(request(server="https://pebble:14000/dir"), replace_existing=False)
    assert argv[:4] == ["certonly", "--webroot", "-w", "/var/www/certbot"]
    for pair in (["-d", "site.example.test"], ["--cert-name", "site.example.test"],
                 ["-m", "ops@example.test"], ["--server", "https://pebble:14000/dir"]):
        index = argv.index(pair[0])
        assert argv[index:index + 2] == pair
    assert {"--agree-tos", "--non-interactive", "--no-eff-email"} <= set(argv)
    assert "--force-renewal" not in argv and "--staging" not in argv


def test_certonly_argv_flags():
    argv = certbot_certonly_argv(request(staging=True, dry_run=True), replace_existing=True)
    assert {"--staging", "--dry-run", "--force-renewal"} <= set(argv)
    assert "--server" not in argv


def test_renew_argv_one_lineage():
    assert certbot_renew_argv("a.example.test", LETSENCRYPT_SERVER, dry_run=False, force=False) == [
        "renew", "--cert-name", "a.example.test", "--webroot", "-w", "/var/www/certbot",
        "--non-interactive", "--no-random-sleep-on-renew"]
    assert certbot_renew_argv("a.example.test", None, dry_run=True, force=True)[-2:] == [
        "--dry-run", "--force-renewal"]


def test_renew_dry_run_stays_with_the_lineages_own_ca():
    # certbot would test any lineage against Let's Encrypt staging without --server.
    pebble = certbot_renew_argv("a.example.test", "https://pebble:14000/dir", dry_run=True,
                                force=False)
    assert pebble[pebble.index("--server") + 1] == "https://pebble:14000/dir"
    assert "--server" not in certbot_renew_argv("a.example.test", LETSENCRYPT_SERVER + "/",
                                                dry_run=True, force=False)
    assert "--server" not in certbot_renew_argv("a.example.test", "https://pebble:14000/dir",
                                                dry_run=False, force=False)


CERTBOT_CHALLENGE_FAILURE = """Saving debug log to /var/log/letsencrypt/letsencrypt.log
Requesting a certificate for nowhere.invalid

Certbot failed to authenticate some domains (authenticator: webroot). The Certificate Authority reported these problems:
  Identifier: nowhere.invalid
  Type:   connection
  Detail: lookup nowhere.invalid on 127.0.0.11:53: no such host

Hint: The Certificate Authority failed to download the temporary challenge files created by Certbot.

Some challenges have failed.
Ask for help or search for solutions at https://community.letsencrypt.org. See the logfile /var/log/letsencrypt/letsencrypt.log or re-run Certbot with -v for more details.
"""


def test_certbot_failure_gives_the_cas_reason_in_one_line():
    failure = certbot_failure(CERTBOT_CHALLENGE_FAILURE)
    assert failure.reason == ("the CA refused: nowhere.invalid: lookup nowhere.invalid on "
                              "127.0.0.11:53: no such host (connection)")
    assert "\n" not in failure.reason
    assert "Saving debug log" not in failure.details and "Hint:" in failure.details


def test_certbot_failure_without_a_ca_answer():
    output = ("Saving debug log to /var/log/letsencrypt/letsencrypt.log\n"
              "An unexpected error occurred:\n"
              "requests.exceptions.SSLError: certificate verify failed\n"
              "Ask for help or search for solutions at https://community.letsencrypt.org.\n")
    failure = certbot_failure(output)
    assert failure.reason == "the ACME server presents a TLS certificate certbot does not trust"
    assert "--ca-bundle" in failure.hint
    assert certbot_failure("").reason == "certbot failed without output"


def certbot_error(line: str, renew: bool = False) -> str:
    """certbot 5.8's output around one error line, as certonly or renew print it."""
    if renew:
        return ("Saving debug log to /var/log/letsencrypt/letsencrypt.log\n\n- - - -\n"
                "Processing /etc/letsencrypt/renewal/x.internal.conf\n- - - -\n"
                f"Failed to renew certificate x.internal with error: {line}\n\n- - - -\n"
                "All renewals failed. The following certificates could not be renewed:\n"
                "  /etc/letsencrypt/live/x.internal/fullchain.pem (failure)\n- - - -\n"
                "1 renew failure(s), 0 parse failure(s)\n"
                "Ask for help or search for solutions at https://community.letsencrypt.org.\n")
    return ("Saving debug log to /var/log/letsencrypt/letsencrypt.log\n"
            f"An unexpected error occurred:\n{line}\n"
            "Ask for help or search for solutions at https://community.letsencrypt.org.\n")


REFUSED = ("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pebble', port=14999):"
           " Max retries exceeded with url: /dir (Caused by NewConnectionError(\"HTTPSConnection"
           "(host='pebble', port=14999): Failed to establish a new connection: [Errno 111] "
           "Connection refused\"))")
UNRESOLVED = ("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='nope-acme', "
              "port=14000): Max retries exceeded with url: /dir (Caused by NameResolutionError("
              "\"HTTPSConnection(host='nope-acme', port=14000): Failed to resolve 'nope-acme' "
              "([Errno -3] Temporary failure in name resolution)\"))")
UNTRUSTED = ("HTTPSConnectionPool(host='pebble', port=14000): Max retries exceeded with url: /dir"
             " (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED]"
             " certificate verify failed: unable to get local issuer certificate (_ssl.c:992)')))")
NOT_TLS = ("requests.exceptions.SSLError: HTTPSConnectionPool(host='plainweb', port=8000): Max "
           "retries exceeded with url: /dir (Caused by SSLError(SSLError(1, '[SSL: "
           "WRONG_VERSION_NUMBER] wrong version number (_ssl.c:992)')))")


@pytest.mark.parametrize("line, renew, server, reason, kind, hint_words", [
    (REFUSED, False, "https://pebble:14999/dir",
     "the ACME server https://pebble:14999/dir is unreachable (connection refused)",
     "ca-unreachable", ["--server"]),
    (UNRESOLVED, False, None,
     "the ACME server nope-acme:14000 is unreachable (the name does not resolve)",
     "ca-unreachable", ["TR4CTL_ACME_SERVER"]),
    (UNTRUSTED, True, "https://pebble:14000/dir",
     ("the ACME server https://pebble:14000/dir presents a TLS certificate certbot does not "
      "trust"),
     "ca-untrusted", ["--ca-bundle", "TR4CTL_ACME_CA_BUNDLE"]),
    (NOT_TLS, False, "https://plainweb:8000/dir",
     "no TLS connection to the ACME server https://plainweb:8000/dir (wrong version number)",
     "ca-tls", ["port"]),
    ("acme.errors.ClientError: <Response [404]>", False, "https://pebble:14000/nope",
     "the ACME server https://pebble:14000/nope did not answer as an ACME directory (HTTP 404)",
     "not-acme", ["not an ACME directory"]),
])
def test_certbot_failures_talking_to_the_acme_server(line, renew, server, reason, kind,
                                                     hint_words):
    failure = certbot_failure(certbot_error(line, renew), server)
    assert (failure.reason, failure.kind) == (reason, kind)
    assert failure.details is None  # the reason says it all: no library text after it
    for word in hint_words:
        assert word in failure.hint
    assert "port 80" not in failure.hint  # the CA never got to check this host


def test_the_cas_refusal_picks_the_hint_by_its_type():
    connection = CERTBOT_CHALLENGE_FAILURE.replace(
        "Detail: lookup nowhere.invalid on 127.0.0.11:53: no such host",
        "Detail: 10.0.0.1: Fetching http://a.example.test/.well-known/acme-challenge/x: "
        "Timeout during connect (likely firewall problem)")
    assert certbot_failure(connection).kind == "refused:connection"
    assert "port 80" in certbot_failure(connection).hint
    assert certbot_failure(CERTBOT_CHALLENGE_FAILURE).kind == "refused:dns"
    assert "DNS" in certbot_failure(CERTBOT_CHALLENGE_FAILURE).hint


def test_an_unknown_error_keeps_its_words_without_the_exception_class():
    failure = certbot_failure(certbot_error("certbot.errors.Error: something new"))
    assert (failure.reason, failure.kind) == ("something new", "other")
    assert failure.details


def test_acme_server_urls_must_be_https():
    with pytest.raises(BadInput, match="plain HTTP") as caught:
        validate_server("http://pebble:14000/dir")
    assert caught.value.hint == "use https://pebble:14000/dir"
    assert validate_server(" https://pebble:14000/dir ") == "https://pebble:14000/dir"


# -- small pure helpers -------------------------------------------------------------------
def test_probe_host_follows_the_bind_address():
    assert probe_host("0.0.0.0") == "127.0.0.1"
    assert probe_host("127.0.0.1") == "127.0.0.1"
    assert probe_host("10.0.0.5") == "10.0.0.5"
    assert probe_host("::") == "::1"


def test_tls_domains_come_from_the_rendered_prod_config():
    settings = Tr4ctlSettings(_env_file=None, domain="site.example.test")
    assert tls_domains_in_config(render_nginx(settings, NginxMode.PROD)) == ["site.example.test"]
    assert tls_domains_in_config(render_nginx(settings, NginxMode.PROD_HTTP)) == []


def test_renew_state_file():
    state = parse_renew_state("interval=43200\nstarted=1700000000\nca_bundle=\n"
                              "last_pass=1700000001\nlast_exit=1\nlast_forced=0\n"
                              "next_pass=1700043205\n")
    assert state.interval_seconds == 43200 and state.last_exit == 1
    assert state.next_pass == datetime.fromtimestamp(1700043205, UTC)
    assert (state.last_result, state.last_forced, state.ca_bundle) == ("failed", False, None)
    now = datetime.fromtimestamp(1700000005, UTC)
    assert state.seconds_to_next_pass(now) == 43200
    assert in_words(43200) == "12h 0m" and in_words(125) == "2m" and in_words(4) == "4s"
    first = parse_renew_state("started=1700000000\nca_bundle=/run/tr4ctl/acme-ca-bundle.pem\n")
    assert first.last_pass is None and first.last_result is None
    assert first.ca_bundle == "/run/tr4ctl/acme-ca-bundle.pem"
    assert parse_renew_state("last_pass=1\nlast_exit=0\nlast_forced=1\n").last_result == "succeeded"


def test_renewal_service_is_long_running_and_healthchecked():
    doc = yaml.safe_load(render_compose(Tr4ctlSettings(_env_file=None), Environment.PROD,
                                        ProjectPaths(Path("/srv/p"))))
    renew = doc["services"]["certbot-renew"]
    assert "certbot-renew" in LONG_RUNNING_SERVICES
    assert renew["restart"] == "unless-stopped" and renew["init"] is True
    assert renew["healthcheck"]["test"]
    assert "profiles" not in renew
    script = renew["command"][0]
    # compose interpolates $VAR: every shell variable is escaped as $$.
    assert "certbot renew --webroot -w /var/www/certbot" in script
    assert "$$?" in script and "$?" not in script.replace("$$?", "")
    assert {"certbot_conf:/etc/letsencrypt", "certbot_www:/var/www/certbot"} <= set(renew["volumes"])


def prod_compose(**values) -> dict:
    return yaml.safe_load(render_compose(Tr4ctlSettings(domain="site.example.test", **values),
                                         Environment.PROD, ProjectPaths(Path("/srv/p"))))


def test_renewal_service_trusts_the_acme_ca_bundle_setting():
    services = prod_compose(acme_ca_bundle=Path("/srv/ca #1.pem"))["services"]
    renew = services["certbot-renew"]
    assert renew["environment"] == {"REQUESTS_CA_BUNDLE": ACME_CA_BUNDLE_IN_CONTAINER}
    assert {"type": "bind", "source": "/srv/ca #1.pem", "target": ACME_CA_BUNDLE_IN_CONTAINER,
            "read_only": True, "bind": {"create_host_path": False}} in renew["volumes"]
    # The tool container gets the bundle per run from tr4ctl (cert issue may bring a new one).
    assert "environment" not in services["certbot"]
    plain = prod_compose()["services"]["certbot-renew"]
    assert "environment" not in plain and all(isinstance(v, str) for v in plain["volumes"])


def test_renewal_loop_can_be_forced_without_changing_its_interval():
    script = prod_compose()["services"]["certbot-renew"]["command"][0]
    assert f"interval={RENEW_INTERVAL_SECONDS}" in script and RENEW_INTERVAL_SECONDS == 43200
    assert f"force={RENEW_FORCE_FILE}" in script
    assert 'set -- --force-renewal' in script and '"$$@"' in script
    assert "last_exit=%s" in script and "next_pass=%s" in script and "ca_bundle=%s" in script


def test_nginx_reloads_itself_when_the_certificate_files_change():
    script = prod_compose()["services"]["nginx"]["command"][2]
    assert f"sleep {NGINX_CERT_CHECK_SECONDS}" in script
    assert "/etc/letsencrypt/live/*/fullchain.pem /etc/letsencrypt/live/*/privkey.pem" in script
    # Reloaded only when nginx accepts the new files; nginx itself stays PID 1.
    assert "if nginx -t -q; then" in script and "nginx -s reload" in script
    assert script.rstrip().endswith("exec nginx -g 'daemon off;'")
    assert "6h" not in script


def test_prod_security_headers_on_the_redirect_server_too():
    text = render_nginx(Tr4ctlSettings(_env_file=None, domain="site.example.test"), NginxMode.PROD)
    redirect_server = next(block for block in text.split("server {") if "return 301" in block)
    assert 'add_header X-Frame-Options "DENY" always;' in redirect_server
    assert "ssl_ciphers ECDHE" in text


def test_certificate_info_as_dict_is_json_ready():
    info = CertificateInfo("a.example.test", "A", "ff", "CN=x", ("a.example.test",), NOW,
                           NOW + timedelta(days=10))
    assert info.as_dict(NOW)["days_left"] == 10
    assert info.as_dict(NOW)["not_after"].startswith("2030-01-11")
