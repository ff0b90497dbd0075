"""Transcript search and transcripts for compliance review (bot/services/transcripts.py), on a
migrated database: every search filter, the flags the product raises (written by the real
services), paging, refusals a person can act on, one transcript in time order with local times,
and the CSV exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.domain.contact import Channel, HoldReason, Purpose
from bot.domain.plans import PlanPolicy
from bot.domain.redaction import redact
from bot.domain.verification import Answers
from bot.models import Account, Conversation, Message, StaffUser
from bot.services import transcripts
from bot.services.cases import (
    DisputeReason,
    HardshipCategory,
    ValidationKind,
    hold_for_escalation,
    open_dispute,
    record_hardship,
    request_validation,
)
from bot.services.consent import ConsentAction, record_consent
from bot.services.errors import NotFound
from bot.services.events import EventKind, record_event
from bot.services.handoff import HandoffReason, agent_reply, claim, request_handoff
from bot.services.outbox import queue_message
from bot.services.plans import accept_plan, plan_options, record_promise
from bot.services.reviews import record_review
from bot.services.transcripts import BadFilter, SearchFilters
from bot.services.users import Role
from bot.services.verification import attempt
from tests.conftest import NOW, TODAY, make_account, make_conversation
from tests.integration.factories import make_charges, make_staff_user

pytestmark = pytest.mark.integration

MARIA_DOB = date(1984, 3, 12)
T0 = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # 9:00 in Seattle


# ------------------------------------------------------------------------------ helpers


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def conversation_at(
    session: Session,
    account: Account | None,
    start: datetime,
    end: datetime | None = None,
    **overrides: Any,
) -> Conversation:
    """A closed conversation that ran from `start` to `end` (closed: several per address)."""
    values: dict[str, Any] = {"status": "closed", "started_at": start, "last_message_at": end}
    values["last_message_at"] = end or start
    return make_conversation(session, account, **{**values, **overrides})


def debtor_says(session: Session, conversation: Conversation, text: str, when: datetime) -> Message:
    """What the gateway stores for an inbound message: the redacted text."""
    message = Message(
        conversation_id=conversation.id,
        direction="in",
        sender="debtor",
        channel=conversation.channel,
        text=redact(text).text,
        status="received",
        created_at=when,
    )
    session.add(message)
    conversation.last_message_at = max(conversation.last_message_at, when)
    session.flush()
    return message


def bot_says(session: Session, conversation: Conversation, text: str, when: datetime) -> Message:
    message = queue_message(
        session,
        conversation,
        text,
        sender="bot",
        initiated=False,
        purpose=Purpose.GENERAL,
        now=when,
    )
    conversation.last_message_at = max(conversation.last_message_at, when)
    session.flush()
    return message


def ids(page: transcripts.Page) -> list[str]:
    return [item.id for item in page.items]


def find(session: Session, **args: str) -> list[str]:
    return ids(transcripts.search(session, SearchFilters.from_args(args)))


def reviewer(session: Session, email: str = "reviewer@example.test") -> StaffUser:
    return make_staff_user(session, email, Role.COMPLIANCE)


@pytest.fixture
def maria(session: Session) -> Account:
    return make_account(session)


@pytest.fixture
def james(session: Session) -> Account:
    return make_account(
        session,
        account_ref="ACC-100512",
        first_name="James",
        last_name="Carter",
        phone="+14045550178",
        email="jcarter@example.com",
        state="GA",
        zip="30307",
        address_zones="America/New_York",
        phone_zones="America/New_York",
    )


# ------------------------------------------------------------------------------ search filters


def test_account_ref_is_matched_whatever_the_case(
    session: Session, maria: Account, james: Account
) -> None:
    mine = conversation_at(session, maria, at(20, 17))
    conversation_at(session, james, at(21, 17))
    conversation_at(session, None, at(22, 17), channel="web", address="web-anon")
    for typed in ("ACC-100234", "acc-100234", "  Acc-100234 "):
        assert find(session, account_ref=typed) == [mine.id]
    assert find(session, account_ref="ACC-999999") == []
    assert find(session, account_ref="ACC-1002") == []  # an exact reference, not a prefix


@pytest.mark.parametrize(
    "typed", ["(206) 555-0134", "206-555-0134", "206.555.0134", "+1 206 555 0134", "2065550134"]
)
def test_phone_is_matched_in_any_format(
    session: Session, maria: Account, james: Account, typed: str
) -> None:
    linked = conversation_at(session, maria, at(20, 17))
    # A text from Maria's number before she was identified: no account yet, same phone.
    unlinked = conversation_at(session, None, at(21, 17), address="+12065550134")
    conversation_at(session, james, at(22, 17))
    assert find(session, phone=typed) == [unlinked.id, linked.id]


def test_phone_matches_the_account_phone_of_a_web_chat(session: Session, maria: Account) -> None:
    web = conversation_at(session, maria, at(20, 17), channel="web", address="web-session-1")
    assert find(session, phone="(206) 555-0134") == [web.id]


@pytest.mark.parametrize("typed", ["lop", "LOPEZ", "Maria", "maria lo", "ria Lop"])
def test_name_is_matched_by_any_part(
    session: Session, maria: Account, james: Account, typed: str
) -> None:
    mine = conversation_at(session, maria, at(20, 17))
    conversation_at(session, james, at(21, 17))
    assert find(session, name=typed) == [mine.id]


def test_name_ignores_the_case_of_accented_letters(
    session: Session, database_url: str, request: pytest.FixtureRequest
) -> None:
    elodie = make_account(
        session, account_ref="ACC-100888", first_name="Élodie", last_name="Öberg",
        phone="+12065550177",
    )  # fmt: skip
    mine = conversation_at(session, elodie, at(20, 17))
    assert find(session, name="Élodie") == [mine.id]
    assert find(session, name="élodie öberg") == [mine.id]


def test_name_wildcards_are_literal(session: Session, maria: Account) -> None:
    conversation_at(session, maria, at(20, 17))
    assert find(session, name="%") == []
    assert find(session, name="m_ria") == []


@pytest.fixture
def timeline(session: Session, maria: Account) -> dict[str, str]:
    """Conversations on 20 Nov, across midnight 21-22 Nov, and late on 23 Nov (UTC)."""
    return {
        "20th": conversation_at(session, maria, at(20, 10), at(20, 23, 59)).id,
        "21st-22nd": conversation_at(session, maria, at(21, 23, 30), at(22, 0, 30)).id,
        "23rd": conversation_at(session, maria, at(23, 23, 59)).id,
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"since": "2026-11-20"}, ["23rd", "21st-22nd", "20th"]),
        ({"since": "2026-11-21"}, ["23rd", "21st-22nd"]),
        ({"since": "2026-11-22"}, ["23rd", "21st-22nd"]),  # still going on the 22nd
        ({"since": "2026-11-23"}, ["23rd"]),
        ({"since": "2026-11-24"}, []),
        ({"until": "2026-11-20"}, ["20th"]),  # the whole day, up to 23:59
        ({"until": "2026-11-21"}, ["21st-22nd", "20th"]),  # started on the 21st
        ({"until": "2026-11-19"}, []),
        ({"since": "2026-11-22", "until": "2026-11-22"}, ["21st-22nd"]),
        ({"since": "2026-11-23", "until": "2026-11-23"}, ["23rd"]),
        ({"since": "2026-11-20", "until": "2026-11-20"}, ["20th"]),
    ],
)
def test_since_and_until_are_inclusive_dates_and_catch_overlapping_conversations(
    session: Session, timeline: dict[str, str], args: dict[str, str], expected: list[str]
) -> None:
    assert find(session, **args) == [timeline[name] for name in expected]


def test_the_last_possible_until_date_is_not_a_crash(
    session: Session, timeline: dict[str, str]
) -> None:
    try:
        found = find(session, until="9999-12-31")
    except BadFilter:
        return  # refusing it with a readable message is fine too
    assert found == [timeline["23rd"], timeline["21st-22nd"], timeline["20th"]]


def test_channel(session: Session, maria: Account) -> None:
    sms = conversation_at(session, maria, at(20, 17))
    web = conversation_at(session, maria, at(21, 17), channel="web", address="web-1")
    assert find(session, channel="sms") == [sms.id]
    assert find(session, channel="web") == [web.id]
    assert find(session) == [web.id, sms.id]


# ------------------------------------------------------------------------------ flags


def _handoff(reason: HandoffReason, hold: HoldReason | None = None) -> Callable[..., None]:
    def raise_flag(session: Session, account: Account, conversation: Conversation, **_: Any):  # type: ignore[no-untyped-def]
        if hold is not None:
            hold_for_escalation(
                session, account, hold, actor="bot", conversation_id=conversation.id
            )
        request_handoff(session, conversation, reason, now=NOW)

    return raise_flag


def _event(kind: EventKind) -> Callable[..., None]:
    def raise_flag(session: Session, account: Account, conversation: Conversation, **_: Any):  # type: ignore[no-untyped-def]
        record_event(
            session,
            kind,
            actor="debtor",
            conversation_id=conversation.id,
            account_id=account.id,
            data={"channel": conversation.channel},
            at=NOW,
        )

    return raise_flag


def _consent(action: ConsentAction) -> Callable[..., None]:
    def raise_flag(session: Session, account: Account, conversation: Conversation, **_: Any):  # type: ignore[no-untyped-def]
        record_consent(
            session,
            conversation.address,
            Channel.SMS,
            action,
            source="debtor",
            account_id=account.id,
            conversation_id=conversation.id,
            now=NOW,
        )

    return raise_flag


def _dispute(session: Session, account: Account, conversation: Conversation, **_: Any) -> None:
    open_dispute(
        session, account, DisputeReason.NOT_MINE, actor="debtor", now=NOW,
        conversation_id=conversation.id,
    )  # fmt: skip


def _validation(session: Session, account: Account, conversation: Conversation, **_: Any) -> None:
    request_validation(
        session, account, ValidationKind.VALIDATION, actor="debtor", now=NOW,
        conversation_id=conversation.id,
    )  # fmt: skip


def _hardship(session: Session, account: Account, conversation: Conversation, **_: Any) -> None:
    record_hardship(
        session, account, HardshipCategory.JOB_LOSS, actor="debtor", now=NOW, temporary=True,
        conversation_id=conversation.id,
    )  # fmt: skip


def _plan(
    session: Session, account: Account, conversation: Conversation, policy: PlanPolicy
) -> None:
    make_charges(session, account)
    option = plan_options(session, account, today=TODAY, policy=policy)[0]
    accept_plan(
        session, account, option, today=TODAY, now=NOW, actor="debtor",
        conversation_id=conversation.id,
    )  # fmt: skip


def _promise(
    session: Session, account: Account, conversation: Conversation, policy: PlanPolicy
) -> None:
    make_charges(session, account)
    record_promise(
        session, account, amount_cents=5000, due_on=TODAY + timedelta(days=7), today=TODAY,
        now=NOW, policy=policy, actor="debtor", conversation_id=conversation.id,
    )  # fmt: skip


def _identity_locked(
    session: Session, account: Account, conversation: Conversation, **_: Any
) -> None:
    wrong = Answers(date_of_birth=date(1990, 1, 1), zip="10001")
    for _attempt in range(3):
        attempt(session, conversation, wrong, now=NOW)
    assert conversation.verification_locked


FLAG_CASES: list[tuple[str, Callable[..., None], set[str]]] = [
    ("handoff", _handoff(HandoffReason.HUMAN_REQUEST), {"handoff"}),
    ("dispute", _dispute, {"dispute"}),
    ("validation_request", _validation, {"validation_request"}),
    ("hardship", _hardship, {"hardship"}),
    ("plan", _plan, {"plan"}),
    ("promise", _promise, {"promise"}),
    ("opt_out", _consent(ConsentAction.OPT_OUT), {"opt_out"}),
    ("opt_out", _consent(ConsentAction.CEASE), {"opt_out"}),
    ("complaint", _event(EventKind.COMPLAINT), {"complaint"}),
    ("complaint", _handoff(HandoffReason.COMPLAINT), {"complaint", "handoff"}),
    ("attorney", _handoff(HandoffReason.ATTORNEY, HoldReason.ATTORNEY), {"attorney", "handoff"}),
    (
        "bankruptcy",
        _handoff(HandoffReason.BANKRUPTCY, HoldReason.BANKRUPTCY),
        {"bankruptcy", "handoff"},
    ),
    ("distress", _handoff(HandoffReason.DISTRESS, HoldReason.DISTRESS), {"distress", "handoff"}),
    ("deceased", _handoff(HandoffReason.DECEASED, HoldReason.DECEASED), {"deceased", "handoff"}),
    ("wrong_number", _consent(ConsentAction.WRONG_NUMBER), {"wrong_number"}),
    ("identity_failed", _identity_locked, {"identity_failed"}),
    (
        "identity_failed",
        _handoff(HandoffReason.IDENTITY_FAILED),
        {"identity_failed", "handoff"},
    ),
]


def test_every_flag_of_the_interface_can_be_searched() -> None:
    interface = {
        "handoff", "dispute", "validation_request", "hardship", "plan", "promise", "opt_out",
        "complaint", "attorney", "bankruptcy", "distress", "deceased", "wrong_number",
        "identity_failed",
    }  # fmt: skip
    assert interface <= set(transcripts.FLAGS)
    assert interface == {flag for flag, _, _ in FLAG_CASES}


@pytest.mark.parametrize(
    ("flag", "raise_flag", "expected"),
    FLAG_CASES,
    ids=[f"{flag}-{i}" for i, (flag, _, _) in enumerate(FLAG_CASES)],
)
def test_each_flag_is_raised_by_what_happened_and_found_by_search(
    session: Session,
    maria: Account,
    policy: PlanPolicy,
    flag: str,
    raise_flag: Callable[..., None],
    expected: set[str],
) -> None:
    quiet = conversation_at(session, maria, at(19, 17))
    debtor_says(session, quiet, "what do I owe?", at(19, 17))
    flagged = make_conversation(session, maria, started_at=NOW, last_message_at=NOW)
    debtor_says(session, flagged, "hello", NOW)
    raise_flag(session, maria, flagged, policy=policy)
    session.flush()

    page = transcripts.search(session, SearchFilters.from_args({"flag": flag}))
    assert ids(page) == [flagged.id] and page.total == 1
    assert set(page.items[0].flags) == expected
    # The summary lists flags in the interface's order, each once.
    assert page.items[0].flags == [f for f in transcripts.FLAGS if f in expected]
    assert transcripts.flags_of(session, [quiet.id, flagged.id]) == {
        quiet.id: set(),
        flagged.id: expected,
    }
    others = set(transcripts.FLAGS) - expected
    for other in others:
        assert flagged.id not in find(session, flag=other), other


def test_an_event_of_another_conversation_or_of_the_account_only_flags_nothing(
    session: Session, maria: Account
) -> None:
    mine = conversation_at(session, maria, at(20, 17))
    # A dispute opened by staff on the account, outside any conversation.
    open_dispute(session, maria, DisputeReason.ALREADY_PAID, actor="staff:1", now=NOW)
    assert find(session, flag="dispute") == []
    assert transcripts.summarize(session, [mine.id])[0].flags == []


def test_a_check_code_is_accepted_as_a_flag(session: Session, maria: Account) -> None:
    conversation_at(session, maria, at(20, 17))
    page = transcripts.search(session, SearchFilters.from_args({"flag": "contact_window"}))
    assert isinstance(page.items, list) and page.total == len(page.items)


# ------------------------------------------------------------------------------ text


@pytest.fixture
def chats(session: Session, maria: Account) -> dict[str, str]:
    job = conversation_at(session, maria, at(20, 17))
    debtor_says(session, job, "I lost my JOB in October", at(20, 17))
    bot_says(
        session, job, "Sorry to hear that. Would a smaller monthly amount help?", at(20, 17, 1)
    )
    percent = conversation_at(session, maria, at(21, 17))
    debtor_says(session, percent, "Can I pay 100% next month?", at(21, 17))
    plain = conversation_at(session, maria, at(22, 17))
    debtor_says(session, plain, "Can I pay 1000 next month? my_account is fine", at(22, 17))
    return {"job": job.id, "percent": percent.id, "plain": plain.id}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("job", ["job"]),
        ("JOB october", ["job"]),
        ("lost smaller", ["job"]),  # words may be in different messages of one conversation
        ("job 1000", []),  # every word must appear
        ("next month", ["plain", "percent"]),
        ("100%", ["percent"]),  # % is a character, not a wildcard
        ("10%", []),
        ("1000", ["plain"]),
        ("my_account", ["plain"]),
        ("my_", ["plain"]),
        ("m_", []),  # _ is a character, not "any one character"
        ("\\", []),
    ],
)
def test_text_finds_conversations_containing_every_word(
    session: Session, chats: dict[str, str], text: str, expected: list[str]
) -> None:
    assert find(session, text=text) == [chats[name] for name in expected]


# ------------------------------------------------------------------------------ reviews


def test_review_status_uses_the_latest_review(session: Session, maria: Account) -> None:
    staff = reviewer(session)
    second = make_staff_user(session, "lead@example.test", Role.COMPLIANCE)
    changed = conversation_at(session, maria, at(20, 17))
    coached = conversation_at(session, maria, at(21, 17))
    fine = conversation_at(session, maria, at(22, 17))
    unreviewed = conversation_at(session, maria, at(23, 17))
    record_review(session, changed.id, staff, "fine", "", now=at(23, 1))
    record_review(session, changed.id, second, "breach", "threatened a lawsuit", now=at(23, 2))
    record_review(session, coached.id, staff, "coaching", "be warmer", now=at(23, 3))
    record_review(session, fine.id, staff, "breach", "oops, wrong one", now=at(23, 4))
    record_review(session, fine.id, staff, "fine", "", now=at(23, 5))

    assert find(session, review="breach") == [changed.id]
    assert find(session, review="coaching") == [coached.id]
    assert find(session, review="fine") == [fine.id]
    assert find(session, review="unreviewed") == [unreviewed.id]
    summary = transcripts.search(session, SearchFilters.from_args({"review": "breach"})).items[0]
    assert summary.review is not None
    assert (summary.review.outcome, summary.review.reviewer) == ("breach", "lead@example.test")
    assert summary.review.note == "threatened a lawsuit"


# ------------------------------------------------------------------------------ order and pages


def test_newest_first_and_paged(session: Session, maria: Account) -> None:
    made = [conversation_at(session, maria, at(10 + i, 17)).id for i in range(5)]
    newest_first = list(reversed(made))
    first = transcripts.search(session, SearchFilters.from_args({}, per_page=2))
    assert (first.page, first.per_page, first.total, first.pages) == (1, 2, 5, 3)
    assert ids(first) == newest_first[:2]
    second = transcripts.search(session, SearchFilters.from_args({"page": "2"}, per_page=2))
    assert (second.page, second.total, second.pages) == (2, 5, 3)
    assert ids(second) == newest_first[2:4]
    third = transcripts.search(session, SearchFilters.from_args({"page": "3"}, per_page=2))
    assert ids(third) == newest_first[4:]
    beyond = transcripts.search(session, SearchFilters.from_args({"page": "9"}, per_page=2))
    assert ids(beyond) == [] and beyond.total == 5
    # Ordered by the last message, not by the start.
    oldest = session.get(Conversation, made[0])
    assert oldest is not None
    debtor_says(session, oldest, "back again", at(25, 17))
    assert find(session)[0] == made[0]


def test_paging_counts_matches_of_the_filter(session: Session, maria: Account) -> None:
    for i in range(3):
        conversation_at(session, maria, at(10 + i, 17), channel="web", address=f"web-{i}")
    conversation_at(session, maria, at(20, 17))
    page = transcripts.search(session, SearchFilters.from_args({"channel": "web"}, per_page=2))
    assert (page.total, page.pages, len(page.items)) == (3, 2, 2)
    empty = transcripts.search(session, SearchFilters.from_args({"channel": "web", "text": "x"}))
    assert (empty.total, empty.pages, empty.items) == (0, 1, [])


def test_the_summary_describes_the_conversation(session: Session, maria: Account) -> None:
    conversation = conversation_at(session, maria, at(20, 17))
    debtor_says(session, conversation, "hi", at(20, 17))
    bot_says(session, conversation, "Hello", at(20, 17, 1))
    summary = transcripts.search(session, SearchFilters()).items[0]
    assert summary.id == conversation.id
    assert (summary.channel, summary.address, summary.account_ref) == (
        "sms", "+12065550134", "ACC-100234",
    )  # fmt: skip
    assert summary.debtor_name == "Maria Lopez" and summary.message_count == 2
    assert summary.started_at == at(20, 17) and summary.last_message_at == at(20, 17, 1)
    as_dict = summary.as_dict()
    assert as_dict["started_at"] == "2026-11-20T17:00:00+00:00"
    assert (
        as_dict["review"] is None and as_dict["flags"] == [] and isinstance(as_dict["checks"], list)
    )


def test_a_web_chat_summary_hides_the_browser_session(session: Session) -> None:
    conversation_at(session, None, at(20, 17), channel="web", address="web-secret-session")
    summary = transcripts.search(session, SearchFilters()).items[0]
    assert summary.address is None and summary.account_ref is None and summary.debtor_name is None


# ------------------------------------------------------------------------------ bad filters


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"since": "2026-13-01"}, "since must be a date like"),
        ({"until": "yesterday"}, "until must be a date like"),
        ({"since": "23/11/2026"}, "since must be a date like"),
        ({"since": "2026-11-23", "until": "2026-11-22"}, "since is after until"),
        ({"flag": "fraud"}, "unknown flag 'fraud'"),
        ({"channel": "email"}, "channel must be sms or web"),
        ({"channel": "SMS "}, "channel must be sms or web"),
        ({"phone": "call me maybe"}, "is not a phone number"),
        ({"review": "maybe"}, "review must be one of unreviewed, fine, coaching, breach"),
        ({"page": "two"}, "page must be a number"),
    ],
)
def test_bad_filters_are_refused_with_a_readable_message(
    args: dict[str, str], message: str
) -> None:
    with pytest.raises(BadFilter) as refused:
        SearchFilters.from_args(args)
    assert message in str(refused.value)
    assert refused.value.code == "bad_filter"


@pytest.mark.parametrize("typed", ["123", "555-0134"])
def test_a_phone_too_short_to_be_one_is_refused(typed: str) -> None:
    with pytest.raises(BadFilter, match="is not a phone number"):
        SearchFilters.from_args({"phone": typed})


def test_filters_are_cleaned_and_blank_ones_ignored() -> None:
    filters = SearchFilters.from_args(
        {
            "account_ref": "  acc-100234 ",
            "phone": "(206) 555-0134",
            "since": " 2026-11-01",
            "until": "2026-11-23 ",
            "channel": "",
            "flag": "   ",
            "text": " card  ",
            "page": "",
        }
    )
    assert filters.account_ref == "acc-100234" and filters.phone == "+12065550134"
    assert (filters.since, filters.until) == (date(2026, 11, 1), date(2026, 11, 23))
    assert filters.channel is None and filters.flag is None and filters.text == "card"
    assert filters.page == 1
    assert filters.query_args() == {
        "account_ref": "acc-100234",
        "phone": "+12065550134",
        "since": "2026-11-01",
        "until": "2026-11-23",
        "text": "card",
    }
    assert SearchFilters.from_args({"page": "-3"}).page == 1


# ------------------------------------------------------------------------------ one transcript


@pytest.fixture
def story(session: Session, maria: Account) -> dict[str, Any]:
    """A Seattle debtor verifies, asks for a person; an agent claims the handoff and answers."""
    agent = make_staff_user(session, "sam.agent@example.test", Role.AGENT)
    conversation = make_conversation(session, maria, started_at=T0, last_message_at=T0)
    first = debtor_says(session, conversation, "hi, my card is 4111 1111 1111 1111", T0)
    attempt(
        session, conversation, Answers(date_of_birth=MARIA_DOB, zip="98103"),
        now=T0 + timedelta(minutes=1),
    )  # fmt: skip
    bot_says(session, conversation, "Thanks, you're verified.", T0 + timedelta(minutes=1))
    debtor_says(session, conversation, "I want a person", T0 + timedelta(minutes=2))
    handoff = request_handoff(
        session, conversation, HandoffReason.HUMAN_REQUEST, now=T0 + timedelta(minutes=2)
    )
    claim(session, handoff.id, agent.id, now=T0 + timedelta(minutes=3))
    reply = agent_reply(
        session, handoff.id, agent.id, "Hi Maria, Sam here.", now=T0 + timedelta(minutes=4)
    )
    session.flush()
    return {"conversation": conversation, "agent": agent, "first": first, "reply": reply}


def test_a_transcript_merges_messages_and_events_in_time_order(
    session: Session, story: dict[str, Any]
) -> None:
    transcript = transcripts.load_transcript(session, story["conversation"].id)
    steps = [
        (e.type, e.message.sender if e.message else e.event.kind)  # type: ignore[union-attr]
        for e in transcript.entries
    ]
    assert steps == [
        ("message", "debtor"),
        ("message", "bot"),  # a message and an event at the same instant: the message first
        ("event", "verification_passed"),
        ("message", "debtor"),
        ("event", "handoff_requested"),
        ("event", "handoff_claimed"),
        ("message", "agent"),
    ]
    assert [e.at for e in transcript.entries] == sorted(e.at for e in transcript.entries)
    assert len(transcript.messages) == 4 and len(transcript.events) == 3
    # Stored redacted: the card number never reaches the transcript.
    assert transcript.messages[0].message.text == "hi, my card is [card ending 1111]"  # type: ignore[union-attr]
    assert transcript.summary.flags == ["handoff"]
    assert transcript.integrity.intact and transcript.integrity.entries == 7


def test_a_transcript_shows_local_times_in_the_debtors_zone(
    session: Session, story: dict[str, Any]
) -> None:
    transcript = transcripts.load_transcript(session, story["conversation"].id)
    assert transcript.zone == "America/Los_Angeles"
    first = transcript.entries[0]
    assert first.local_at is not None
    assert first.local_at.replace(tzinfo=None) == datetime(2026, 11, 20, 9, 0)
    assert first.local_at.utcoffset() == timedelta(hours=-8)
    assert first.as_dict()["local_time"] == "2026-11-20T09:00:00-08:00"
    assert first.as_dict()["created_at"] == "2026-11-20T17:00:00+00:00"


def test_agent_messages_name_the_agent(session: Session, story: dict[str, Any]) -> None:
    transcript = transcripts.load_transcript(session, story["conversation"].id)
    agents = {e.message.sender: e.agent for e in transcript.messages}  # type: ignore[union-attr]
    assert agents == {"debtor": None, "bot": None, "agent": "sam.agent@example.test"}
    row = transcript.messages[-1].as_dict()
    assert row["agent"] == "sam.agent@example.test" and row["text"] == "Hi Maria, Sam here."
    assert row["direction"] == "out" and row["status"] == "queued" and row["channel"] == "sms"


def test_handled_by_only_the_agent_who_claimed(session: Session, story: dict[str, Any]) -> None:
    other = make_staff_user(session, "other.agent@example.test", Role.AGENT)
    conversation_id = story["conversation"].id
    assert transcripts.handled_by(session, conversation_id, story["agent"].id)
    assert not transcripts.handled_by(session, conversation_id, other.id)


def test_entries_written_out_of_order_are_shown_in_time_order(
    session: Session, maria: Account
) -> None:
    conversation = make_conversation(session, maria, started_at=T0, last_message_at=T0)
    late = debtor_says(session, conversation, "second", T0 + timedelta(minutes=5))
    early = record_event(
        session, EventKind.HARDSHIP, actor="debtor", conversation_id=conversation.id,
        data={"category": "illness"}, at=T0 + timedelta(minutes=1),
    )  # fmt: skip
    earliest = debtor_says(session, conversation, "first", T0)
    transcript = transcripts.load_transcript(session, conversation.id)
    assert [(e.type, e.id) for e in transcript.entries] == [
        ("message", earliest.id),
        ("event", early.id),
        ("message", late.id),
    ]


def test_zone_from_the_phone_when_no_account_and_none_for_an_anonymous_web_chat(
    session: Session,
) -> None:
    new_york = make_conversation(session, None, address="+12125550111", started_at=T0)
    debtor_says(session, new_york, "who is this?", T0)
    transcript = transcripts.load_transcript(session, new_york.id)
    assert transcript.zone == "America/New_York"
    assert transcript.entries[0].local_at is not None
    assert transcript.entries[0].local_at.utcoffset() == timedelta(hours=-5)

    web = make_conversation(session, None, channel="web", address="web-anon", started_at=T0)
    debtor_says(session, web, "hello", T0)
    anonymous = transcripts.load_transcript(session, web.id)
    assert anonymous.zone is None and anonymous.entries[0].local_at is None
    assert anonymous.as_dict()["messages"][0]["local_time"] is None


def test_an_unknown_conversation_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        transcripts.load_transcript(session, "0" * 32)


def test_the_transcript_dict_lists_reviews_and_integrity(
    session: Session, story: dict[str, Any]
) -> None:
    conversation_id = story["conversation"].id
    record_review(session, conversation_id, reviewer(session), "coaching", "slow", now=NOW)
    body = transcripts.load_transcript(session, conversation_id).as_dict()
    assert body["id"] == conversation_id and body["time_zone"] == "America/Los_Angeles"
    assert [m["sender"] for m in body["messages"]] == ["debtor", "bot", "debtor", "agent"]
    assert [e["kind"] for e in body["events"]] == [
        "verification_passed", "handoff_requested", "handoff_claimed",
    ]  # fmt: skip
    assert body["events"][0]["data"] == {"factors": ["dob", "zip"]}
    assert body["events"][0]["actor"] == "debtor"
    assert [r["outcome"] for r in body["reviews"]] == ["coaching"]
    assert body["review"]["outcome"] == "coaching"
    assert body["integrity"] == {"intact": True, "problems": []}


# ------------------------------------------------------------------------------ CSV exports


def rows_of(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def test_transcript_csv_has_a_row_per_entry(session: Session, story: dict[str, Any]) -> None:
    transcript = transcripts.load_transcript(session, story["conversation"].id)
    header, rows = rows_of(transcripts.transcript_csv(transcript))
    assert header == list(transcripts.TRANSCRIPT_CSV_COLUMNS)
    assert len(rows) == len(transcript.entries) == 7
    assert {row["conversation_id"] for row in rows} == {story["conversation"].id}
    assert [row["type"] for row in rows] == [e.type for e in transcript.entries]
    first = rows[0]
    assert first["text"] == "hi, my card is [card ending 1111]" and first["sender"] == "debtor"
    assert first["local_time"] == "2026-11-20T09:00:00-08:00"
    assert first["created_at_utc"] == "2026-11-20T17:00:00+00:00"
    assert first["event_kind"] == ""
    event = rows[2]
    assert event["event_kind"] == "verification_passed" and event["text"] == ""
    assert event["event_data"] == '{"factors": ["dob", "zip"]}'
    assert rows[-1]["agent"] == "sam.agent@example.test"
    assert "4111" not in transcripts.transcript_csv(transcript).replace("ending 1111", "")


@pytest.mark.parametrize(
    "typed", ['=HYPERLINK("http://evil.example","pay")', "+1+1", "-2+3", "@SUM(A1)"]
)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    session: Session, maria: Account, typed: str
) -> None:
    conversation = make_conversation(session, maria, started_at=T0, last_message_at=T0)
    debtor_says(session, conversation, typed, T0)
    transcript = transcripts.load_transcript(session, conversation.id)
    _, rows = rows_of(transcripts.transcript_csv(transcript))
    assert rows[0]["text"] == "'" + typed


def test_search_csv_has_a_row_per_conversation(session: Session, maria: Account) -> None:
    evil = make_account(
        session, account_ref="ACC-100999", first_name="=cmd|' /C calc'!A0", last_name="X",
        phone="+12065550199",
    )  # fmt: skip
    flagged = conversation_at(session, maria, at(20, 17))
    request_handoff(session, flagged, HandoffReason.ATTORNEY, now=at(20, 17))
    record_review(session, flagged.id, reviewer(session), "breach", "kept texting", now=NOW)
    conversation_at(session, evil, at(21, 17))
    page = transcripts.search(session, SearchFilters())
    header, rows = rows_of(transcripts.search_csv(page.items))
    assert header == list(transcripts.SEARCH_CSV_COLUMNS)
    assert [row["id"] for row in rows] == ids(page) and len(rows) == 2
    assert rows[0]["debtor_name"] == "'=cmd|' /C calc'!A0 X"
    assert rows[1]["account_ref"] == "ACC-100234" and rows[1]["flags"] == "handoff attorney"
    assert rows[1]["review_outcome"] == "breach" and rows[1]["reviewer"] == "reviewer@example.test"
    assert rows[0]["review_outcome"] == "" and rows[0]["message_count"] == "0"
