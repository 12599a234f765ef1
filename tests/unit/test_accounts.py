"""Issue 5, pure layer: accounts, password rules and sources, no Docker."""

import json
import os
import string
import subprocess
import sys

import pytest
from one_line import one_line

from tr4ctl.errors import BadInput
from tr4ctl.plan.accounts import (
    Account,
    SeedPlan,
    backend_error,
    default_accounts,
    generate_password,
    generated_file_text,
    parse_accounts_file,
    parse_password_lines,
    parse_seed_summary,
    parse_user_list,
    password_problem,
    require_private_file,
    seed_payload,
    select_only,
)

SECRET = "a long secret passphrase"


def parse(entries) -> list[Account]:
    return parse_accounts_file(json.dumps(entries), "accounts.json")


def refused(entries_or_text) -> str:
    text = entries_or_text if isinstance(entries_or_text, str) else json.dumps(entries_or_text)
    with pytest.raises(BadInput) as caught:
        parse_accounts_file(text, "accounts.json")
    message = f"{caught.value.message} {caught.value.hint or ''}"
    assert "\n" not in caught.value.message
    return message


# -- accounts ---------------------------------------------------------------------
def test_default_accounts_are_normalised_admin_then_founder():
    accounts = default_accounts(" Ops@Example.TEST ", "founder@example.test")
    assert [(a.email, a.role, a.password) for a in accounts] == [
        ("ops@example.test", "admin", None), ("founder@example.test", "founder", None)]


@pytest.mark.parametrize("admin, founder, missing", [(None, "f@x.test", "--admin-email"),
                                                     ("a@x.test", "", "--founder-email")])
def test_default_accounts_need_both_emails(admin, founder, missing):
    with pytest.raises(BadInput) as caught:
        default_accounts(admin, founder)
    assert missing in caught.value.hint and "TR4CTL_" in caught.value.hint


def test_default_accounts_with_one_email_twice_are_refused():
    with pytest.raises(BadInput, match="duplicate email a@x.test"):
        default_accounts("a@x.test", "A@X.test")


def test_accounts_file_parses_and_normalises():
    accounts = parse([{"email": "A@X.test", "role": "admin", "name": "  Ada ", "password": SECRET},
                      {"email": "f@x.test", "role": "founder", "name": None}])
    assert accounts == [Account("a@x.test", "admin", "Ada", SECRET),
                        Account("f@x.test", "founder", None, None)]


@pytest.mark.parametrize("document, words", [
    ("{not json", ["not valid JSON", "line 1 column 2"]),
    ("", ["not valid JSON"]),
    ('{"accounts": []}', ["non-empty JSON list"]),
    ("[]", ["non-empty JSON list"]),
    ('["a@x.test"]', ["account 1 is not an object"]),
    ([{"email": "a@x.test"}], ["account 1 has no role"]),
    ([{"role": "admin"}], ["account 1 has no email"]),
    ([{"email": "a@x.test", "role": "admin", "pasword": "x"}], ["unknown field(s) pasword"]),
    ([{"email": 5, "role": "admin"}], ["email must be a string"]),
    ([{"email": "a@x.test", "role": "owner"}], ["unknown role 'owner'", "admin, founder"]),
    ([{"email": "a@x.test", "role": "admin"}, {"email": "f@x.test", "role": "founder"},
      {"email": " A@X.TEST", "role": "founder"}], ["duplicate email a@x.test"]),
    ([{"email": "a@x.test", "role": "admin", "name": "n" * 201}], ["longer than 200"]),
])
def test_bad_accounts_files_are_one_line_each(document, words):
    message = refused(document)
    for word in words:
        assert word in message


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "a b@x.test", "a@@x.test", "@x.test",
                                   "a@x.", "", ("x" * 65) + "@x.test",
                                   "a@" + "d" * 250 + ".test"])
def test_invalid_emails_are_refused(email):
    assert "invalid email" in refused([{"email": email, "role": "admin"}])


def test_an_email_with_surrounding_space_is_accepted_stripped():
    assert parse([{"email": " a@x.test\n", "role": "admin"}])[0].email == "a@x.test"


@pytest.mark.parametrize("password", ["pw-x1", "eleven char", "OPS@example.test ", "x" * 73,
                                      "twelve chars\x00"])
def test_weak_passwords_in_a_file_name_the_rule_not_the_password(password):
    message = refused([{"email": "ops@example.test", "role": "admin", "password": password}])
    assert "weak password for ops@example.test" in message
    assert password.strip() not in message.replace("ops@example.test", "")


def test_no_error_message_repeats_a_password():
    entries = [{"email": "a@x.test", "role": "admin", "password": SECRET},
               {"email": "A@x.test", "role": "admin", "password": SECRET}]
    assert SECRET not in refused(entries)


# -- password rules ---------------------------------------------------------------
@pytest.mark.parametrize("password, rule", [
    ("x" * 11, "shorter than 12"),
    ("é" * 37, "longer than 72 bytes"),
    ("twelve chars\x00", "NUL"),
    ("Ops@Example.test", "equal to the email"),
    ("  ops@example.test ", "equal to the email"),
])
def test_password_rules(password, rule):
    assert rule in password_problem(password, "ops@example.test")


@pytest.mark.parametrize("password", ["x" * 12, "é" * 36, "correct horse battery staple"])
def test_acceptable_passwords(password):
    assert password_problem(password, "ops@example.test") is None


def test_generated_passwords_are_strong_and_distinct():
    passwords = [generate_password() for _ in range(500)]
    alphabet = set(string.ascii_letters + string.digits + "-_")
    assert len(set(passwords)) == len(passwords)
    for password in passwords:
        assert len(password) == 24  # 18 random bytes: 144 bits
        assert set(password) <= alphabet
        assert password_problem(password, "a@x.test") is None
    # Every symbol of the alphabet shows up: the source is not biased to a subset.
    assert set("".join(passwords)) == alphabet


# -- file permissions, --only --------------------------------------------------------
@pytest.mark.parametrize("mode", [0o100600, 0o100400, 0o100700])
def test_private_files_are_accepted(mode):
    require_private_file(mode, "a.json")


@pytest.mark.parametrize("mode", [0o100644, 0o100640, 0o100604, 0o100620, 0o100602])
def test_files_others_may_read_or_edit_are_refused(mode):
    with pytest.raises(BadInput) as caught:
        require_private_file(mode, "a.json")
    assert "chmod 600 a.json" in caught.value.hint


def test_only_selects_accounts_case_insensitively_and_refuses_strangers():
    accounts = default_accounts("a@x.test", "f@x.test")
    assert [a.email for a in select_only(accounts, ["F@X.test"])] == ["f@x.test"]
    assert select_only(accounts, []) == accounts
    with pytest.raises(BadInput, match="--only z@x.test"):
        select_only(accounts, ["z@x.test"])


# -- --password-stdin ----------------------------------------------------------------
def test_password_lines_follow_account_order_skipping_file_passwords():
    accounts = parse([{"email": "a@x.test", "role": "admin"},
                      {"email": "b@x.test", "role": "founder", "password": SECRET},
                      {"email": "c@x.test", "role": "founder"}])
    completed = parse_password_lines("first password 1\r\nthird password 3\n", accounts)
    assert [a.password for a in completed] == ["first password 1", SECRET, "third password 3"]


@pytest.mark.parametrize("text, got", [("", 0), ("one password only\n", 1),
                                       ("first password\nsecond password\n\n", 3)])
def test_password_lines_must_match_the_accounts(text, got):
    accounts = default_accounts("a@x.test", "f@x.test")
    with pytest.raises(BadInput) as caught:
        parse_password_lines(text, accounts)
    assert f"expected 2 password line(s), got {got}" in caught.value.message
    assert "a@x.test, f@x.test" in caught.value.hint


def test_a_weak_password_line_is_refused_with_its_rule():
    with pytest.raises(BadInput) as caught:
        parse_password_lines("good password one\nfounder@example.test\n",
                             default_accounts("a@x.test", "founder@example.test"))
    assert "founder@example.test (standard input): equal to the email" in caught.value.message


# -- what goes to the backend, and what comes back -----------------------------------
def test_plan_asks_passwords_for_new_accounts_only_unless_reset():
    accounts = default_accounts("a@x.test", "f@x.test")
    plan = SeedPlan(accounts, frozenset({"a@x.test"}), reset_password=False)
    assert [a.email for a in plan.needing_password] == ["f@x.test"]
    assert [a.email for a in plan.keeping_password] == ["a@x.test"]
    reset = SeedPlan(accounts, frozenset({"a@x.test"}), reset_password=True)
    assert [a.email for a in reset.needing_password] == ["a@x.test", "f@x.test"]
    assert reset.keeping_password == []


def test_payload_sends_existing_accounts_without_a_password_and_new_ones_with_theirs():
    accounts = [Account("a@x.test", "admin", "Ada"), Account("f@x.test", "founder", None, SECRET)]
    plan = SeedPlan(accounts, frozenset({"a@x.test"}), reset_password=False)
    payload = json.loads(seed_payload(plan))
    assert payload == {"accounts": [
        {"email": "a@x.test", "role": "admin", "name": "Ada"},
        {"email": "f@x.test", "role": "founder", "password": SECRET}]}


def test_payload_refuses_an_account_that_needs_a_password_and_has_none():
    plan = SeedPlan([Account("f@x.test", "founder")], frozenset(), reset_password=False)
    with pytest.raises(ValueError):
        seed_payload(plan)


def test_backend_answers_are_read_and_hashes_dropped():
    summary = parse_seed_summary('{"created": ["a@x.test"], "updated": [], "unchanged": []}\n')
    assert summary.rows() == [["a@x.test", "created"]]
    users = parse_user_list(json.dumps([{"email": "a@x.test", "name": None, "role": "admin",
                                         "created_at": "2025-01-01T00:00:00Z",
                                         "password_hash": "$2b$12$abc"}]))
    assert users == [{"email": "a@x.test", "name": None, "role": "admin",
                      "created_at": "2025-01-01T00:00:00Z"}]
    assert backend_error('warning\n{"error": "accounts[0].role: bad"}\n') == "accounts[0].role: bad"
    assert backend_error("plain failure\n") == "plain failure"
    with pytest.raises(ValueError):
        parse_seed_summary("")


def test_generated_file_can_be_fed_back_as_an_accounts_file():
    accounts = [Account("a@x.test", "admin", "Ada", generate_password())]
    assert parse_accounts_file(generated_file_text(accounts), "out.json") == accounts


# -- the command line, before any Docker call ------------------------------------------
def tr4ctl(tmp_path, *args, input=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "tr4ctl", "--project-dir", str(tmp_path), *args],
        check=False, capture_output=True, text=True, input=input, timeout=60,
        env={**os.environ, "TR4CTL_ADMIN_EMAIL": "", "TR4CTL_FOUNDER_EMAIL": "", **(env or {})},
    )


EMAILS = ("--admin-email", "a@x.test", "--founder-email", "f@x.test")


@pytest.mark.parametrize("args, words", [
    (("--password-stdin", "--generate"), ["choose one"]),
    (("--output", "x.json"), ["add --generate"]),
    (("--generate",), ["without a terminal", "--output FILE"]),
    (("--file", "accounts.json", "--admin-email", "a@x.test"), ["--file replaces"]),
    (("--file", "missing.json"), ["does not exist"]),
    (("--only", "z@x.test"), ["--only z@x.test"]),
])
def test_flag_mistakes_are_bad_input(tmp_path, args, words):
    extra = () if "--file" in args else EMAILS
    one_line(tr4ctl(tmp_path, "users", "seed", *extra, *args), 2, *words)


def test_default_emails_come_from_settings(tmp_path):
    (tmp_path / ".env").write_text("TR4CTL_ADMIN_EMAIL=a@x.test\nTR4CTL_FOUNDER_EMAIL=a@x.test\n")
    one_line(tr4ctl(tmp_path, "users", "seed", env={"TR4CTL_ADMIN_EMAIL": "a@x.test",
                                                   "TR4CTL_FOUNDER_EMAIL": "a@x.test"}),
             2, "duplicate email a@x.test")


def test_world_readable_file_with_passwords_is_refused(tmp_path):
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps([{"email": "a@x.test", "role": "admin", "password": SECRET}]))
    path.chmod(0o644)
    line = one_line(tr4ctl(tmp_path, "users", "seed", "--file", str(path)), 2, "mode 0644")
    assert SECRET not in line


def test_password_stdin_count_is_checked_before_the_stack(tmp_path):
    one_line(tr4ctl(tmp_path, "users", "seed", *EMAILS, "--password-stdin",
                    input="only one password\n"), 2, "expected 2 password line(s), got 1")


@pytest.mark.parametrize("command", [("users", "list"), ("users", "seed", *EMAILS)])
def test_no_stack_is_exit_3_with_the_fix(tmp_path, command):
    result = tr4ctl(tmp_path, *command, input="")
    one_line(result, 3, "not running", "tr4ctl up")


def test_json_envelope_on_refusal(tmp_path):
    result = tr4ctl(tmp_path, "--json", "users", "seed", *EMAILS, "--generate")
    envelope = json.loads(result.stdout)
    assert envelope["status"] == "error" and envelope["exit_code"] == 2


def test_list_takes_json_after_the_command_too(tmp_path):
    result = tr4ctl(tmp_path, "users", "list", "--json")
    envelope = json.loads(result.stdout)
    assert envelope["exit_code"] == 3 and "tr4ctl up" in envelope["errors"][0]["hint"]
