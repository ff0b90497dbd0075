"""Who answers a turn, decided in the transaction that stores its message (DESIGN.md, steps
3-6): SMS keywords and opt-outs, the safety net, a survey answer, a person already on the
conversation; otherwise Rasa. What is answered here comes with its replies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from bot.domain.contact import Channel, HoldReason
from bot.domain.keywords import Keyword, is_plain_language_opt_out, keyword
from bot.domain.team_hours import TeamHours
from bot.gateway.safety import SafetyHit
from bot.models import Account, Conversation
from bot.services.cases import hold_for_escalation
from bot.services.consent import ConsentAction, record_consent
from bot.services.handoff import HandoffReason, handoff_reply, open_handoff, request_handoff
from bot.services.surveys import parse_answer, pending_survey, record_answer
from bot.wording import render

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


def route(
    session: Session,
    conversation: Conversation,
    message_id: int,
    text: str,
    hit: SafetyHit | None,
    now: datetime,
    *,
    opted_out: bool,
    values: Mapping[str, str],
    team: TeamHours,
) -> tuple[str, list[str]]:
    """Keywords, opt-outs, the safety net and survey answers, decided here; otherwise
    "rasa". `hit`: the safety net's finding in the text. `opted_out`: the conversation's
    address, as this transaction read it. `values`: what the replies' wording fills in.
    `team`: when agents are in, for what a handoff promises."""
    sms = conversation.channel == "sms"
    word = keyword(text)
    if sms and (word is Keyword.STOP or is_plain_language_opt_out(text)):
        return "keyword", _opt_out(session, conversation, now, opted_out=opted_out, values=values)
    if sms and word is Keyword.START:
        record_consent(
            session, conversation.address, Channel.SMS, ConsentAction.OPT_IN,
            source="keyword", account_id=conversation.account_id,
            conversation_id=conversation.id, now=now,
        )  # fmt: skip
        return "keyword", [render("utter_opted_in", **values)]
    if sms and word is Keyword.HELP:
        return "keyword", [render("utter_help_keyword", **values)]
    if hit is not None:  # before the opt-out silence: distress is never ignored
        return "safety", _escalate(
            session, conversation, hit.reason, hit.matched, now, opted_out=opted_out,
            values=values, team=team,
        )  # fmt: skip
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
    session: Session,
    conversation: Conversation,
    now: datetime,
    *,
    opted_out: bool,
    values: Mapping[str, str],
) -> list[str]:
    if opted_out:
        return []  # at most one confirmation (rule 10)
    record_consent(
        session, conversation.address, Channel.SMS, ConsentAction.OPT_OUT,
        source="keyword", account_id=conversation.account_id,
        conversation_id=conversation.id, now=now,
    )  # fmt: skip
    return [render("utter_opt_out_confirmed", **values)]


def _escalate(
    session: Session,
    conversation: Conversation,
    reason: HandoffReason,
    matched: str,
    now: datetime,
    *,
    opted_out: bool,
    values: Mapping[str, str],
    team: TeamHours,
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
        return [render(SAFETY_RESPONSES[reason], **values)]  # always (rule 16)
    if already or (conversation.channel == "sms" and opted_out):
        return []  # a person is already on it, or the number opted out: no reply
    response, when = handoff_reply(SAFETY_RESPONSES[reason], team, now)
    return [render(response, **values, **when)]
