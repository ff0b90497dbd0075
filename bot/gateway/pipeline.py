"""One inbound message, in order (DESIGN.md): store once, redact, keywords and opt-outs,
safety net, handoff routing, Rasa with a deadline, outbound rules. SMS and web chat share it
from redaction on; the Flask routes only parse the request and render the outcome."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db import utcnow
from bot.domain.contact import Decision, Purpose
from bot.domain.redaction import redact
from bot.gateway import routing, safety
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.gateway.replies import record_replies, reply_decision
from bot.gateway.safety import SafetyHit
from bot.gateway.turns import Inbound, Outcome, earlier_attempt, take_over_unfinished
from bot.models import Conversation, Handoff, Message
from bot.services.consent import conversation_consent
from bot.services.conversations import account_for_phone, new_conversation_id
from bot.services.handoff import HandoffReason, open_handoff, request_handoff
from bot.wording import render

log = logging.getLogger(__name__)

#: A conversation with no message for this long is over; the next message starts a new one.
CONVERSATION_IDLE = timedelta(hours=24)

# Built once (asked every turn): no expression building or cache key per call.
_OPEN_CONVERSATION = (
    select(Conversation)
    .where(
        Conversation.channel == bindparam("channel"),
        Conversation.address == bindparam("address"),
        Conversation.status != "closed",
    )
    .order_by(Conversation.last_message_at.desc())
    .limit(1)
)
_SET_STATUS = (
    update(Message)
    .where(Message.id == bindparam("inbound_id"))
    .values(status=bindparam("status"), status_updated_at=bindparam("at"))
    # the row only: no search of the session for loaded messages to update with it
    .execution_options(synchronize_session=False)
)


@dataclass
class _Received:
    """An inbound message stored, and its turn decided in the same transaction."""

    stored: Outcome
    conversation: Conversation | None  # None for a duplicate
    #: The contact decision Rasa's replies will get; None: nothing to ask Rasa (a duplicate,
    #: or a turn answered in that transaction).
    before: Decision | None


class _DecidingFailed(Exception):
    """Deciding a turn raised, in the transaction that stores its message."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Gateway:
    """The pipeline. One per app; thread-safe (a session per call)."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        rasa: RasaClient | None = None,
        *,
        deadline: float = 5.0,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.rasa = rasa or RasaClient(settings.rasa_url)
        self.deadline = deadline
        self.team = settings.team
        self._late = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rasa-late")

    # ------------------------------------------------------------------ entry point
    def handle(self, inbound: Inbound) -> Outcome:
        now = utcnow()
        # NUL cannot be stored in PostgreSQL text; nothing a person types needs it.
        redacted = redact(inbound.text.replace("\x00", "")[:5000])
        text = redacted.text
        # Rule 18: a card number never reaches Rasa or the database, and the debtor hears why,
        # before whatever the assistant answers (cards are paid through the payment link).
        notice = [render("utter_no_card_numbers")] if redacted.cards else []
        # Screened before the transaction, not in it: the write lock (SQLite's, for the whole
        # database) is not held while the safety net runs, or builds its pipeline on first use.
        try:
            hit = safety.check(text)
        except Exception:
            self._store_failed(inbound, text, now)  # kept, and marked for Twilio's retry
            raise
        try:
            turn = self._receive(inbound, text, hit, now)
        except _DecidingFailed as failed:
            self._store_failed(inbound, text, now)
            raise failed.cause from None
        stored, conversation = turn.stored, turn.conversation
        if stored.route == "safety":
            # A person has the conversation now (committed): Rasa stops too. Asked after the
            # commit, so no transaction stays open (and the message unstored) over a call.
            self._pause_rasa(stored.conversation_id)
        if turn.before is None or conversation is None:
            return stored  # a duplicate, or answered without Rasa in the same commit
        try:
            outcome = self._ask_rasa(stored, conversation, text, turn.before, notice=notice)
        except Exception:
            self._mark_failed(stored.message_id)
            raise
        if not outcome.processed:
            with self.sessions.begin() as session:  # the turn is done: a retry gets its answer
                self._mark_processed(session, stored.message_id)
        return outcome

    @staticmethod
    def _mark_processed(session: Session, message_id: int) -> None:
        session.execute(
            _SET_STATUS, {"inbound_id": message_id, "status": "processed", "at": utcnow()}
        )

    def _mark_failed(self, message_id: int) -> None:
        """The turn failed before it finished: a retry of this MessageSid redoes it."""
        with self.sessions.begin() as session:
            session.execute(
                _SET_STATUS, {"inbound_id": message_id, "status": "failed", "at": utcnow()}
            )

    def _decide(
        self,
        session: Session,
        conversation: Conversation,
        stored: Outcome,
        text: str,
        hit: SafetyHit | None,
        now: datetime,
    ) -> Decision | None:
        """Route the turn, in the transaction that stores its message. Answered here
        (keyword, safety net, survey, agent, silence): its replies and the end of the turn
        are written, and None. For Rasa: the contact decision its replies will get."""
        # Read once: routing (an opted-out number is not answered) and, when the turn goes to
        # Rasa, the contact rules; nothing between them writes consent.
        consent = conversation_consent(session, conversation)
        route, replies = routing.route(
            session, conversation, stored.message_id, text, hit, now,
            opted_out=consent.opted_out, values=self._values(), team=self.team,
        )  # fmt: skip
        if route == "rasa":
            # The rules are asked before the turn: what the debtor says in it ("wrong
            # number", "stop texting me", "my lawyer...") still gets its one acknowledgement.
            return reply_decision(session, conversation, Purpose.GENERAL, utcnow(), consent=consent)
        # Keyword answers and safety replies (crisis resources, acknowledgements) are what
        # the rules still allow after an opt-out or an attorney hold; the thanks for a survey
        # answer is an ordinary reply.
        purpose = Purpose.GENERAL if route == "survey" else Purpose.COMPLIANCE
        stored.replies = record_replies(
            session, conversation, stored.message_id, replies, now, purpose=purpose
        )
        stored.route = route
        self._mark_processed(session, stored.message_id)  # same commit as the replies
        stored.processed = True
        return None

    # ------------------------------------------------------------------ steps
    def _receive(
        self, inbound: Inbound, text: str, hit: SafetyHit | None, now: datetime
    ) -> _Received:
        """Store the message keyed by its provider id and decide its turn (`_decide`), in one
        transaction. A retry finds the first one and gets the same answer: the unique indexes
        decide, not a check-then-write (one on MessageSid, one on the open conversation of an
        address, so texts sent together share one)."""
        for _ in range(3):
            try:
                with self.sessions.begin() as session:
                    conversation, stored = self._insert_inbound(session, inbound, text, now)
                    try:  # its own errors, the flush of what it wrote included
                        before = self._decide(session, conversation, stored, text, hit, now)
                        session.flush()
                    except Exception as exc:
                        raise _DecidingFailed(exc) from exc
                    return _Received(stored, conversation, before)
            except IntegrityError:
                sid = inbound.provider_sid
                first = earlier_attempt(self.sessions, sid, now) if sid else None
                if first is not None and first.duplicate:
                    return _Received(first, None, None)
                if first is not None:  # a retry took over a turn that died: decide it now
                    return self._decide_taken_over(first, text, hit, now)
                # else: another request opened this address's conversation first: use it
        raise RuntimeError("could not store the inbound message")

    def _store_failed(self, inbound: Inbound, text: str, now: datetime) -> None:
        """Deciding the turn raised, and its transaction took the message back: store the
        message on its own, marked failed, so that a retry of its MessageSid redoes the turn."""
        for _ in range(3):
            try:
                with self.sessions.begin() as session:
                    self._insert_inbound(session, inbound, text, now, status="failed")
                return
            except IntegrityError:
                sid = inbound.provider_sid
                if sid and earlier_attempt(self.sessions, sid, now, take_over=False) is not None:
                    return  # a retry stored it in the meantime
        raise RuntimeError("could not store the inbound message")

    def _insert_inbound(
        self,
        session: Session,
        inbound: Inbound,
        text: str,
        now: datetime,
        *,
        status: str = "received",
    ) -> tuple[Conversation, Outcome]:
        """The message, in its address's open conversation (a new one when there is none),
        flushed: it has its id. Raises IntegrityError for a MessageSid already stored."""
        conversation = self._conversation(session, inbound, now)
        message = Message(
            conversation_id=conversation.id,
            direction="in",
            sender="debtor",
            channel=inbound.channel,
            text=text,
            provider_sid=inbound.provider_sid,
            status=status,
            created_at=now,
            status_updated_at=now,
        )
        session.add(message)
        conversation.last_message_at = now
        session.flush()
        return conversation, Outcome(conversation_id=conversation.id, message_id=message.id)

    def _decide_taken_over(
        self, stored: Outcome, text: str, hit: SafetyHit | None, now: datetime
    ) -> _Received:
        try:
            with self.sessions.begin() as session:
                conversation = session.get(Conversation, stored.conversation_id)
                assert conversation is not None
                before = self._decide(session, conversation, stored, text, hit, now)
        except Exception:
            self._mark_failed(stored.message_id)
            raise
        return _Received(stored, conversation, before)

    def answer_unfinished(self, now: datetime, *, within: timedelta = timedelta(hours=1)) -> int:
        """Inbound messages whose turn died without a trace (the process or the database went
        away after the message was stored, and no retry came): each gets the holding reply
        through the outbox and a person. Run by the outbox worker every pass."""
        answered = 0
        for stuck in take_over_unfinished(self.sessions, now, within=within):
            log.warning(
                "message %s was never answered: holding reply and a person", stuck.message_id
            )
            self._holding(stuck, queue=True)
            answered += 1
        return answered

    def _conversation(self, session: Session, inbound: Inbound, now: datetime) -> Conversation:
        """The debtor's open conversation, or a new one (which supersedes an idle one)."""
        if inbound.conversation_id:
            found = session.get(Conversation, inbound.conversation_id)
            if found is not None and found.status != "closed":
                return found
        else:
            found = session.scalar(
                _OPEN_CONVERSATION, {"channel": inbound.channel, "address": inbound.address}
            )
            if found is not None:
                if now - found.last_message_at < CONVERSATION_IDLE:
                    return found
                found.status = "closed"  # over; one open conversation per address
                session.flush()
        account = account_for_phone(session, inbound.address) if inbound.channel == "sms" else None
        # A closed (or idle) conversation is never reopened: a new id, a new Rasa tracker. The
        # insert races on purpose: the partial unique index lets one of two concurrent first
        # messages create it, and the other retries and finds it (see _receive).
        new_id = inbound.conversation_id if found is None else None
        conversation = Conversation(
            id=new_id or new_conversation_id(),
            channel=inbound.channel,
            address=inbound.address,
            account_id=account.id if account else None,
            started_at=now,
            last_message_at=now,
        )
        session.add(conversation)
        session.flush()
        return conversation

    def _values(self) -> dict[str, str]:
        return {
            "company_name": self.settings.company_name,
            "support_phone": self.settings.support_phone,
        }

    def _pause_rasa(self, conversation_id: str) -> None:
        try:
            self.rasa.pause(conversation_id, timeout=2)
        except RasaUnavailable as exc:  # the gateway routes to the agent regardless
            log.warning("could not pause Rasa tracker %s: %s", conversation_id, exc)

    def _ask_rasa(
        self,
        stored: Outcome,
        conversation: Conversation,
        text: str,
        before: Decision,
        *,
        notice: list[str],
    ) -> Outcome:
        """Rasa's answer, with `notice` before it, stored and decided; the holding reply when
        Rasa cannot answer; its replies through the outbox when it answers after the deadline."""
        metadata = {"channel": conversation.channel, "address": conversation.address}
        future = self._late.submit(
            self.rasa.send, conversation.id, text, metadata=metadata, timeout=60
        )
        try:
            replies = future.result(timeout=self.deadline)
        except FutureTimeout:
            future.add_done_callback(
                lambda f: self._deliver_late(stored.conversation_id, stored.message_id, f, notice)
            )
            stored.route = "late"
            return stored
        except RasaUnavailable as exc:
            log.error("Rasa unavailable for %s: %s", conversation.id, exc)
            return self._holding(stored)
        if not replies and not self._action_server_answers():
            # Rasa carries on with 200 and no messages when its actions cannot run.
            log.error("action server down: Rasa answered %s with nothing", conversation.id)
            return self._holding(stored)
        replies = [*notice, *replies]
        with self.sessions.begin() as session:
            # `conversation` (loaded before the turn) is read for its id, channel and address
            # only, which a turn never changes: no second load.
            purpose = Purpose.GENERAL
            if not before.allowed and self._distress_raised(session, stored.message_id):
                # Rule 16 over rules 10 and 15: the model caught distress the safety net
                # missed, and crisis resources go even after an opt-out or attorney hold.
                purpose = Purpose.COMPLIANCE
                fresh = session.get(Conversation, stored.conversation_id)  # as the turn left it
                assert fresh is not None
                before = reply_decision(session, fresh, purpose, utcnow())
            stored.replies = record_replies(
                session, conversation, stored.message_id, replies, utcnow(),
                decided=before, purpose=purpose,
            )  # fmt: skip
            self._mark_processed(session, stored.message_id)  # same commit as the replies
            stored.processed = True
        stored.route = "bot"
        return stored

    @staticmethod
    def _distress_raised(session: Session, message_id: int) -> bool:
        """Did the turn answering this message hand off for distress?"""
        inbound = session.get(Message, message_id)
        return inbound is not None and (
            session.scalar(
                select(Handoff.id)
                .where(
                    Handoff.conversation_id == inbound.conversation_id,
                    Handoff.reason == HandoffReason.DISTRESS.value,
                    Handoff.created_at >= inbound.created_at,
                )
                .limit(1)
            )
            is not None
        )

    def _action_server_answers(self) -> bool:
        try:
            url = f"{self.settings.action_server_url.rstrip('/')}/health"
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def _holding(self, stored: Outcome, *, queue: bool = False) -> Outcome:
        """Rasa or the action server is down: one honest holding reply, and a person.
        `queue`: the webhook was already answered, so the outbox sends it."""
        now = utcnow()
        with self.sessions.begin() as session:
            conversation = session.get(Conversation, stored.conversation_id)
            assert conversation is not None
            first_time = open_handoff(session, conversation.id) is None
            request_handoff(session, conversation, HandoffReason.FAILURE, now=now, actor="system")
            replies = [render("utter_holding")] if first_time else []
            stored.replies = record_replies(
                session, conversation, stored.message_id, replies, now, queue=queue
            )
        stored.route = "holding"
        return stored

    def _deliver_late(
        self, conversation_id: str, message_id: int, future: Future[list[str]], notice: list[str]
    ) -> None:
        """Rasa answered after the deadline: the replies go out through the outbox."""
        try:
            replies = future.result()
        except Exception as exc:  # any failure: a person takes over
            log.error("late Rasa reply failed for %s: %s", conversation_id, exc)
            self._holding(Outcome(conversation_id, message_id), queue=True)
            return
        if not replies and not self._action_server_answers():
            self._holding(Outcome(conversation_id, message_id), queue=True)
            return
        with self.sessions.begin() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is not None:
                record_replies(
                    session, conversation, message_id, [*notice, *replies], utcnow(), queue=True
                )
