"""`flask demo load` gives a new user a week of past conversations to review: real flags, a
real check hit to practise on, intact chains, and nothing sent to anyone."""

from __future__ import annotations

from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Account, Conversation, Dispute, Message
from bot.services import transcripts
from bot.services.holds import account_hold_reasons


def test_demo_load_writes_reviewable_history_once(session: Session, runner: FlaskCliRunner) -> None:
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "demo conversations: 4 past conversations written" in first.output
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0, again.output
    assert "demo conversations" not in again.output
    assert session.scalar(select(func.count(Conversation.id))) == 4

    page = transcripts.search(session, transcripts.SearchFilters())
    by_ref = {item.account_ref: item for item in page.items}
    assert by_ref["ACC-100234"].flags == ["plan"]
    assert by_ref["ACC-100512"].flags == ["dispute"]
    assert by_ref["ACC-100777"].flags == ["handoff"]
    assert by_ref["ACC-100901"].flags == ["opt_out"]
    # The one deliberate bad example, and only it.
    hits = {(item.account_ref, finding.check) for item in page.items for finding in item.findings}
    assert hits == {("ACC-100901", "threatening_language")}
    # History only: nothing waits in the outbox to be texted to the demo numbers.
    assert session.scalar(select(func.count()).where(Message.status == "queued")) == 0

    # James's dispute had its verification sent: his account is collectible again, so the
    # settlement the README promises for him is offered, not refused as on hold.
    james = session.scalar(select(Account).where(Account.account_ref == "ACC-100512"))
    assert james is not None
    dispute = session.scalar(select(Dispute).where(Dispute.account_id == james.id))
    assert dispute is not None and dispute.status == "verification_sent"
    assert account_hold_reasons(session, james.id) == frozenset()

    verify = runner.invoke(args=["transcripts", "verify"])
    assert verify.exit_code == 0, verify.output
