"""One inbound message, in order (DESIGN.md): store once, redact, keywords and opt-outs,
safety net, handoff routing, Rasa with a deadline, outbound rules. SMS and web chat share it
from redaction on; the Flask routes only parse the request and render the outcome."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db import utcnow
from bot.domain.contact import Channel, Decision, HoldReason, Kind, Purpose
from bot.domain.keywords import Keyword, is_plain_language_opt_out, keyword
from bot.domain.redaction import redact
from bot.gateway import safety
from bot.gateway.outbound import compose
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.gateway.safety import SafetyHit
from bot.models import Account, Conversation, Handoff, Message
from bot.services.cases import hold_for_escalation
from bot.services.consent import (
    ConsentAction,
    ConsentState,
    conversation_consent,
    conversation_decision,
    is_opted_out,
    record_consent,
)
from bot.services.conversations import account_for_phone, new_conversation_id
from bot.services.handoff import HandoffReason, open_handoff, request_handoff
from bot.services.surveys import parse_answer, pending_survey, record_answer
from bot.wording import render

log = logging.getLogger(__name__)

#: A conversation with no message for this long is over; the next message starts a new one.
CONVERSATION_IDLE = timedelta(hours=24)
#: A turn still unfinished after this long died with its process: a retry takes it over.
STALE_TURN = timedelta(seconds=30)

SAFETY_RESPONSES = {
    HandoffReason.DISTRESS: "utter_distress",
    HandoffReason.ATTORNEY: "utter_attorney",
    HandoffReason.BANKRUPTCY: "utter_bankruptcy",
    HandoffReason.DECEASED: "utter_deceased",
    HandoffReason.HUMAN_REQUEST: "utter_handoff_human",
}
SAFETY_HOLDS = {
    HandoffReason.DISTRESS: HoldReason.DISTRESS,
    HandoffReason.ATTORNEY: HoldReason.ATTORNEY,
    HandoffReason.BANKRUPTCY: HoldReason.BANKRUPTCY,
    HandoffReason.DECEASED: HoldReason.DECEASED,
}


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
_ANY_REPLY = (
    select(Message.id)
    .where(Message.conversation_id == bindparam("conversation_id"), Message.direction == "out")
    .limit(1)
)


@dataclass(frozen=True)
class Inbound:
    channel: str  # "sms" | "web"
    address: str  # E.164 phone, or the web chat's session key
    text: str
    provider_sid: str | None = None  # Twilio's MessageSid
    conversation_id: str | None = None  # web chat: the conversation of this browser


@dataclass
class Outcome:
    conversation_id: str
    message_id: int
    replies: list[str] = field(default_factory=list)  # bodies to answer with now
    duplicate: bool = False
    route: str = "bot"  # bot | keyword | safety | survey | agent | silent | holding | late
    processed: bool = False  # the inbound was marked processed with the turn's last write
    #: A retry of a message whose first turn is still running (or died in the last
    #: STALE_TURN without a trace): nothing to answer yet; the caller asks to be retried.
    in_progress: bool = False


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
        self._late = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rasa-late")

    # ------------------------------------------------------------------ entry point
    def handle(self, inbound: Inbound) -> Outcome:
        now = utcnow()
        # NUL cannot be stored in PostgreSQL text; nothing a person types needs it.
        text = redact(inbound.text.replace("\x00", "")[:5000]).text
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
            outcome = self._ask_rasa(stored, conversation, text, turn.before)
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
        route, replies = self._route(
            session, conversation, stored.message_id, text, hit, now, opted_out=consent.opted_out
        )
        if route == "rasa":
            # The rules are asked before the turn: what the debtor says in it ("wrong
            # number", "stop texting me", "my lawyer...") still gets its one acknowledgement.
            return self._reply_decision(
                session, conversation, Purpose.GENERAL, utcnow(), consent=consent
            )
        # Keyword answers and safety replies (crisis resources, acknowledgements) are what
        # the rules still allow after an opt-out or an attorney hold; the thanks for a survey
        # answer is an ordinary reply.
        purpose = Purpose.GENERAL if route == "survey" else Purpose.COMPLIANCE
        stored.replies = self._record_replies(
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
                first = self._duplicate(sid, now) if sid else None
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
                if sid and self._duplicate(sid, now, take_over=False) is not None:
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

    def _duplicate(
        self, provider_sid: str, now: datetime, *, take_over: bool = True
    ) -> Outcome | None:
        """A retried MessageSid: the answer already given (only what was actually sent), or,
        when the first attempt died mid-turn, the turn itself, taken over atomically
        (unless not `take_over`: then it is in progress)."""
        with self.sessions.begin() as session:
            first = session.scalar(select(Message).where(Message.provider_sid == provider_sid))
            if first is None:
                return None
            if first.status in ("received", "failed") and take_over:
                unfinished = or_(
                    Message.status == "failed",
                    and_(
                        Message.status == "received", Message.status_updated_at < now - STALE_TURN
                    ),
                )
                taken = session.execute(
                    update(Message)
                    .where(Message.id == first.id, unfinished)
                    .values(status="received", status_updated_at=now)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    return Outcome(conversation_id=first.conversation_id, message_id=first.id)
            if first.status in ("received", "failed"):  # another attempt is on it
                return Outcome(
                    conversation_id=first.conversation_id,
                    message_id=first.id,
                    duplicate=True,
                    route="in_progress",
                    in_progress=True,
                )
            replies = session.scalars(
                select(Message.text)
                .where(Message.reply_to_id == first.id, Message.status.in_(("sent", "delivered")))
                .order_by(Message.id)
            ).all()
            return Outcome(
                conversation_id=first.conversation_id,
                message_id=first.id,
                replies=list(replies),
                duplicate=True,
                route="duplicate",
            )

    def answer_unfinished(self, now: datetime, *, within: timedelta = timedelta(hours=1)) -> int:
        """Inbound messages whose turn died without a trace (the process or the database went
        away after the message was stored, and no retry came): each gets the holding reply
        through the outbox and a person. Run by the outbox worker every pass."""
        with self.sessions() as session:
            stuck = session.scalars(
                select(Message.id).where(
                    Message.direction == "in",
                    Message.status.in_(("received", "failed")),
                    Message.status_updated_at < now - STALE_TURN,
                    Message.created_at > now - within,
                )
            ).all()
        answered = 0
        for message_id in stuck:
            with self.sessions.begin() as session:  # take it over, as a retry would
                taken = session.execute(
                    update(Message)
                    .where(
                        Message.id == message_id,
                        Message.status.in_(("received", "failed")),
                        Message.status_updated_at < now - STALE_TURN,
                    )
                    .values(status="processed", status_updated_at=now)
                )
                conversation_id = session.scalar(
                    select(Message.conversation_id).where(Message.id == message_id)
                )
            if taken.rowcount != 1 or conversation_id is None:  # type: ignore[attr-defined]
                continue
            log.warning("message %s was never answered: holding reply and a person", message_id)
            self._holding(Outcome(conversation_id, message_id), queue=True)
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

    def _route(
        self,
        session: Session,
        conversation: Conversation,
        message_id: int,
        text: str,
        hit: SafetyHit | None,
        now: datetime,
        *,
        opted_out: bool,
    ) -> tuple[str, list[str]]:
        """Keywords, opt-outs, the safety net and survey answers, decided here; otherwise
        "rasa". `hit`: the safety net's finding in the text. `opted_out`: the conversation's
        address, as this transaction read it."""
        sms = conversation.channel == "sms"
        word = keyword(text)
        if sms and (word is Keyword.STOP or is_plain_language_opt_out(text)):
            return "keyword", self._opt_out(session, conversation, now, opted_out=opted_out)
        if sms and word is Keyword.START:
            record_consent(
                session, conversation.address, Channel.SMS, ConsentAction.OPT_IN,
                source="keyword", account_id=conversation.account_id,
                conversation_id=conversation.id, now=now,
            )  # fmt: skip
            return "keyword", [render("utter_opted_in", **self._values())]
        if sms and word is Keyword.HELP:
            return "keyword", [render("utter_help_keyword", **self._values())]
        if hit is not None:  # before the opt-out silence: distress is never ignored
            return "safety", self._escalate(
                session, conversation, hit.reason, hit.matched, now, opted_out=opted_out
            )
        if sms and opted_out:
            return "silent", []  # opted out: stored, nothing sent (rule 10)
        answer = parse_answer(text)  # "4 great service" after "How did we do?"
        survey = pending_survey(session, conversation.id, now) if answer else None
        if answer is not None and survey is not None:
            saved = record_answer(session, survey, answer.score, answer.comment, message_id, now)
            if saved.message_id == message_id:  # else a second answer, sent with the first
                thanks = "utter_survey_thanks_low" if answer.score <= 2 else "utter_survey_thanks"
                return "survey", [render(thanks)]
        if conversation.status == "handoff" or open_handoff(session, conversation.id):
            return "agent", []  # the agent sees it in the console; the bot stays silent
        return "rasa", []

    def _opt_out(
        self, session: Session, conversation: Conversation, now: datetime, *, opted_out: bool
    ) -> list[str]:
        if opted_out:
            return []  # at most one confirmation (rule 10)
        record_consent(
            session, conversation.address, Channel.SMS, ConsentAction.OPT_OUT,
            source="keyword", account_id=conversation.account_id,
            conversation_id=conversation.id, now=now,
        )  # fmt: skip
        return [render("utter_opt_out_confirmed", **self._values())]

    def _escalate(
        self,
        session: Session,
        conversation: Conversation,
        reason: HandoffReason,
        matched: str,
        now: datetime,
        *,
        opted_out: bool,
    ) -> list[str]:
        already = open_handoff(session, conversation.id) is not None
        account = session.get(Account, conversation.account_id) if conversation.account_id else None
        if account is not None and reason in SAFETY_HOLDS:
            hold_for_escalation(
                session, account, SAFETY_HOLDS[reason], actor="system",
                conversation_id=conversation.id,
            )  # fmt: skip
        request_handoff(
            session,
            conversation,
            reason,
            now=now,
            actor="system",
            detail=f"safety net: {matched!r}",
        )
        if reason is HandoffReason.DISTRESS:
            return [render(SAFETY_RESPONSES[reason], **self._values())]  # always (rule 16)
        if already or (conversation.channel == "sms" and opted_out):
            return []  # a person is already on it, or the number opted out: no reply
        return [render(SAFETY_RESPONSES[reason], **self._values())]

    def _pause_rasa(self, conversation_id: str) -> None:
        try:
            self.rasa.pause(conversation_id, timeout=2)
        except RasaUnavailable as exc:  # the gateway routes to the agent regardless
            log.warning("could not pause Rasa tracker %s: %s", conversation_id, exc)

    def _ask_rasa(
        self, stored: Outcome, conversation: Conversation, text: str, before: Decision
    ) -> Outcome:
        metadata = {"channel": conversation.channel, "address": conversation.address}
        future = self._late.submit(
            self.rasa.send, conversation.id, text, metadata=metadata, timeout=60
        )
        try:
            replies = future.result(timeout=self.deadline)
        except FutureTimeout:
            future.add_done_callback(
                lambda f: self._deliver_late(stored.conversation_id, stored.message_id, f)
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
                before = self._reply_decision(session, fresh, purpose, utcnow())
            stored.replies = self._record_replies(
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
            stored.replies = self._record_replies(
                session, conversation, stored.message_id, replies, now, queue=queue
            )
        stored.route = "holding"
        return stored

    def _deliver_late(self, conversation_id: str, message_id: int, future) -> None:  # type: ignore[no-untyped-def]
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
                self._record_replies(
                    session, conversation, message_id, replies, utcnow(), queue=True
                )

    # ------------------------------------------------------------------ outbound
    @staticmethod
    def _reply_decision(
        session: Session,
        conversation: Conversation,
        purpose: Purpose,
        now: datetime,
        *,
        consent: ConsentState | None = None,
    ) -> Decision:
        """May we answer the message the debtor just sent (a reply, not initiated)?"""
        return conversation_decision(
            session, conversation, kind=Kind.REPLY, purpose=purpose, now=now, consent=consent
        )

    def _record_replies(
        self,
        session: Session,
        conversation: Conversation,
        reply_to_id: int,
        replies: list[str],
        now: datetime,
        *,
        queue: bool = False,
        purpose: Purpose = Purpose.GENERAL,
        decided: Decision | None = None,
    ) -> list[str]:
        """Apply the outbound rules and store what goes out, linked to the message it
        answers. `queue`: sent later by the outbox worker instead of in this response.
        `decided`: the contact decision already taken for this turn."""
        if not replies:
            return []
        first = session.scalar(_ANY_REPLY, {"conversation_id": conversation.id}) is None
        # Rule 5: the first reply says how to opt out, whatever its purpose (a safety reply
        # can be the first), unless it already does or the number just opted out.
        opt_out_line = (
            render("utter_opt_out_line")
            if first
            and conversation.channel == "sms"
            and not any("STOP" in reply for reply in replies)
            and not is_opted_out(session, conversation.address, Channel.SMS)
            else None
        )
        decision = decided or self._reply_decision(session, conversation, purpose, now)
        bodies = compose(replies, opt_out_line=opt_out_line)
        sent: list[str] = []
        for body in bodies:
            status = (
                "queued" if queue else ("sent" if conversation.channel == "sms" else "delivered")
            )
            if not decision.allowed:
                status = "blocked"
            session.add(
                Message(
                    conversation_id=conversation.id,
                    direction="out",
                    sender="bot",
                    channel=conversation.channel,
                    text=body,
                    status=status,
                    purpose=purpose.value,
                    reply_to_id=reply_to_id,
                    error=None if decision.allowed else f"contact rules: {decision.reason}",
                    created_at=now,
                    sent_at=now if status in ("sent", "delivered") else None,
                    next_attempt_at=now if queue else None,
                )
            )
            if decision.allowed and not queue:
                sent.append(body)
        session.flush()
        return sent
