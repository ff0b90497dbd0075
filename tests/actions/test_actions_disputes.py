"""Disputes and validation requests: charges listed, a reference, the hold."""

from __future__ import annotations

from sqlalchemy import select

from actions.disputes import ActionOpenDispute, ActionRequestValidation, ActionStartDispute
from bot.models import Dispute, Hold, ValidationRequest
from bot.services.balances import charge_lines
from tests.actions.conftest import GATE_CLEARED, responses, slot

RESET = [slot("dispute_target", None), slot("dispute_reason", None), slot("dispute_charges", None)]


def test_start_dispute_lists_the_demo_charges_and_opens_the_form(
    session, verified, demo_account, make_tracker, run_action
):
    lines = [c for c in charge_lines(session, demo_account.id) if c.kind.value != "payment"]

    events, dispatcher = run_action(
        ActionStartDispute(),
        make_tracker(verified, text="i want to dispute a charge", intent="dispute_charge"),
    )

    assert len(lines) == 6  # demo/charges.csv for ACC-100234
    assert responses(dispatcher) == ["utter_dispute_intro"] + ["utter_charge_line"] * 6
    first = dispatcher.messages[1]
    assert first["posted_on"].startswith("1) ")
    assert {m["description"] for m in dispatcher.messages[1:]} == {
        "Emergency room visit",
        "Lab work",
        "Interest",
        "Late fee",
        "Statement fee",
    }
    assert events == [
        *GATE_CLEARED,
        *RESET,
        slot("asked_again", None),
        slot("dispute_charges", [c.charge_id for c in lines]),
        slot("followup", "dispute_form"),
    ]


def test_a_dispute_said_again_while_choosing_does_not_list_the_charges_again(
    session, verified, demo_account, make_tracker, run_action
):
    """'I already paid this last month' while the list is on screen: the reason is taken and
    the form asks which charge, without a second copy of the intro and the six charges."""
    ids = [c.charge_id for c in charge_lines(session, demo_account.id) if c.kind.value != "payment"]
    tracker = make_tracker(
        verified, text="i already paid this last month", intent="dispute_charge",
        slots={"dispute_charges": ids, "requested_slot": "dispute_target"},
        active_loop="dispute_form",
    )  # fmt: skip
    events, dispatcher = run_action(ActionStartDispute(), tracker)

    assert responses(dispatcher) == []
    assert slot("dispute_reason", "already_paid") in events
    assert slot("dispute_charges", ids) in events


def test_a_dispute_that_names_one_charge_takes_it_without_the_list(
    session, verified, demo_account, make_tracker, run_action
):
    """'I want to dispute the late fee, I already paid it': that charge and that reason, no
    list of six charges to choose from; 'the interest' is two charges, so the list."""
    fee = next(c for c in charge_lines(session, demo_account.id) if c.description == "Late fee")
    tracker = make_tracker(
        verified, text="I want to dispute the late fee, I already paid it",
        intent="dispute_charge",
    )  # fmt: skip
    events, dispatcher = run_action(ActionStartDispute(), tracker)

    assert responses(dispatcher) == ["utter_dispute_charge_named"]
    assert (dispatcher.messages[0]["description"], dispatcher.messages[0]["amount"]) == (
        "Late fee", "$40.00",
    )  # fmt: skip
    assert slot("dispute_target", str(fee.charge_id)) in events
    assert slot("dispute_reason", "already_paid") in events

    tracker = make_tracker(verified, text="i dispute the interest", intent="dispute_charge")
    _, dispatcher = run_action(ActionStartDispute(), tracker)
    assert responses(dispatcher)[0] == "utter_dispute_intro"


def test_start_dispute_takes_the_reason_from_the_first_message(verified, make_tracker, run_action):
    events, _ = run_action(
        ActionStartDispute(),
        make_tracker(verified, text="i already paid this", intent="dispute_charge"),
    )

    assert slot("dispute_reason", "already_paid") in events


def test_open_dispute_on_one_charge_gives_a_reference_and_holds_that_charge(
    session, verified, demo_account, make_tracker, run_action
):
    charge_id = charge_lines(session, demo_account.id)[0].charge_id
    tracker = make_tracker(
        verified,
        text="that amount is wrong",
        slots={"dispute_target": str(charge_id), "dispute_reason": "wrong_amount"},
    )

    events, dispatcher = run_action(ActionOpenDispute(), tracker)

    assert events == [*GATE_CLEARED, *RESET]
    assert responses(dispatcher) == ["utter_dispute_recorded_charge"]
    dispute = session.scalars(select(Dispute)).one()
    assert dispatcher.messages[0]["reference"] == dispute.reference
    assert dispute.reference.startswith("D-")
    assert dispatcher.messages[0]["days"] == 30
    assert (dispute.charge_id, dispute.reason) == (charge_id, "wrong_amount")
    hold = session.scalars(select(Hold)).one()
    assert (hold.reason, hold.charge_id, hold.dispute_id) == ("dispute", charge_id, dispute.id)


def test_the_same_dispute_again_says_it_is_already_open_with_its_reference(
    session, verified, demo_account, make_tracker, run_action
):
    """Disputing the late fee twice: one dispute, and the second answer says so rather than
    'Your dispute is recorded' with the first one's reference."""
    charge_id = charge_lines(session, demo_account.id)[0].charge_id
    slots = {"dispute_target": str(charge_id), "dispute_reason": "already_paid"}
    run_action(ActionOpenDispute(), make_tracker(verified, text="i paid it", slots=slots))
    _, dispatcher = run_action(
        ActionOpenDispute(), make_tracker(verified, text="i paid it", slots=slots)
    )

    dispute = session.scalars(select(Dispute)).one()
    assert responses(dispatcher) == ["utter_dispute_already_open"]
    assert dispatcher.messages[0]["reference"] == dispute.reference


def test_open_dispute_on_the_whole_debt_holds_the_account(
    session, verified, demo_account, make_tracker, run_action
):
    tracker = make_tracker(
        verified,
        text="none of it is mine",
        slots={"dispute_target": "all", "dispute_reason": "not_mine"},
    )

    events, dispatcher = run_action(ActionOpenDispute(), tracker)

    assert events == [*GATE_CLEARED, *RESET]
    assert responses(dispatcher) == ["utter_dispute_recorded_account"]
    hold = session.scalars(select(Hold)).one()
    assert (hold.account_id, hold.charge_id, hold.released_at) == (demo_account.id, None, None)


def test_validation_request_is_recorded_with_a_v_reference(
    session, verified, make_tracker, run_action
):
    events, dispatcher = run_action(
        ActionRequestValidation(),
        make_tracker(verified, text="send me validation of this debt", intent="request_validation"),
    )

    assert events == GATE_CLEARED
    assert responses(dispatcher) == ["utter_validation_recorded"]
    request = session.scalars(select(ValidationRequest)).one()
    assert dispatcher.messages[0]["reference"] == request.reference
    assert request.reference.startswith("V-")
    assert request.kind == "validation"


def test_original_creditor_request_gets_its_own_response(
    session, verified, make_tracker, run_action
):
    _, dispatcher = run_action(
        ActionRequestValidation(),
        make_tracker(verified, text="who is the original creditor", intent="request_validation"),
    )

    assert responses(dispatcher) == ["utter_original_creditor_recorded"]
    assert session.scalars(select(ValidationRequest)).one().kind == "original_creditor"
