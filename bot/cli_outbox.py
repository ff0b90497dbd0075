"""`flask --app webhook_app outbox run [--once]` and `outbox stuck`: the outbox worker."""

from __future__ import annotations

import logging
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from bot.config import Settings
from bot.db import session_factory
from bot.gateway.pipeline import Gateway
from bot.services.outbox import run_worker, stuck_sending
from bot.twilio_client import sender_from_settings

outbox_cli = AppGroup("outbox", help="Outbound messages: the sending worker.")


def _settings() -> Settings:
    return current_app.extensions["settings"]


def status_callback_url(settings: Settings) -> str | None:
    """Where Twilio posts delivery status (POST /twilio/status); only with a public URL."""
    if not settings.public_base_url:
        return None
    return settings.public_base_url.rstrip("/") + "/twilio/status"


@outbox_cli.command("run")
@click.option("--once", is_flag=True, help="One pass over the due messages, then exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls.")
def outbox_run(once: bool, interval: float) -> None:
    """Send queued SMS through Twilio (or the log without an account) until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = _settings()
    sender = sender_from_settings(settings)
    click.echo(f"outbox worker: sending with {type(sender).__name__}", err=True)
    sessions = session_factory(settings.database_url)
    gateway = Gateway(settings, sessions)  # answers turns that died before their reply
    report = run_worker(
        sessions,
        sender,
        once=once,
        poll_interval=interval,
        status_callback_url=status_callback_url(settings),
        before_pass=gateway.answer_unfinished,
    )
    click.echo(
        f"sent {report.sent}, retried {report.retried}, failed {report.failed}, "
        f"blocked {report.blocked}, deferred {report.deferred}"
    )


@outbox_cli.command("stuck")
@click.option("--minutes", default=10, show_default=True, help="In 'sending' longer than this.")
def outbox_stuck(minutes: int) -> None:
    """List messages left in 'sending' by a crashed worker (a person decides: never resent)."""
    with session_factory(_settings().database_url)() as session:
        rows = stuck_sending(session, timedelta(minutes=minutes))
        for m in rows:
            click.echo(
                f"{m.id}\tconversation {m.conversation_id}\tattempts {m.attempts}\t"
                f"since {m.status_updated_at}\t{m.text[:60]!r}"
            )
        click.echo(f"{len(rows)} stuck message(s)")
