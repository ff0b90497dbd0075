"""The automatic compliance checks on a real database: for each check, a conversation that
breaks its rule (the finding names the message and the rule) and a similar one that does not;
bulk loading; and what the product itself does, through the gateway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.domain.contact import HoldReason
from bot.gateway.pipeline import Gateway
from bot.gateway.rasa_client import RasaClient
from bot.gateway.turns import Inbound
from bot.models import Account, ConsentEvent, Conversation, Handoff, Hold, Message
from bot.services.compliance_checks import (
    CHECKS,
    CHECKS_BY_CODE,
    Finding,
    count_by_check,
    run_checks,
)
from bot.services.events import EventKind, record_event
from bot.services.handoff import HandoffReason, request_handoff
from tests.conftest import make_account, make_conversation
from tests.integration.factories import make_staff_user

pytestmark = pytest.mark.integration

COMPANY = "Evergreen Health Billing"
# 2026-11-23 18:30 UTC: 10:30 in Seattle (PST), 13:30 in Atlanta (EST). A Monday.
T0 = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)
GREETING = (
    "Hi, this is the automated assistant for Evergreen Health Billing. I can help with your "
    "account. To protect your privacy, I need to confirm who you are before we go on."
    "\nReply STOP to opt out."
)
CONFIRMATION = (
    "You're unsubscribed and won't get more texts from us. Reply START to resubscribe. "
    "For anything else, call (800) 555-0199."
)


def add(
    session: Session,
    conversation: Conversation,
    direction: str,
    text: str,
    at: datetime,
    *,
    sender: str | None = None,
    status: str | None = None,
    reply_to: Message | None = None,
    **fields: Any,
) -> Message:
    """A message in or out at `at` (outbound ones sent then)."""
    out = direction == "out"
    message = Message(
        conversation_id=conversation.id,
        direction=direction,
        sender=sender or ("bot" if out else "debtor"),
        channel=conversation.channel,
        text=text,
        status=status or ("sent" if out else "processed"),
        reply_to_id=reply_to.id if reply_to else None,
        created_at=at,
        sent_at=at if out and (status or "sent") in ("sent", "delivered") else None,
        **fields,
    )
    session.add(message)
    session.flush()
    return message


def consent(
    session: Session,
    address: str,
    action: str,
    at: datetime,
    *,
    channel: str = "sms",
    account: Account | None = None,
) -> None:
    session.add(
        ConsentEvent(
            address=address,
            channel=channel,
            action=action,
            account_id=account.id if account else None,
            source="keyword",
            created_at=at,
        )
    )
    session.flush()


def check(session: Session, conversation: Conversation, code: str) -> list[Finding]:
    findings = run_checks(session, [conversation.id], company_name=COMPANY)[conversation.id]
    return [f for f in findings if f.check == code]


def only(findings: list[Finding], message: Message | None, code: str) -> Finding:
    assert len(findings) == 1, findings
    finding = findings[0]
    assert finding.check == code
    assert finding.rule == CHECKS_BY_CODE[code].rule
    assert finding.message_id == (message.id if message else None)
    return finding


def verify(session: Session, conversation: Conversation, at: datetime) -> None:
    conversation.verified_at = at
    record_event(
        session,
        EventKind.VERIFICATION_PASSED,
        actor="debtor",
        conversation_id=conversation.id,
        account_id=conversation.account_id,
        at=at,
    )


# ---------------------------------------------------------------------------- interface


def test_every_check_has_a_stable_code_and_rule() -> None:
    assert [c.code for c in CHECKS] == [
        "contact_window",
        "after_opt_out",
        "disclosure_before_verification",
        "payment_request_on_hold",
        "missing_opt_out_line",
        "human_request_ignored",
        "threatening_language",
    ]
    assert [c.rule for c in CHECKS] == ["12", "10", "1", "14", "5", "17", "8"]


def test_a_clean_conversation_and_an_unknown_id_have_no_findings(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    hello = add(session, conv, "in", "hi", T0)
    add(session, conv, "out", GREETING, T0, reply_to=hello)
    assert run_checks(session, [conv.id, "nope"], company_name=COMPANY) == {
        conv.id: [],
        "nope": [],
    }


# ---------------------------------------------------------------------------- rule 12


def test_contact_window_flags_a_message_we_started_before_8_in_one_of_two_zones(
    session: Session,
) -> None:
    # Lives in Washington (Pacific), phone from Atlanta (Eastern): 8:30 in Atlanta is 5:30 in
    # Seattle, outside the window there.
    account = make_account(session, phone="+14045550178", phone_zones="America/New_York")
    conv = make_conversation(session, account)
    early = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)
    reminder = add(
        session,
        conv,
        "out",
        "A reminder. Reply STOP to opt out.",
        early,
        initiated=True,
        sender="system",
        purpose="collection",
    )
    finding = only(check(session, conv, "contact_window"), reminder, "contact_window")
    assert "05:30 America/Los_Angeles" in finding.detail
    assert "New_York" not in finding.detail


def test_contact_window_accepts_the_hours_inside_both_zones_and_replies_at_night(
    session: Session,
) -> None:
    account = make_account(session, phone="+14045550178", phone_zones="America/New_York")
    conv = make_conversation(session, account)
    add(session, conv, "out", "A reminder. Reply STOP to opt out.", T0, initiated=True)
    night = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 20:00 Seattle, 23:00 Atlanta
    asked = add(session, conv, "in", "what do I owe?", night)
    add(session, conv, "out", "Let me check.", night, reply_to=asked)
    assert check(session, conv, "contact_window") == []


def test_contact_window_ends_at_21_exactly(session: Session, account: Account) -> None:
    conv = make_conversation(session, account)
    nine_pm = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 21:00 in Seattle
    late = add(session, conv, "out", "Hi. Reply STOP to opt out.", nine_pm, initiated=True)
    add(
        session,
        conv,
        "out",
        "Hi. Reply STOP to opt out.",
        nine_pm - timedelta(minutes=1),
        initiated=True,
    )
    only(check(session, conv, "contact_window"), late, "contact_window")


def test_contact_window_without_an_account_uses_the_area_code(session: Session) -> None:
    conv = make_conversation(session, None, address="+12065550199")
    seven_am = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 7:00 Seattle
    sent = add(session, conv, "out", "Hi. Reply STOP to opt out.", seven_am, initiated=True)
    only(check(session, conv, "contact_window"), sent, "contact_window")


def test_contact_window_ignores_what_never_went_out(session: Session, account: Account) -> None:
    conv = make_conversation(session, account)
    night = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    add(session, conv, "out", "Hi. Reply STOP to opt out.", night, initiated=True, status="blocked")
    add(session, conv, "out", "Hi. Reply STOP to opt out.", night, initiated=True, status="queued")
    assert check(session, conv, "contact_window") == []


# ---------------------------------------------------------------------------- rule 10


def _stopped(session: Session, account: Account) -> tuple[Conversation, Message, Message]:
    """STOP as the gateway handles it: the opt-out and its one confirmation, same instant."""
    conv = make_conversation(session, account)
    hello = add(session, conv, "in", "hi", T0)
    add(session, conv, "out", GREETING, T0, reply_to=hello)
    stop = add(session, conv, "in", "STOP", T0 + timedelta(minutes=1))
    consent(session, conv.address, "opt_out", stop.created_at, account=account)
    confirmation = add(
        session, conv, "out", CONFIRMATION, stop.created_at, reply_to=stop, purpose="compliance"
    )
    return conv, stop, confirmation


def test_after_opt_out_accepts_the_one_confirmation_help_and_crisis_resources(
    session: Session, account: Account
) -> None:
    conv, _, _ = _stopped(session, account)
    at = T0 + timedelta(minutes=5)
    help_ = add(session, conv, "in", "HELP", at)
    add(
        session,
        conv,
        "out",
        "Evergreen Health Billing account assistant. For help call "
        "(800) 555-0199. Reply STOP to opt out.",
        at,
        reply_to=help_,
        purpose="compliance",
    )
    distress = add(session, conv, "in", "I want to end it all", at + timedelta(minutes=1))
    add(
        session,
        conv,
        "out",
        "Please call or text 988.",
        distress.created_at,
        reply_to=distress,
        purpose="compliance",
    )
    add(session, conv, "out", "Blocked reply", at, reply_to=help_, status="blocked")
    start = add(session, conv, "in", "START", at + timedelta(minutes=2))
    consent(session, conv.address, "opt_in", start.created_at, account=account)
    add(
        session,
        conv,
        "out",
        "You're subscribed again.",
        start.created_at,
        reply_to=start,
        purpose="compliance",
    )
    add(session, conv, "out", "Anything else?", start.created_at + timedelta(minutes=1))
    assert check(session, conv, "after_opt_out") == []


def test_after_opt_out_flags_an_agent_message_after_stop(
    session: Session, account: Account
) -> None:
    conv, _, _ = _stopped(session, account)
    agent = make_staff_user(session)
    follow_up = add(
        session,
        conv,
        "out",
        "Hi Maria, are you still there?",
        T0 + timedelta(hours=1),
        sender="agent",
        agent_id=agent.id,
    )
    finding = only(check(session, conv, "after_opt_out"), follow_up, "after_opt_out")
    assert finding.detail.startswith("agent message")
    assert "opted out" in finding.detail


def test_after_opt_out_flags_a_second_confirmation(session: Session, account: Account) -> None:
    conv, _, _ = _stopped(session, account)
    again = add(session, conv, "in", "STOP", T0 + timedelta(minutes=3))
    second = add(
        session, conv, "out", CONFIRMATION, again.created_at, reply_to=again, purpose="compliance"
    )
    only(check(session, conv, "after_opt_out"), second, "after_opt_out")


def test_after_opt_out_accepts_the_assistants_confirmation_of_a_plain_language_stop(
    session: Session, account: Account
) -> None:
    # The model caught it (action_stop_contact): the opt-out is recorded during the turn and
    # the confirmation, a general reply, comes after it.
    conv = make_conversation(session, account)
    asked = add(session, conv, "in", "please quit messaging me", T0)
    consent(session, conv.address, "opt_out", T0 + timedelta(seconds=1), account=account)
    add(session, conv, "out", CONFIRMATION, T0 + timedelta(seconds=2), reply_to=asked)
    assert check(session, conv, "after_opt_out") == []


def test_after_opt_out_follows_the_number_into_a_later_conversation(
    session: Session, account: Account
) -> None:
    _stopped(session, account)
    later = make_conversation(session, account)
    reminder = add(
        session,
        later,
        "out",
        "A reminder. Reply STOP to opt out.",
        T0 + timedelta(days=2),
        initiated=True,
        sender="system",
    )
    only(check(session, later, "after_opt_out"), reminder, "after_opt_out")


def test_after_cease_nothing_goes_on_any_channel(session: Session, account: Account) -> None:
    web = make_conversation(session, account, channel="web", address="web-session-1")
    consent(session, account.phone or "", "cease", T0, channel="all", account=account)
    asked = add(session, web, "in", "what is my balance", T0 + timedelta(minutes=10))
    reply = add(
        session, web, "out", "Let me look.", asked.created_at, reply_to=asked, status="delivered"
    )
    finding = only(check(session, web, "after_opt_out"), reply, "after_opt_out")
    assert "ceased" in finding.detail


def test_after_opt_out_of_another_number_does_not_count(session: Session, account: Account) -> None:
    conv = make_conversation(session, account)
    consent(session, "+12065550999", "opt_out", T0 - timedelta(days=1))
    add(session, conv, "out", "Hi. Reply STOP to opt out.", T0, initiated=True)
    assert check(session, conv, "after_opt_out") == []


# ---------------------------------------------------------------------------- rule 1

BALANCE = "Your balance with Evergreen Health is $1,369.37 as of Nov 23."


def test_disclosure_before_verification_flags_the_balance_to_an_unverified_person(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    asked = add(session, conv, "in", "how much do i owe", T0)
    add(session, conv, "out", GREETING, T0, reply_to=asked)
    told = add(session, conv, "out", BALANCE, T0, reply_to=asked)
    finding = only(
        check(session, conv, "disclosure_before_verification"),
        told,
        "disclosure_before_verification",
    )
    assert "'$1,369.37'" in finding.detail
    assert "'Evergreen Health'" in finding.detail


def test_disclosure_after_verification_is_fine(session: Session, account: Account) -> None:
    conv = make_conversation(session, account)
    asked = add(session, conv, "in", "how much do i owe", T0)
    add(session, conv, "out", GREETING, T0, reply_to=asked)
    verify(session, conv, T0 + timedelta(minutes=1))
    add(session, conv, "out", BALANCE, T0 + timedelta(minutes=1, seconds=2), reply_to=asked)
    assert check(session, conv, "disclosure_before_verification") == []


def test_disclosure_after_the_verification_expired_is_flagged(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    verify(session, conv, T0)
    agent = make_staff_user(session)
    late = add(
        session,
        conv,
        "out",
        "You still owe $50.",
        T0 + timedelta(hours=5),
        sender="agent",
        agent_id=agent.id,
    )
    only(
        check(session, conv, "disclosure_before_verification"),
        late,
        "disclosure_before_verification",
    )


def test_disclosure_counts_each_verification_not_only_the_latest(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    verify(session, conv, T0)
    add(session, conv, "out", BALANCE, T0 + timedelta(minutes=1))
    verify(session, conv, T0 + timedelta(hours=5))  # verified_at now says 23:30
    add(session, conv, "out", BALANCE, T0 + timedelta(hours=5, minutes=1))
    assert check(session, conv, "disclosure_before_verification") == []


# ---------------------------------------------------------------------------- rule 14


def _hold(session: Session, account: Account, at: datetime, **fields: Any) -> Hold:
    hold = Hold(
        account_id=account.id,
        reason=HoldReason.DISPUTE.value,
        created_by="bot",
        created_at=at,
        **fields,
    )
    session.add(hold)
    session.flush()
    return hold


def test_payment_link_during_a_hold_names_the_reply_that_carried_it(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    _hold(session, account, T0 - timedelta(days=1))
    asked = add(session, conv, "in", "I want to pay", T0)
    record_event(
        session,
        EventKind.PAYMENT_LINK,
        actor="bot",
        conversation_id=conv.id,
        account_id=account.id,
        at=T0 + timedelta(seconds=1),
    )
    link = add(
        session,
        conv,
        "out",
        "You can pay securely here: https://x/pay/abc",
        T0 + timedelta(seconds=2),
        reply_to=asked,
    )
    finding = only(check(session, conv, "payment_request_on_hold"), link, "payment_request_on_hold")
    assert "payment link" in finding.detail
    assert "dispute hold" in finding.detail


def test_collection_reminder_during_a_hold_is_flagged(session: Session, account: Account) -> None:
    conv = make_conversation(session, account)
    _hold(session, account, T0 - timedelta(days=1))
    reminder = add(
        session,
        conv,
        "out",
        "Your payment is due Friday. Reply STOP to opt out.",
        T0,
        initiated=True,
        sender="system",
        purpose="collection",
    )
    only(check(session, conv, "payment_request_on_hold"), reminder, "payment_request_on_hold")


def test_payment_requests_outside_a_hold_or_under_a_charge_hold_are_fine(
    session: Session, account: Account
) -> None:
    from tests.integration.factories import make_charges

    charge = make_charges(session, account)[0]
    conv = make_conversation(session, account)
    _hold(session, account, T0 - timedelta(days=2), released_at=T0 - timedelta(days=1))
    _hold(session, account, T0 - timedelta(days=1), charge_id=charge.id)  # one charge only
    record_event(
        session,
        EventKind.PLAN_OFFERED,
        actor="bot",
        conversation_id=conv.id,
        account_id=account.id,
        at=T0,
    )
    add(session, conv, "out", "Here are options for your balance.", T0)
    add(
        session,
        conv,
        "out",
        "Reminder. Reply STOP to opt out.",
        T0,
        initiated=True,
        purpose="collection",
    )
    assert check(session, conv, "payment_request_on_hold") == []


def test_a_reply_or_an_agent_asking_for_payment_during_a_hold_is_flagged(
    session: Session, account: Account
) -> None:
    """What the assistant said to a held account before 0f69059 (a general-purpose reply),
    and an agent's own words: both ask for payment, neither is a collection message."""
    conv = make_conversation(session, account)
    _hold(session, account, T0 - timedelta(days=1))
    asked = add(session, conv, "in", "how much do I owe", T0)
    bot = add(
        session, conv, "out",
        "Your balance with Evergreen Health is $502.50 as of Monday, Dec 7.\n"
        "Would you like to see what makes up this amount, set up a payment plan, or pay now?",
        T0 + timedelta(seconds=1), reply_to=asked,
    )  # fmt: skip
    add(session, conv, "out", "Your account is on hold while we look into it, so we won't ask "
        "for any payment for now.", T0 + timedelta(seconds=2))  # fmt: skip
    agent = add(
        session, conv, "out", "Can you make a payment today?", T0 + timedelta(minutes=5),
        sender="agent",
    )  # fmt: skip

    findings = check(session, conv, "payment_request_on_hold")

    assert [f.message_id for f in findings] == [bot.id, agent.id]
    assert "a payment request ('pay now')" in findings[0].detail
    assert "a payment request ('make a payment')" in findings[1].detail
    assert all("dispute hold" in f.detail for f in findings)


def test_a_general_message_during_a_hold_is_fine(session: Session, account: Account) -> None:
    conv = make_conversation(session, account)
    _hold(session, account, T0 - timedelta(days=1))
    add(session, conv, "out", "Your account is on hold while we look into it.", T0)
    assert check(session, conv, "payment_request_on_hold") == []


# ---------------------------------------------------------------------------- rule 5


def test_first_sms_reply_without_the_opt_out_line_is_flagged(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    hello = add(session, conv, "in", "hi", T0)
    first = add(session, conv, "out", "Hi, this is the automated assistant.", T0, reply_to=hello)
    add(session, conv, "out", "What is your date of birth?", T0, reply_to=hello)
    only(check(session, conv, "missing_opt_out_line"), first, "missing_opt_out_line")


def test_first_sms_reply_with_the_line_and_later_replies_without_it_are_fine(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    hello = add(session, conv, "in", "hi", T0)
    add(session, conv, "out", "Blocked first try", T0, reply_to=hello, status="blocked")
    add(session, conv, "out", GREETING, T0, reply_to=hello)
    add(session, conv, "out", "What is your date of birth?", T0, reply_to=hello)
    assert check(session, conv, "missing_opt_out_line") == []


def test_a_message_we_start_without_the_opt_out_line_is_flagged(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    hello = add(session, conv, "in", "hi", T0)
    add(session, conv, "out", GREETING, T0, reply_to=hello)
    agent = make_staff_user(session)
    follow_up = add(
        session,
        conv,
        "out",
        "Hi Maria, following up on our chat.",
        T0 + timedelta(days=1),
        sender="agent",
        agent_id=agent.id,
        initiated=True,
    )
    only(check(session, conv, "missing_opt_out_line"), follow_up, "missing_opt_out_line")


def test_web_chat_promises_no_stop_keyword(session: Session, account: Account) -> None:
    conv = make_conversation(session, account, channel="web", address="web-session-2")
    hello = add(session, conv, "in", "hi", T0)
    add(
        session,
        conv,
        "out",
        "Hi, this is the automated assistant.",
        T0,
        reply_to=hello,
        status="delivered",
    )
    assert check(session, conv, "missing_opt_out_line") == []


def test_the_opt_out_confirmation_as_first_reply_needs_no_opt_out_line(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    stop = add(session, conv, "in", "STOP", T0)
    consent(session, conv.address, "opt_out", T0, account=account)
    add(session, conv, "out", CONFIRMATION, T0, reply_to=stop, purpose="compliance")
    assert check(session, conv, "missing_opt_out_line") == []


# ---------------------------------------------------------------------------- rule 17


def test_a_request_for_a_person_without_a_handoff_is_flagged(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    asked = add(session, conv, "in", "can I talk to a real person please", T0)
    add(session, conv, "out", GREETING, T0, reply_to=asked)
    add(session, conv, "in", "hello??", T0 + timedelta(minutes=2))
    finding = only(check(session, conv, "human_request_ignored"), asked, "human_request_ignored")
    assert "asked for a person ('talk to a')" in finding.detail


def test_a_request_for_a_person_with_a_handoff_in_the_same_turn_is_fine(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    asked = add(session, conv, "in", "can I talk to a real person please", T0)
    request_handoff(session, conv, HandoffReason.HUMAN_REQUEST, now=T0 + timedelta(seconds=1))
    add(session, conv, "out", "Of course. Reply STOP to opt out.", T0, reply_to=asked)
    add(session, conv, "in", "thanks", T0 + timedelta(minutes=2))
    assert check(session, conv, "human_request_ignored") == []


def test_a_request_for_a_person_while_an_agent_has_it_is_fine(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    session.add(
        Handoff(
            conversation_id=conv.id,
            reason="fallback",
            status="active",
            created_at=T0 - timedelta(minutes=5),
        )
    )
    add(session, conv, "in", "I want a supervisor", T0)
    add(session, conv, "in", "now", T0 + timedelta(minutes=1))
    assert check(session, conv, "human_request_ignored") == []


def test_a_last_request_for_a_person_counts_once_the_bot_answered(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    asked = add(session, conv, "in", "transfer me to an agent", T0)
    assert check(session, conv, "human_request_ignored") == []  # the turn may be under way
    add(
        session,
        conv,
        "out",
        "What is your date of birth?",
        T0 + timedelta(seconds=1),
        reply_to=asked,
    )
    only(check(session, conv, "human_request_ignored"), asked, "human_request_ignored")


def test_a_request_for_a_person_behind_a_more_serious_reason_still_counts(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    asked = add(session, conv, "in", "my lawyer says I should speak to a supervisor", T0)
    add(session, conv, "in", "well?", T0 + timedelta(minutes=1))
    only(check(session, conv, "human_request_ignored"), asked, "human_request_ignored")


def test_ordinary_messages_are_not_requests_for_a_person(
    session: Session, account: Account
) -> None:
    conv = make_conversation(session, account)
    asked = add(session, conv, "in", "what is my balance", T0)
    add(session, conv, "out", GREETING, T0, reply_to=asked)
    add(session, conv, "in", "3/12/1984", T0 + timedelta(minutes=1))
    assert check(session, conv, "human_request_ignored") == []


# ---------------------------------------------------------------------------- rule 8


def test_an_agent_threatening_court_is_flagged(session: Session, account: Account) -> None:
    conv = make_conversation(session, account)
    verify(session, conv, T0)
    agent = make_staff_user(session)
    threat = add(
        session,
        conv,
        "out",
        "If you don't pay by Friday we will take you to court.",
        T0 + timedelta(minutes=1),
        sender="agent",
        agent_id=agent.id,
    )
    finding = only(check(session, conv, "threatening_language"), threat, "threatening_language")
    assert "take you to court" in finding.detail


def test_an_agent_reassuring_is_not_threatening(session: Session, account: Account) -> None:
    conv = make_conversation(session, account)
    verify(session, conv, T0)
    agent = make_staff_user(session)
    add(
        session,
        conv,
        "out",
        "No one will sue you, and we won't report this to the credit "
        "bureaus while the dispute is open.",
        T0 + timedelta(minutes=1),
        sender="agent",
        agent_id=agent.id,
    )
    assert check(session, conv, "threatening_language") == []


# ---------------------------------------------------------------------------- bulk


def _noisy_conversation(session: Session, account: Account, n: int) -> Conversation:
    conv = make_conversation(session, account, address=f"+1206555{n:04d}")
    asked = add(session, conv, "in", "talk to a human", T0)
    add(session, conv, "out", BALANCE, T0, reply_to=asked)
    add(session, conv, "in", "??", T0 + timedelta(minutes=1))
    return conv


def test_run_checks_loads_in_a_fixed_number_of_queries(session: Session, account: Account) -> None:
    few = [_noisy_conversation(session, account, n).id for n in range(2)]
    many = [_noisy_conversation(session, account, n).id for n in range(2, 30)]
    session.expunge_all()  # nothing cached: every row comes from the database
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        small = run_checks(session, few, company_name=COMPANY)
        queries_for_few = len(statements)
        statements.clear()
        session.expunge_all()
        large = run_checks(session, few + many, company_name=COMPANY)
        queries_for_many = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert queries_for_many == queries_for_few <= 8
    assert set(large) == set(few + many)
    assert all(
        {f.check for f in large[i]}
        == {"disclosure_before_verification", "missing_opt_out_line", "human_request_ignored"}
        for i in few + many
    )
    assert small == {i: large[i] for i in few}


def test_findings_come_in_message_order(session: Session, account: Account) -> None:
    conv = _noisy_conversation(session, account, 1)
    findings = run_checks(session, [conv.id], company_name=COMPANY)[conv.id]
    assert [f.at for f in findings] == sorted(f.at for f in findings)
    # The request (the first message), then its reply's two findings in the order of CHECKS.
    assert [f.check for f in findings] == [
        "human_request_ignored",
        "disclosure_before_verification",
        "missing_opt_out_line",
    ]


def test_count_by_check_counts_conversations(session: Session, account: Account) -> None:
    noisy = [_noisy_conversation(session, account, n).id for n in range(3)]
    clean = make_conversation(session, account, address="+12065559999")
    counts = count_by_check(session, [*noisy, clean.id], company_name=COMPANY)
    assert counts == {
        "contact_window": 0,
        "after_opt_out": 0,
        "disclosure_before_verification": 3,
        "payment_request_on_hold": 0,
        "missing_opt_out_line": 3,
        "human_request_ignored": 3,
        "threatening_language": 0,
    }


# ---------------------------------------------------------------------------- the product


@pytest.fixture
def gateway(database_url: str) -> Any:
    engine = create_engine(database_url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions.begin() as s:
        make_account(s)
    yield Gateway(
        Settings(database_url=database_url, company_name=COMPANY),
        sessions,
        RasaClient("http://127.0.0.1:9"),  # closed: the safety net needs no Rasa
    )
    engine.dispose()


def _gateway_findings(gateway: Gateway, text: str) -> list[Finding]:
    outcome = gateway.handle(
        Inbound(channel="sms", address="+12065550134", text=text, provider_sid="SM" + "1" * 32)
    )
    assert outcome.replies
    with gateway.sessions() as s:
        return run_checks(s, [outcome.conversation_id], company_name=COMPANY)[
            outcome.conversation_id
        ]


def test_gateway_stop_as_first_message_passes_every_check(gateway: Gateway) -> None:
    assert _gateway_findings(gateway, "STOP") == []


def test_gateway_request_for_a_person_as_first_message_passes_every_check(
    gateway: Gateway,
) -> None:
    assert _gateway_findings(gateway, "I want to talk to a real person") == []
