"""A few past conversations for the demo accounts, so that a new user opening the compliance
pages, the dashboard or the agent console sees what a working week looks like. Written through
the same services the assistant uses, so flags, events, holds and the hash chain are real.

One of them is a deliberate bad example (an agent's threatening message), so that a reviewer
trying the product sees what an automatic check hit looks like. Demo data only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain.contact import Channel
from bot.domain.plans import PlanPolicy
from bot.domain.verification import Answers
from bot.models import Account, Conversation, Message, StaffUser
from bot.services import handoff, plans, verification
from bot.services.cases import DisputeReason, open_dispute, record_verification_sent
from bot.services.consent import ConsentAction, record_consent
from bot.wording import render

DEMO_MARKER_REF = "ACC-100234"


@dataclass
class _Chat:
    session: Session
    conversation: Conversation
    at: datetime
    values: dict[str, str]
    last_in: int | None = None

    def step(self, minutes: float = 1) -> datetime:
        self.at += timedelta(minutes=minutes)
        return self.at

    def debtor(self, text: str, minutes: float = 1) -> Message:
        message = self._add("in", "debtor", text, minutes, status="processed")
        self.last_in = message.id
        return message

    def bot(self, text: str, minutes: float = 0.1, **kw: object) -> Message:
        return self._add("out", "bot", text, minutes, reply_to_id=self.last_in, **kw)

    def agent(self, agent: StaffUser, text: str, minutes: float = 1) -> Message:
        return self._add("out", "agent", text, minutes, agent_id=agent.id)

    def _add(self, direction: str, sender: str, text: str, minutes: float, **kw: object) -> Message:
        at = self.step(minutes)
        status = kw.pop("status", "delivered" if self.conversation.channel == "sms" else "sent")
        message = Message(
            conversation_id=self.conversation.id, direction=direction, sender=sender,
            channel=self.conversation.channel, text=text, status=status, created_at=at,
            sent_at=at if direction == "out" else None, **kw,
        )  # fmt: skip
        self.session.add(message)
        self.conversation.last_message_at = at
        self.session.flush()
        return message


def _start(
    session: Session, account: Account, channel: str, at: datetime, values: dict[str, str]
) -> _Chat:
    conversation = Conversation(
        id=os.urandom(16).hex(), channel=channel,
        address=account.phone if channel == "sms" and account.phone else os.urandom(8).hex(),
        account_id=account.id, status="closed", started_at=at, last_message_at=at,
    )  # fmt: skip
    session.add(conversation)
    session.flush()
    return _Chat(session, conversation, at, values)


def _verify(chat: _Chat, account: Account, answers: Answers) -> None:
    verification.attempt(chat.session, chat.conversation, answers, now=chat.step(0.1))
    chat.bot(render("utter_verified", first_name=account.first_name))


def load_demo_history(
    session: Session,
    *,
    now: datetime,
    today: date,
    policy: PlanPolicy,
    agent: StaffUser,
    values: dict[str, str],
) -> int:
    """Write the demo conversations once (nothing when they are there). How many written."""
    accounts = {a.account_ref: a for a in session.scalars(select(Account))}
    maria = accounts.get(DEMO_MARKER_REF)
    if maria is None or session.scalar(
        select(Conversation.id).where(Conversation.account_id == maria.id).limit(1)
    ):
        return 0
    scripts: list[Callable[[], None]] = []

    def day(days_ago: int, hour_utc: int) -> datetime:
        return (now - timedelta(days=days_ago)).replace(
            hour=hour_utc, minute=7, second=0, microsecond=0
        )

    def maria_plan() -> None:
        chat = _start(session, maria, "sms", day(6, 20), values)
        chat.debtor("hi i got a letter about my account, can i set up payments")
        chat.bot(render("utter_greet", **values) + " Reply STOP to opt out.")
        chat.debtor("my birthday is march 12 1984 and zip 98103")
        _verify(chat, maria, Answers(date_of_birth=date(1984, 3, 12), zip="98103"))
        options = plans.plan_options(session, maria, today=today, policy=policy)
        if options:
            chat.bot("Here are some plans you could choose from. Reply with a number.")
            chat.debtor("2", minutes=2)
            option = options[min(1, len(options) - 1)]
            plans.accept_plan(
                session, maria, option, today=today, now=chat.step(0.1), actor="bot",
                conversation_id=chat.conversation.id,
            )  # fmt: skip
            chat.bot("Done. Your plan is set up; we'll text a reminder before each payment.")
        chat.debtor("thank you!!")

    def james_dispute() -> None:
        james = accounts.get("ACC-100512")
        if james is None:
            return
        chat = _start(session, james, "web", day(4, 17), values)
        chat.debtor("ACC-100512")
        chat.bot(render("utter_greet", **values))
        chat.debtor("11/30/1979, last four 4321")
        _verify(chat, james, Answers(date_of_birth=date(1979, 11, 30), ssn_last4="4321"))
        chat.debtor("that amount is wrong, i never agreed to the interest. i'm disputing it")
        # James's placement has no charges history, so the dispute is on the whole debt: the
        # account is on hold (rule 14) until verification is recorded as sent, two days later,
        # which ends the hold (collection, and the settlement offer, resume).
        dispute = open_dispute(
            session, james, DisputeReason.WRONG_AMOUNT, actor="debtor", now=chat.step(0.2),
            detail="interest not agreed", conversation_id=chat.conversation.id,
        )  # fmt: skip
        chat.bot(
            f"I've recorded your dispute, reference {dispute.reference}. Your account is on hold "
            "while we check it; we'll send you what we find within 30 days."
        )
        record_verification_sent(session, dispute, actor=f"agent:{agent.id}", now=day(2, 15))

    def aisha_person() -> None:
        aisha = accounts.get("ACC-100777")
        if aisha is None:
            return
        chat = _start(session, aisha, "sms", day(2, 22), values)
        chat.debtor("I want to talk to a real person please")
        chat.bot(render("utter_handoff_human") + " Reply STOP to opt out.", purpose="compliance")
        item = handoff.request_handoff(
            session, chat.conversation, handoff.HandoffReason.HUMAN_REQUEST, now=chat.step(0.1)
        )
        handoff.claim(session, item.id, agent.id, now=chat.step(4))
        chat.agent(agent, "Hi Aisha, this is Sam from the accounts team. How can I help?")
        chat.debtor("my hours got cut, can the payments be smaller for a few months", minutes=3)
        chat.agent(agent, "I'm sorry to hear that. I can set up a smaller plan; I'll text options.")
        handoff.add_note(session, item.id, agent.id, "Reduced hours; offer hardship plan.",
                         now=chat.step(1))  # fmt: skip
        handoff.close(session, item.id, agent.id, now=chat.step(1))

    def robert_stop() -> None:
        robert = accounts.get("ACC-100901")
        if robert is None:
            return
        chat = _start(session, robert, "sms", day(8, 23), values)
        chat.debtor("who is this")
        chat.bot(render("utter_ask_who", **values) + " Reply STOP to opt out.")
        chat.debtor("i told you i would pay friday", minutes=30)
        # A deliberate bad example for reviewers: the threatening-language check flags it.
        chat.agent(agent, "If you don't pay by Friday we will report you to the credit bureaus.")
        chat.debtor("STOP", minutes=2)
        record_consent(
            session, robert.phone or "", Channel.SMS, ConsentAction.OPT_OUT, source="keyword",
            account_id=robert.id, conversation_id=chat.conversation.id, now=chat.step(0.1),
        )  # fmt: skip
        chat.bot(render("utter_opt_out_confirmed", **values), purpose="compliance")

    scripts += [robert_stop, maria_plan, james_dispute, aisha_person]
    for script in scripts:
        script()
    return len(scripts)
