"""Which step may follow which action. An action asks for the next step by setting the
`followup` slot (see :func:`then`); the rules in data/flows.yml, generated from this table by
scripts/gen_flow_rules.py, turn that into the next action, so the flows are visible to Rasa's
policies and to the test stories instead of hidden in FollowupAction events."""

from __future__ import annotations

from rasa_sdk.events import SlotSet

FORMS = (
    "verify_form",
    "plan_form",
    "promise_form",
    "hardship_form",
    "dispute_form",
    "reschedule_form",
)

#: Actions that show or change something about the debt: run only after verification.
GATED = (
    "action_check_balance",
    "action_itemization",
    "action_payment_link",
    "action_offer_plans",
    "action_settlement",
    "action_start_promise",
    "action_start_hardship_form",
    "action_start_dispute",
    "action_request_validation",
    "action_contact_preference",
    "action_reschedule_payment",
)

TRANSITIONS: dict[str, tuple[str, ...]] = {
    **{action: ("verify_form",) for action in GATED},
    "action_greet": ("verify_form",),
    "action_start_hardship": ("verify_form", "hardship_form"),
    "action_verify_identity": ("verify_form", *GATED),
    "action_offer_plans": ("verify_form", "plan_form", "promise_form"),
    "action_settlement": ("verify_form", "plan_form", "action_offer_plans"),
    "action_accept_plan": ("plan_form", "action_offer_plans"),
    "action_start_promise": ("verify_form", "promise_form"),
    "action_record_promise": ("promise_form",),
    "action_start_hardship_form": ("verify_form", "hardship_form"),
    "action_record_hardship": ("action_offer_plans",),
    "action_start_dispute": ("verify_form", "dispute_form"),
    "action_reschedule_payment": ("verify_form", "reschedule_form"),
}

#: Questions a person may ask in the middle of any form: answered, then the form goes on.
DIGRESSIONS: tuple[tuple[str, str], ...] = (
    ("ask_who", "action_ask_who"),
    ("bot_challenge", "utter_iamabot"),
    ("check_balance", "action_check_balance"),
    ("ask_itemization", "action_itemization"),
    ("thank", "utter_you_are_welcome"),
)

FOLLOWUPS: tuple[str, ...] = tuple(sorted({t for targets in TRANSITIONS.values() for t in targets}))


def then(step: str | None) -> SlotSet:
    """Ask for `step` to run next (None: wait for the person)."""
    return SlotSet("followup", step)
