"""`flask --app webhook_app outreach run [--dry-run] [--loop --interval SECONDS]`: the outreach
scheduler (reminders, missed-payment follow-ups, welcomes, surveys; see bot.services.outreach).
It only queues: the outbox worker (`outbox run`) sends, asking the contact rules again."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from bot.config import Settings
from bot.db import session_factory, utcnow
from bot.services import outreach
from bot.services.policy import load_policy

log = logging.getLogger(__name__)

outreach_cli = AppGroup("outreach", help="Messages the system starts: the scheduler.")


def _settings() -> Settings:
    return current_app.extensions["settings"]


def _values(settings: Settings) -> dict[str, str]:
    return {"company_name": settings.company_name, "support_phone": settings.support_phone}


def _dry_run(settings: Settings, now: datetime) -> None:
    policy = load_policy(settings.policy_file)
    with session_factory(settings.database_url)() as session:
        for item in outreach.overdue(session, now, policy):
            click.echo(
                f"would mark {item.kind} {item.id} of {item.account.account_ref} "
                f"{'missed' if item.kind == 'installment' else 'broken'}: due "
                f"{item.due_on.isoformat()}, not paid"
            )
        candidates = outreach.plan(
            session, now, policy, _values(settings), third_party=settings.third_party
        )
        for candidate in candidates:
            click.echo(outreach.describe(candidate))
        session.rollback()  # a dry run writes nothing
    going = sum(1 for c in candidates if c.skip_reason is None)
    click.echo(f"dry run: {going} would be queued, {len(candidates) - going} skipped")


def _pass(settings: Settings, now: datetime) -> outreach.Report:
    with session_factory(settings.database_url)() as session:
        return outreach.run(
            session,
            now,
            load_policy(settings.policy_file),
            _values(settings),
            third_party=settings.third_party,
        )


@outreach_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Print what would be queued and why; queue nothing.")
@click.option("--loop", is_flag=True, help="Run a pass every --interval seconds until Ctrl-C.")
@click.option("--interval", default=300.0, show_default=True, help="Seconds between passes.")
def outreach_run(dry_run: bool, loop: bool, interval: float) -> None:
    """Queue the reminders, follow-ups, welcomes and surveys due now (one pass by default)."""
    settings = _settings()
    if dry_run:
        _dry_run(settings, utcnow())
        return
    if not loop:
        click.echo(_pass(settings, utcnow()).summary())
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())  # a process manager's stop
    click.echo(f"outreach scheduler: a pass every {interval:g} s (Ctrl-C stops)", err=True)
    try:
        while not stop.is_set():
            started = utcnow()
            try:
                click.echo(f"{started:%Y-%m-%d %H:%M:%S} UTC {_pass(settings, started).summary()}")
            except Exception:  # the database went away, say: log it and try again next pass
                log.exception("outreach pass failed")
            stop.wait(interval)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo("outreach scheduler stopped", err=True)
