"""Command line (Flask CLI on webhook_app): database, accounts, staff users, demo data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from bot.config import ROOT, Settings
from bot.db import session_scope, utcnow
from bot.services.accounts_import import ImportFailed, import_accounts
from bot.services.demo_history import load_demo_history
from bot.services.errors import ServiceError
from bot.services.policy import load_policy
from bot.services.users import Role, create_user, get_user, issue_token

DEMO_DIR = ROOT / "demo"
DEMO_STAFF = (
    ("agent@demo.test", Role.AGENT),
    ("compliance@demo.test", Role.COMPLIANCE),
    ("admin@demo.test", Role.ADMIN),
)
DEMO_PASSWORD = "demo-password"  # noqa: S105  (documented demo credentials, demo data only)


def _settings() -> Settings:
    return current_app.extensions["settings"]


def upgrade_database(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` with the Alembic migrations."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, revision)


db_cli = AppGroup("db", help="The app database.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the migrations to DATABASE_URL (an empty or older database)."""
    url = _settings().database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    upgrade_database(url, revision)
    click.echo(f"database is at revision {revision}")


accounts_cli = AppGroup("accounts", help="Accounts placed by a creditor.")


def _import(placement: Path, charges: Path | None) -> None:
    with placement.open(newline="", encoding="utf-8-sig") as pfh:
        cfh = charges.open(newline="", encoding="utf-8-sig") if charges else None
        try:
            with session_scope(_settings().database_url) as session:
                report = import_accounts(
                    session,
                    pfh,
                    cfh,
                    placement_name=placement.name,
                    charges_name=charges.name if charges else "charges",
                    today=date.today(),
                )
        except ImportFailed as exc:
            for error in exc.errors:
                click.echo(f"error: {error}", err=True)
            raise click.ClickException(
                f"{len(exc.errors)} bad row(s); nothing was imported"
            ) from None
        finally:
            if cfh:
                cfh.close()
    click.echo(
        f"accounts: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged; charges: {report.charges_added} added, "
        f"{report.charges_existing} already present"
    )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)


@accounts_cli.command("import")
@click.argument("placement", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--charges", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def accounts_import(placement: Path, charges: Path | None) -> None:
    """Load PLACEMENT.csv (and its charges). Re-importing updates; a bad row loads nothing."""
    _import(placement, charges)


users_cli = AppGroup("users", help="Staff users and API tokens.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.password_option(help="Prompted for when not given.")
def users_create(email: str, role: str, password: str) -> None:
    """Create a staff user with a role."""
    try:
        with session_scope(_settings().database_url) as session:
            user = create_user(session, email, Role(role), password)
            click.echo(f"created {user.email} ({user.role})")
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None


@users_cli.command("token")
@click.argument("email")
def users_token(email: str) -> None:
    """Issue an API token for EMAIL. It is printed once; only its hash is stored."""
    try:
        with session_scope(_settings().database_url) as session:
            token = issue_token(session, email)
    except ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(token)


demo_cli = AppGroup("demo", help="Demo data for trying the product.")


@demo_cli.command("load")
def demo_load() -> None:
    """Load the demo accounts and staff users (idempotent)."""
    _import(DEMO_DIR / "placement.csv", DEMO_DIR / "charges.csv")
    with session_scope(_settings().database_url) as session:
        for email, role in DEMO_STAFF:
            if get_user(session, email) is None:
                create_user(session, email, role, DEMO_PASSWORD)
                click.echo(f"demo user {email} ({role.value}) / {DEMO_PASSWORD}")
        settings = _settings()
        agent = get_user(session, DEMO_STAFF[0][0])
        assert agent is not None  # created just above
        written = load_demo_history(
            session,
            now=utcnow(),
            today=date.today(),
            policy=load_policy(settings.policy_file),
            agent=agent,
            values={"company_name": settings.company_name, "support_phone": settings.support_phone},
        )
        if written:
            click.echo(f"demo conversations: {written} past conversations written")


def register(app: Flask) -> None:
    from bot.cli_outbox import outbox_cli
    from bot.cli_outreach import outreach_cli
    from bot.cli_transcripts import retention_cli, transcripts_cli

    for group in (
        db_cli,
        accounts_cli,
        users_cli,
        demo_cli,
        outbox_cli,
        outreach_cli,
        transcripts_cli,
        retention_cli,
    ):
        app.cli.add_command(group)
