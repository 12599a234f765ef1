"""users seed | list: the operator accounts, through the backend's own management command."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from tr4ctl.cli.common import examples, runtime
from tr4ctl.errors import BadInput
from tr4ctl.runtime import Runtime

app = typer.Typer(help="Operator accounts: seed the admin and founder, list accounts.",
                  no_args_is_help=True)

PROMPT_ATTEMPTS = 3
# One password a line: a megabyte is far more than any account list needs.
STDIN_LIMIT = 1024 * 1024

SEED_HELP = """Create or update accounts: by default an admin and a founder (emails
from --admin-email/--founder-email or TR4CTL_ADMIN_EMAIL/TR4CTL_FOUNDER_EMAIL), or every
account of --file. Idempotent: existing accounts are reported unchanged and keep their
password unless --reset-password.

\b
Passwords for the accounts that need one (new, or --reset-password):
1. "password" in --file (the file must then be chmod 600);
2. --password-stdin: one password per line, in account order (admin,
   founder; or file order), a line for each account without a password
   in the file; a line for an existing account is ignored unless
   --reset-password;
3. --generate: 24 random characters, shown once on this terminal, or
   written only to --output FILE (a new 0600 file in the --file format).
   Without a terminal --generate needs --output: passwords never go to a
   pipe, a CI log or the --json document;
4. otherwise a hidden prompt with confirmation (needs a terminal).
Passwords need 12+ characters and must not equal the email.

Nothing secret is on any command line: the accounts reach the backend
container on the standard input of `python3 -m app.manage seed`."""


@app.command("seed", help=SEED_HELP,
             short_help="Create or update the admin and founder (or --file) accounts.",
             epilog=examples(
                 "tr4ctl users seed --admin-email admin@example.org "
                 "--founder-email founder@example.org --generate --output passwords.json",
                 "tr4ctl users seed --file accounts.json --password-stdin < passwords.txt"))
def seed(
    ctx: typer.Context,
    admin_email: str = typer.Option(None, "--admin-email", metavar="EMAIL",
                                    help="Email of the admin account."),
    founder_email: str = typer.Option(None, "--founder-email", metavar="EMAIL",
                                      help="Email of the founder account."),
    file: Path = typer.Option(None, "--file", dir_okay=False, metavar="FILE",
                              help='JSON list of {"email", "role", "name"?, "password"?}.'),
    only: list[str] = typer.Option(None, "--only", metavar="EMAIL",
                                   help="Seed only this account of the set (repeatable)."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read passwords from standard input, one per line."),
    generate: bool = typer.Option(False, "--generate", help="Generate strong passwords."),
    output: Path = typer.Option(None, "--output", dir_okay=False, metavar="FILE",
                                help="With --generate: write the passwords to this new 0600 "
                                     "file instead of the terminal."),
    reset_password: bool = typer.Option(False, "--reset-password",
                                        help="Also set the password of existing accounts."),
) -> None:
    from tr4ctl.actions.users.seed import (
        accounts_to_seed,
        apply_seed,
        check_seed_flags,
        generated_passwords,
        prepare_seed,
    )

    rt = runtime(ctx)
    check_seed_flags(file, admin_email, founder_email, password_stdin, generate, output,
                     terminal=os.isatty(sys.stderr.fileno()))
    accounts = accounts_to_seed(rt, file, admin_email, founder_email, only or [],
                                password_lines=_stdin_passwords() if password_stdin else None)
    ask = generated_passwords if generate else _prompted_passwords(rt)
    prepared = prepare_seed(rt, accounts, reset_password=reset_password, ask_passwords=ask,
                            generated=generate, output_file=output)
    with rt.changing("users seed"):
        report = apply_seed(rt, prepared)

    out = rt.out
    summary = report.summary
    out.table(None, ["account", "result"], summary.rows())
    for email in report.passwords_not_applied:
        out.warn(f"{email} exists: its password was left unchanged (add --reset-password)")
    if report.output_file:
        out.success(f"{len(report.generated)} generated password(s) written to "
                    f"{report.output_file} (0600)")
    elif report.generated:
        # Shown once, on the terminal (stderr), never in the --json document.
        out.info("generated passwords (shown once, store them now):")
        for account in report.generated:
            out.say(f"  {account.email}  {account.password}", markup=False)
    elif generate:
        out.info("no password generated: every account already exists "
                 "(--reset-password replaces their passwords)")
    out.success(f"{len(summary.created)} created, {len(summary.updated)} updated, "
                f"{len(summary.unchanged)} unchanged")
    out.emit("users seed", {
        "created": summary.created, "updated": summary.updated,
        "unchanged": summary.unchanged,
        "passwords": {
            "generated": [a.email for a in report.generated],
            "output_file": str(report.output_file) if report.output_file else None,
            "not_applied": report.passwords_not_applied,
        },
    })


@app.command("list", epilog=examples("tr4ctl users list", "tr4ctl users list --json"))
def list_(ctx: typer.Context) -> None:
    """Accounts with email, role, name and creation date (never a password hash)."""
    from tr4ctl.actions.users.list import user_list

    rt = runtime(ctx)
    users = user_list(rt)
    rt.out.table(f"{len(users)} account(s)", ["email", "role", "name", "created"],
                      [[u["email"], u["role"], u["name"] or "-",
                        str(u["created_at"] or "")[:10]] for u in users])
    rt.out.emit("users list", {"users": users})


def _stdin_passwords() -> str:
    """Standard input, read to at most STDIN_LIMIT (`< /dev/zero` must not eat memory)."""
    text = sys.stdin.read(STDIN_LIMIT + 1)
    if len(text) > STDIN_LIMIT:
        raise BadInput(f"--password-stdin got more than {STDIN_LIMIT // 1024} KiB",
                       "give one password a line, a line for each account")
    return text


def _prompted_passwords(rt: Runtime):
    def ask(accounts) -> dict[str, str]:
        from tr4ctl.plan.accounts import password_problem

        if not sys.stdin.isatty():
            raise BadInput(f"{accounts[0].email} needs a password and standard input is not "
                           "a terminal", "use --generate, --password-stdin or passwords in "
                           "a 0600 --file")
        passwords = {}
        for account in accounts:
            for _ in range(PROMPT_ATTEMPTS):
                password = typer.prompt(f"password for {account.email} ({account.role})",
                                        hide_input=True, confirmation_prompt=True, err=True)
                problem = password_problem(password, account.email)
                if problem is None:
                    passwords[account.email] = password
                    break
                rt.out.warn(f"weak password: {problem}")
            else:
                raise BadInput(f"no acceptable password for {account.email}",
                               "use 12+ characters, not the email, or --generate")
        return passwords
    return ask
