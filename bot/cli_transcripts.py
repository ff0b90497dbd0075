"""`flask --app webhook_app transcripts verify` (tamper evidence) and
`flask --app webhook_app retention purge [--dry-run]` (rule 20)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from bot.config import Settings
from bot.db import session_factory, session_scope, utcnow
from bot.services import retention
from bot.services.audit import AuditAction, audit
from bot.services.integrity import verify_all

transcripts_cli = AppGroup("transcripts", help="Stored transcripts: tamper evidence.")
retention_cli = AppGroup("retention", help="Record retention (kept 3 years after last activity).")


def _settings() -> Settings:
    return current_app.extensions["settings"]


@transcripts_cli.command("verify")
@click.option("--conversation", "conversation_ids", multiple=True, help="Only this one (repeat).")
def transcripts_verify(conversation_ids: tuple[str, ...]) -> None:
    """Recompute every conversation's hash chain; name each one changed behind the app's back.
    Exits 1 when any is."""
    sessions = session_factory(_settings().database_url)
    checked = entries = 0
    broken: list[str] = []
    with sessions() as session:
        for report in verify_all(session, conversation_ids or None):
            checked += 1
            entries += report.entries
            if not report.intact:
                broken.append(report.conversation_id)
                click.echo(f"TAMPERED conversation {report.conversation_id}:")
                for problem in report.problems:
                    click.echo(f"  - {problem}")
            if checked % 1000 == 0:
                click.echo(f"... {checked} conversations checked", err=True)
    click.echo(
        f"{checked} conversations, {entries} messages and events checked: "
        + (f"{len(broken)} changed outside the app" if broken else "every chain intact")
    )
    if broken:
        raise SystemExit(1)


@retention_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option(
    "--years",
    default=retention.MIN_YEARS,
    show_default=True,
    type=click.IntRange(min=retention.MIN_YEARS),
    help="Keep transcripts this long after the account's last activity (at least 3).",
)
def retention_purge(dry_run: bool, years: int) -> None:
    """Remove transcripts whose account has had no activity for YEARS years."""
    now = utcnow()
    with session_scope(_settings().database_url) as session:
        cutoff = retention.cutoff(now, years)
        expired = retention.expired(session, now, years)
        verb = "would remove" if dry_run else "removing"
        for item in expired:
            click.echo(
                f"{verb} conversation {item.conversation_id} "
                f"(account {item.account_ref or '-'}, {item.messages} messages, "
                f"last activity {item.last_activity.date().isoformat()})"
            )
        messages = sum(item.messages for item in expired)
        if dry_run:
            click.echo(
                f"dry run: {len(expired)} conversations ({messages} messages) with no activity "
                f"since {cutoff.date().isoformat()} would be removed; nothing was removed"
            )
            return
        removed = retention.purge(session, [item.conversation_id for item in expired])
        audit(
            session,
            AuditAction.RETENTION_PURGE,
            actor="cli",
            detail={"conversations": removed, "messages": messages, "cutoff": cutoff.isoformat()},
        )
    click.echo(f"removed {removed} conversations ({messages} messages) older than the cutoff")
