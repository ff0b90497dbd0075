"""action_payment_link: a signed link for the balance, or the amount asked."""

from __future__ import annotations

from actions.payment import ActionPaymentLink
from bot.services.payments import read_payment_token
from tests.actions.conftest import GATE_CLEARED, responses


def test_payment_link_is_for_the_whole_balance_by_default(
    verified, demo_account, make_tracker, run_action
):
    events, dispatcher = run_action(
        ActionPaymentLink(), make_tracker(verified, text="i want to pay", intent="pay_now")
    )

    assert events == GATE_CLEARED
    assert responses(dispatcher) == ["utter_payment_link"]
    token = dispatcher.messages[0]["link"].rstrip("/").rsplit("/", 1)[-1]
    assert read_payment_token(token, secret_key="test-secret-key") == ("ACC-100234", 136937)


def test_payment_link_needs_verification(conversation, make_tracker, run_action):
    _, dispatcher = run_action(
        ActionPaymentLink(), make_tracker(conversation, text="i want to pay", intent="pay_now")
    )

    assert responses(dispatcher) == ["utter_verify_first"]
