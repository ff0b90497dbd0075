"""Whole conversations with the real assistant, through the gateway: signed SMS webhooks and
the web chat in front of a trained Rasa server and the action server, over a real database.
Each test is one debtor's conversation; it checks what they read and what was recorded."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot.models import (
    Account,
    ConsentEvent,
    Conversation,
    ConversationEvent,
    Dispute,
    Handoff,
    HardshipRecord,
    Hold,
    PaymentPlan,
    Promise,
    ValidationRequest,
)
from tests.e2e.conftest import GATEWAY_TOKEN, SMS_URL, Stack

pytestmark = pytest.mark.e2e

MARIA = {"phone": "+12065550134", "dob": "3/12/84", "zip": "98103", "ref": "ACC-100234"}
JAMES = {"phone": "+14045550178", "dob": "11/30/1979", "ssn4": "4321", "ref": "ACC-100512"}
AISHA = {"phone": "+13125550190", "dob": "feb 29 1992", "ssn4": "1122", "ref": "ACC-100777"}


class Debtor:
    """One person texting the assistant (a signed POST /twilio/sms, as Twilio sends it) or,
    without a phone, typing in the web chat (POST /chat/api/messages): the whole gateway in
    front of the real Rasa."""

    def __init__(self, stack: Stack, phone: str | None = None) -> None:
        self.stack = stack
        self.phone = phone
        self.client = stack.app.test_client()
        self.transcript: list[str] = []

    def says(self, text: str) -> str:
        if self.phone:
            params = {
                "MessageSid": f"SM{uuid.uuid4().hex}",
                "AccountSid": "AC" + "0" * 32,
                "From": self.phone,
                "To": "+18005550100",
                "Body": text,
            }
            signature = RequestValidator(GATEWAY_TOKEN).compute_signature(SMS_URL, params)
            response = self.client.post(
                "/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}
            )
            assert response.status_code == 200, response.get_data(as_text=True)
            root = ET.fromstring(response.get_data(as_text=True))  # noqa: S314 - our TwiML
            replies = [m.text or "" for m in root.iter("Message")]
        else:
            response = self.client.post(
                "/chat/api/messages", json={"text": text}, headers={"X-Requested-With": "fetch"}
            )
            assert response.status_code == 200, response.get_data(as_text=True)
            replies = [
                m["text"] for m in response.get_json()["messages"] if m["direction"] == "out"
            ]
        self.transcript += [f"> {text}", *replies]
        return "\n".join(replies)

    @property
    def sender(self) -> str:
        """The conversation id the gateway gave this person (Rasa's sender id)."""
        if self.phone is None:
            with self.client.session_transaction() as browser:
                return str(browser["chat_conversation"])
        with self.stack.session() as s:
            found = s.scalar(
                select(Conversation.id)
                .where(Conversation.channel == "sms", Conversation.address == self.phone)
                .order_by(Conversation.started_at.desc())
                .limit(1)
            )
        assert found is not None, "no conversation yet"
        return found

    def verify(self, *answers: str) -> str:
        reply = ""
        for answer in answers:
            reply = self.says(answer)
        assert "verified" in reply, self.transcript
        return reply

    def conversation(self, session) -> Conversation:  # type: ignore[no-untyped-def]
        return session.get(Conversation, self.sender)


def test_balance_is_given_only_after_verification(stack: Stack) -> None:
    maria = Debtor(stack, MARIA["phone"])
    first = maria.says("how much do i owe")
    assert "$" not in first and "date of birth" in first.lower()
    maria.says(MARIA["dob"])
    reply = maria.says(MARIA["zip"])
    assert "verified" in reply and "$1,369.37" in reply, maria.transcript


def test_greeting_names_the_company_and_asks_to_verify_without_debt_details(stack: Stack) -> None:
    maria = Debtor(stack, MARIA["phone"])
    reply = maria.says("hi")
    assert "Evergreen" in reply and "date of birth" in reply.lower()
    assert "$" not in reply and "1,369" not in reply


def test_who_is_this_reveals_nothing_about_the_debt(stack: Stack) -> None:
    stranger = Debtor(stack, MARIA["phone"])
    reply = stranger.says("who is this? how did you get my number")
    assert "$" not in reply and "Evergreen" in reply and "balance" not in reply.lower()


def test_three_wrong_answers_lock_verification_and_offer_a_person(stack: Stack) -> None:
    person = Debtor(stack, MARIA["phone"])
    person.says("whats my balance")
    for _ in range(3):
        person.says("1/1/1990")
        reply = person.says("11111")
    assert "AGENT" in reply and "$" not in reply, person.transcript
    with stack.session() as s:
        conversation = person.conversation(s)
        assert conversation.verification_locked
        kinds = s.scalars(
            select(ConversationEvent.kind).where(ConversationEvent.conversation_id == person.sender)
        ).all()
        assert kinds.count("verification_failed") == 3 and "verification_locked" in kinds


def test_web_chat_finds_the_account_by_reference_first(stack: Stack) -> None:
    visitor = Debtor(stack)  # web chat: no phone known
    reply = visitor.says("hello")
    assert "account reference" in reply.lower()
    visitor.says("acc-100777")
    visitor.says(AISHA["dob"])
    reply = visitor.says(AISHA["ssn4"])
    assert "Aisha" in reply
    reply = visitor.says("how much is my balance")
    assert "$3,477.45" in reply


def test_itemization_lists_the_charges(stack: Stack) -> None:
    maria = Debtor(stack, MARIA["phone"])
    maria.says("hi")
    maria.verify(MARIA["dob"], MARIA["zip"])
    reply = maria.says("why is it so much? break down the charges")
    for part in ("principal $1,200.00", "interest $104.37", "Emergency room visit", "$850.00"):
        assert part in reply, maria.transcript


def test_payment_plan_chosen_by_number_and_confirmed_is_recorded(stack: Stack) -> None:
    maria = Debtor(stack, MARIA["phone"])
    maria.says("hi")
    maria.verify(MARIA["dob"], MARIA["zip"])
    options = maria.says("i cant pay all at once, can i do a payment plan")
    assert "1)" in options and "2)" in options, maria.transcript
    summary = maria.says("2")
    assert "YES" in summary and "a month" in summary, maria.transcript
    with stack.session() as s:
        before = s.scalar(
            select(func.count(PaymentPlan.id)).where(PaymentPlan.conversation_id == maria.sender)
        )
    assert before == 0  # nothing recorded before the confirmation
    done = maria.says("yes")
    assert "set up" in done, maria.transcript
    with stack.session() as s:
        plan = s.scalar(select(PaymentPlan).where(PaymentPlan.conversation_id == maria.sender))
        assert plan is not None and plan.frequency == "monthly"
        assert sum(i.amount_cents for i in plan.installments) == plan.total_cents == 136937


def test_no_at_the_confirmation_records_nothing_and_offers_again(stack: Stack) -> None:
    maria = Debtor(stack, MARIA["phone"])
    maria.says("hi")
    maria.verify(MARIA["dob"], MARIA["zip"])
    maria.says("payment plan please")
    maria.says("3")
    reply = maria.says("no")
    assert "nothing has been set up" in reply, maria.transcript
    reply = maria.says("$150 a month")
    assert "$150.00 a month" in reply, maria.transcript
    maria.says("yes")
    with stack.session() as s:
        plans = s.scalars(
            select(PaymentPlan).where(PaymentPlan.conversation_id == maria.sender)
        ).all()
        assert len(plans) == 1 and plans[0].installments[0].amount_cents == 15000


def test_balance_question_in_the_middle_of_the_plan_keeps_the_plan_going(stack: Stack) -> None:
    maria = Debtor(stack, MARIA["phone"])
    maria.says("hi")
    maria.verify(MARIA["dob"], MARIA["zip"])
    maria.says("can i set up a payment plan")
    reply = maria.says("wait how much do i owe again")
    assert "$1,369.37" in reply and "option" in reply.lower(), maria.transcript
    assert "YES" in maria.says("2")


def test_promise_to_pay_with_a_relative_date_is_confirmed_and_recorded(stack: Stack) -> None:
    james = Debtor(stack, JAMES["phone"])
    james.says("I get paid on the 15th, can i pay 100 then")
    james.says(JAMES["dob"])
    summary = james.says(JAMES["ssn4"])
    assert "$100.00" in summary and "15" in summary and "YES" in summary, james.transcript
    james.says("yes")
    with stack.session() as s:
        promise = s.scalar(select(Promise).where(Promise.conversation_id == james.sender))
        assert promise is not None and promise.amount_cents == 10000 and promise.due_on.day == 15


def test_when_is_my_next_payment_due_gets_its_date_and_moves_nothing(stack: Stack) -> None:
    james = Debtor(stack, JAMES["phone"])
    james.says("I get paid on the 15th, can i pay 100 then")
    james.says(JAMES["dob"])
    james.says(JAMES["ssn4"])
    james.says("yes")
    reply = james.says("when is my next payment due?")
    assert "Your next payment is $100.00, due" in reply and "15" in reply, james.transcript
    assert "What date" not in reply, james.transcript
    with stack.session() as s:
        promise = s.scalar(select(Promise).where(Promise.conversation_id == james.sender))
        assert promise is not None and promise.due_on.day == 15


def test_half_now_and_the_rest_later_asked_as_a_plan_is_two_promises(stack: Stack) -> None:
    maria = Debtor(stack, MARIA["phone"])
    maria.says("hi")
    maria.verify(MARIA["dob"], MARIA["zip"])
    summary = maria.says("can i do a payment plan, half now and the rest in 10 days")
    assert "$684.69" in summary and "the rest, $684.68" in summary, maria.transcript
    assert "YES" in summary and "1)" not in summary, maria.transcript
    assert "$684.68" in maria.says("yes"), maria.transcript
    with stack.session() as s:
        promises = s.scalars(
            select(Promise).where(Promise.conversation_id == maria.sender).order_by(Promise.due_on)
        ).all()
        assert [p.amount_cents for p in promises] == [68469, 68468]
        assert (promises[1].due_on - promises[0].due_on).days == 10


def test_hardship_is_met_with_empathy_recorded_and_followed_by_hardship_options(
    stack: Stack,
) -> None:
    aisha = Debtor(stack, AISHA["phone"])
    aisha.says("hi")
    aisha.verify(AISHA["dob"], AISHA["ssn4"])
    reply = aisha.says("i lost my job last month and i cant afford this")
    assert "sorry" in reply.lower(), aisha.transcript
    aisha.says("temporary i hope")
    options = aisha.says("maybe 50 a month")
    assert "24 months" in options, aisha.transcript
    with stack.session() as s:
        record = s.scalar(
            select(HardshipRecord).where(HardshipRecord.conversation_id == aisha.sender)
        )
        assert record is not None and record.category == "job_loss" and record.temporary is True
        assert record.affordable_monthly_cents == 5000


def test_dispute_of_one_charge_gets_a_reference_and_holds_that_charge(stack: Stack) -> None:
    maria = Debtor(stack, MARIA["phone"])
    maria.says("hi")
    maria.verify(MARIA["dob"], MARIA["zip"])
    listing = maria.says("i want to dispute a charge")
    assert "Lab work" in listing, maria.transcript
    maria.says("2")
    reply = maria.says("i never had lab work done, that's not mine")
    assert "Reference: D-" in reply, maria.transcript
    with stack.session() as s:
        dispute = s.scalar(select(Dispute).where(Dispute.conversation_id == maria.sender))
        assert dispute is not None and dispute.charge_id is not None
        hold = s.scalar(select(Hold).where(Hold.dispute_id == dispute.id))
        assert hold is not None and hold.released_at is None
    assert "under dispute" in maria.says("what's my balance now")


def test_validation_request_is_recorded_and_pauses_collection(stack: Stack) -> None:
    james = Debtor(stack, JAMES["phone"])
    james.says("hi")
    james.verify(JAMES["dob"], JAMES["ssn4"])
    reply = james.says("send me proof that i owe this, i want validation")
    assert "Reference: V-" in reply, james.transcript
    assert "on hold" in james.says("i want to make a payment plan").lower()
    with stack.session() as s:
        assert s.scalar(
            select(ValidationRequest).where(ValidationRequest.conversation_id == james.sender)
        )


def test_settlement_offer_within_policy(stack: Stack) -> None:
    james = Debtor(stack, JAMES["phone"])  # over a year delinquent: 70% floor
    james.says("hi")
    james.verify(JAMES["dob"], JAMES["ssn4"])
    reply = james.says("can i settle this for less? like a lump sum")
    assert "$351.75" in reply, james.transcript


def test_settlement_below_policy_hands_off(stack: Stack) -> None:
    james = Debtor(stack, JAMES["phone"])
    james.says("hi")
    james.verify(JAMES["dob"], JAMES["ssn4"])
    james.says("would you settle for $100")
    with stack.session() as s:
        handoff = s.scalar(select(Handoff).where(Handoff.conversation_id == james.sender))
        assert handoff is not None and handoff.reason == "settlement"


@pytest.mark.parametrize(
    ("text", "reason", "hold"),
    [
        ("i want to talk to a real person", "human_request", None),
        ("my lawyer is handling this, talk to my attorney", "attorney", "attorney"),
        ("i filed chapter 7 bankruptcy last month", "bankruptcy", "bankruptcy"),
        ("i dont want to live anymore, i cant take this", "distress", "distress"),
    ],
)
def test_escalation_hands_off_with_its_reason(
    stack: Stack, text: str, reason: str, hold: str | None
) -> None:
    maria = Debtor(stack, MARIA["phone"])
    maria.says("hi")
    maria.verify(MARIA["dob"], MARIA["zip"])
    reply = maria.says(text)
    if reason == "distress":
        assert "988" in reply, maria.transcript
    with stack.session() as s:
        handoff = s.scalar(select(Handoff).where(Handoff.conversation_id == maria.sender))
        assert handoff is not None and handoff.reason == reason, maria.transcript
        assert handoff.urgent is (reason == "distress")
        if hold:
            account = s.scalar(select(Account).where(Account.account_ref == MARIA["ref"]))
            holds = s.scalars(
                select(Hold.reason).where(Hold.account_id == account.id, Hold.released_at.is_(None))
            ).all()
            assert hold in holds


def test_report_of_death_gets_condolences_reveals_nothing_and_hands_off(stack: Stack) -> None:
    relative = Debtor(stack, AISHA["phone"])
    reply = relative.says("this is her daughter, my mother passed away last week")
    assert "sorry for your loss" in reply.lower() and "$" not in reply, relative.transcript
    with stack.session() as s:
        handoff = s.scalar(select(Handoff).where(Handoff.conversation_id == relative.sender))
        assert handoff is not None and handoff.reason == "deceased"


def test_plain_language_stop_opts_the_number_out(stack: Stack) -> None:
    maria = Debtor(stack, MARIA["phone"])
    reply = maria.says("please stop texting me")
    assert "unsubscribed" in reply, maria.transcript
    with stack.session() as s:
        event = s.scalar(
            select(ConsentEvent)
            .where(ConsentEvent.address == MARIA["phone"])
            .order_by(ConsentEvent.id.desc())
        )
        assert event is not None and event.action == "opt_out"


def test_contact_preference_is_recorded(stack: Stack) -> None:
    maria = Debtor(stack, MARIA["phone"])
    maria.says("hi")
    maria.verify(MARIA["dob"], MARIA["zip"])
    reply = maria.says("can you only text me after 6pm")
    assert "6:00 PM" in reply, maria.transcript


def test_wrong_number_is_marked_and_nothing_revealed(stack: Stack) -> None:
    stranger = Debtor(stack, JAMES["phone"])
    reply = stranger.says("you have the wrong number, i dont know any james")
    assert "won't message it again" in reply and "$" not in reply, stranger.transcript


def test_bot_challenge_is_answered_honestly_with_a_person_offered(stack: Stack) -> None:
    reply = Debtor(stack, MARIA["phone"]).says("am i talking to a bot?")
    assert "automated" in reply and "AGENT" in reply


def test_two_misunderstandings_in_a_row_hand_off(stack: Stack) -> None:
    person = Debtor(stack, MARIA["phone"])
    person.says("hi")
    person.verify(MARIA["dob"], MARIA["zip"])
    person.says("asdkjh qwpoeiru zmxncb")
    person.says("lkjqwe poiuzx mnbvqq")
    with stack.session() as s:
        handoff = s.scalar(select(Handoff).where(Handoff.conversation_id == person.sender))
        assert handoff is not None and handoff.reason == "fallback", person.transcript
