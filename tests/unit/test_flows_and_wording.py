"""The assistant's wiring and wording, checked statically against domain.yml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from actions.flows import FOLLOWUPS, FORMS, TRANSITIONS

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
RESPONSES: dict[str, list[dict]] = DOMAIN["responses"]
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Placeholders are filled with formatted values; budget for what they can hold.
PLACEHOLDER_BUDGET = {"link": 110, "description": 60, "company_name": 40, "support_phone": 16}


def test_generated_flow_rules_are_current() -> None:
    from scripts.gen_flow_rules import render

    assert (ROOT / "data" / "flows.yml").read_text() == render(), (
        "run: .venv/bin/python scripts/gen_flow_rules.py"
    )


def test_followup_slot_lists_every_next_step() -> None:
    assert DOMAIN["slots"]["followup"]["values"] == list(FOLLOWUPS)


def test_every_step_in_the_flows_is_a_known_action_or_form() -> None:
    known = set(DOMAIN["actions"]) | set(DOMAIN["forms"])
    steps = set(TRANSITIONS) | set(FOLLOWUPS)
    assert steps <= known, steps - known
    assert set(FORMS) == set(DOMAIN["forms"])


def _responses_used_in_actions() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "actions").glob("*.py"):
        names |= set(re.findall(r'"(utter_[a-z0-9_]+)"', path.read_text()))
    return names


def test_every_response_an_action_sends_exists() -> None:
    used = _responses_used_in_actions()
    # f-string names: utter_plan_option_{frequency}
    missing = {n for n in used if n not in RESPONSES}
    assert not missing


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_response_is_plain_gsm7_and_fits_two_sms_segments(name: str) -> None:
    for variation in RESPONSES[name]:
        text = variation["text"]
        filled = re.sub(r"\{(\w+)\}", lambda m: "x" * PLACEHOLDER_BUDGET.get(m.group(1), 18), text)
        assert set(filled) <= GSM7, f"{name}: characters outside GSM-7: {set(filled) - GSM7}"
        assert len(filled) <= 320, f"{name}: {len(filled)} characters with values filled in"


THREATS = re.compile(
    r"\b(sue|lawsuit|arrest|jail|garnish|wage|credit report|court|legal action|police)\w*", re.I
)


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_no_response_threatens(name: str) -> None:
    for variation in RESPONSES[name]:
        assert not THREATS.search(variation["text"]), name
