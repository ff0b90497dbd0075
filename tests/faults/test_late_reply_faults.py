"""Rasa failing after the gateway's deadline: the webhook has already been acknowledged with an
empty TwiML, so whatever the debtor is to read now can only go through the outbox."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.gateway.rasa_client import RasaUnavailable
from bot.services.outbox import deliver_due
from bot.twilio_client import LogSender
from bot.wording import render
from tests.faults.conftest import gateway_app, inbound_rows, post_sms, replies_to

pytestmark = pytest.mark.integration

HOLDING = render("utter_holding")


class DiesLate:
    """Rasa accepting the message, then dying (SIGKILL, OOM) after the gateway's deadline."""

    def send(
        self, sender: str, text: str, *, metadata: dict[str, Any], timeout: float
    ) -> list[str]:
        time.sleep(0.4)
        raise RasaUnavailable("('Connection aborted.', RemoteDisconnected(...))")

    def pause(self, sender: str, *, timeout: float = 5) -> None:
        pass


def test_rasa_dying_after_the_deadline_the_holding_reply_still_reaches_the_debtor(
    database_url: str, session: Session, tmp_path: Path
) -> None:
    app = gateway_app(database_url, tmp_path / "var", "http://127.0.0.1:9")
    gateway = app.extensions["gateway"]
    gateway.rasa, gateway.deadline = DiesLate(), 0.1
    sid = "SM" + "1a7e" * 8
    reply = post_sms(app, "how much do i owe", "+13035550199", sid)
    assert reply.status == 200 and reply.bodies == []  # acknowledged within the deadline
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        session.expire_all()
        [row] = inbound_rows(session, sid)
        if replies_to(session, row.id):
            break
        time.sleep(0.05)
    [holding] = replies_to(session, row.id)
    assert holding.text.startswith(HOLDING)
    sender = LogSender()
    deliver_due(gateway.sessions, sender, now=utcnow())
    assert [body for _, _, body in sender.sent] == [holding.text]  # the debtor does get it
