"""GET /api/v1/accounts/<account_ref>: the balance and its parts, charges, plans, promises,
disputes, holds, hardship, validation requests, contact preferences and opt-out state."""

from __future__ import annotations

from datetime import date, time

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.domain.contact import Channel, HoldReason
from bot.models import (
    AuditLog,
    Charge,
    Dispute,
    HardshipRecord,
    Installment,
    PaymentPlan,
    Promise,
    ValidationRequest,
)
from bot.services.consent import ConsentAction, record_consent, set_preference
from bot.services.holds import place_hold
from tests.web.conftest import auth, demo_account

URL = "/api/v1/accounts/ACC-100234"


@pytest.mark.parametrize("role", ["agent", "compliance", "admin"])
def test_each_staff_role_reads_the_demo_account(
    api: FlaskClient, tokens: dict[str, str], role: str
) -> None:
    response = api.get(URL, headers=auth(tokens[role]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["account_ref"] == "ACC-100234"
    balance = body["balance"]
    assert balance["total"] == "1369.37" and balance["total_cents"] == 136937
    assert balance["collectible"] == "1369.37" and balance["collectible_cents"] == 136937
    assert balance["disputed"] == "0.00" and balance["disputed_cents"] == 0
    for part in ("principal", "interest", "fees", "payments", "adjustments"):
        assert isinstance(balance[part], str) and isinstance(balance[f"{part}_cents"], int)
        assert balance[part] == f"{balance[f'{part}_cents'] / 100:.2f}"
    assert (
        balance["principal_cents"]
        + balance["interest_cents"]
        + balance["fees_cents"]
        - balance["payments_cents"]
        + balance["adjustments_cents"]
        == 136937
    )
    assert len(body["charges"]) == 6
    for charge in body["charges"]:
        date.fromisoformat(charge["posted_on"])
        assert isinstance(charge["amount"], str) and isinstance(charge["amount_cents"], int)
        assert charge["disputed"] is False
    assert body["plans"] == [] and body["promises"] == [] and body["disputes"] == []
    assert body["holds"] == [] and body["hardship_records"] == []
    assert body["validation_requests"] == []
    contact = body["contact"]
    assert contact["phone"] == "+12065550134"
    assert contact["opted_out"]["sms"] is False
    assert contact["preferences"] is None
    assert contact["ceased"] is False and contact["wrong_number"] is False
    assert "ssn_last4" not in body and "date_of_birth" not in body


def test_unknown_account_is_404(api: FlaskClient, tokens: dict[str, str]) -> None:
    response = api.get("/api/v1/accounts/ACC-000000", headers=auth(tokens["agent"]))
    assert response.status_code == 404
    assert response.is_json and response.get_json()["error"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer cat_wrong", "Token abc"])
def test_401_without_a_valid_token(api: FlaskClient, tokens: dict[str, str], header) -> None:  # type: ignore[no-untyped-def]
    response = api.get(URL, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.is_json and response.get_json()["error"]
    # An unknown account does not leak through a missing token either.
    assert api.get("/api/v1/accounts/ACC-000000").status_code == 401


def test_a_deactivated_user_is_401(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    from bot.models import StaffUser

    user = session.scalars(select(StaffUser).where(StaffUser.email == "agent@example.com")).one()
    user.active = False
    session.commit()
    assert api.get(URL, headers=auth(tokens["agent"])).status_code == 401


def test_viewing_an_account_is_audited(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    assert api.get(URL, headers=auth(tokens["compliance"])).status_code == 200
    session.rollback()
    rows = list(session.scalars(select(AuditLog)))
    assert [(r.action, r.actor, r.target_id) for r in rows] == [
        ("api.account.view", "compliance@example.com", "ACC-100234")
    ]


def test_everything_on_the_account(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    account = demo_account(session)
    charges = list(
        session.scalars(
            select(Charge).where(Charge.account_id == account.id).order_by(Charge.posted_on)
        )
    )
    fee = next(c for c in charges if c.kind == "fee")
    now = utcnow()
    plan = PaymentPlan(
        account_id=account.id,
        option_key="monthly_3",
        kind="installments",
        frequency="monthly",
        balance_cents=136937,
        total_cents=136937,
        created_by="bot",
        created_at=now,
    )
    plan.installments = [
        Installment(seq=1, due_on=date(2026, 12, 1), amount_cents=45646),
        Installment(seq=2, due_on=date(2027, 1, 1), amount_cents=45646),
        Installment(seq=3, due_on=date(2027, 2, 1), amount_cents=45645),
    ]
    session.add(plan)
    session.add(
        Promise(
            account_id=account.id, amount_cents=5000, due_on=date(2026, 12, 15), created_by="bot"
        )
    )
    dispute = Dispute(
        reference="D-7Q2K9",
        account_id=account.id,
        charge_id=fee.id,
        reason="not_mine",
        created_by="bot",
    )
    session.add(dispute)
    session.flush()
    place_hold(
        session, account, HoldReason.DISPUTE, actor="bot", charge_id=fee.id, dispute_id=dispute.id
    )
    session.add(
        HardshipRecord(
            account_id=account.id,
            category="job_loss",
            temporary=True,
            affordable_monthly_cents=7500,
            note="lost job, SSN 123-45-6789",
            created_by="bot",
        )
    )
    session.add(
        ValidationRequest(
            reference="V-3J8M1", account_id=account.id, kind="validation", created_by="bot"
        )
    )
    set_preference(
        session,
        account,
        actor="bot",
        channels=frozenset({Channel.SMS}),
        earliest=time(9, 0),
        latest=time(17, 30),
    )
    record_consent(session, account.phone or "", "sms", ConsentAction.OPT_OUT, source="keyword")
    session.commit()

    response = api.get(URL, headers=auth(tokens["agent"]))
    assert response.status_code == 200
    body = response.get_json()

    balance = body["balance"]
    assert balance["total"] == "1369.37"
    assert balance["disputed_cents"] == fee.amount_cents
    assert balance["collectible_cents"] == 136937 - fee.amount_cents
    assert balance["collectible"] == f"{(136937 - fee.amount_cents) / 100:.2f}"
    disputed = [c for c in body["charges"] if c["disputed"]]
    assert [c["id"] for c in disputed] == [fee.id]

    [plan_json] = body["plans"]
    assert plan_json["status"] == "active" and plan_json["total"] == "1369.37"
    assert [i["due_on"] for i in plan_json["installments"]] == [
        "2026-12-01",
        "2027-01-01",
        "2027-02-01",
    ]
    assert plan_json["installments"][2]["amount"] == "456.45"
    assert plan_json["installments"][2]["amount_cents"] == 45645
    assert plan_json["installments"][0]["status"] == "scheduled"

    [promise] = body["promises"]
    assert promise == {**promise, "amount": "50.00", "amount_cents": 5000, "due_on": "2026-12-15"}
    assert promise["status"] == "open"

    [dispute_json] = body["disputes"]
    assert dispute_json["reference"] == "D-7Q2K9" and dispute_json["status"] == "open"
    assert dispute_json["charge"]["id"] == fee.id
    assert dispute_json["charge"]["amount_cents"] == fee.amount_cents

    [hold] = body["holds"]
    assert hold["reason"] == "dispute" and hold["charge_id"] == fee.id

    [hardship] = body["hardship_records"]
    assert hardship["category"] == "job_loss" and hardship["temporary"] is True
    assert hardship["affordable_monthly"] == "75.00"
    assert "123-45-6789" not in (hardship["note"] or "")

    [validation] = body["validation_requests"]
    assert validation["reference"] == "V-3J8M1" and validation["status"] == "open"

    contact = body["contact"]
    assert contact["opted_out"]["sms"] is True
    assert contact["preferences"] == {
        "channels": ["sms"],
        "earliest": "09:00:00",
        "latest": "17:30:00",
        "avoid_work_hours": False,
        "avoid_weekends": False,
    }


def test_opt_in_after_opt_out_shows_not_opted_out(
    api: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    phone = demo_account(session).phone or ""
    record_consent(session, phone, "sms", ConsentAction.OPT_OUT, source="keyword")
    record_consent(session, phone, "sms", ConsentAction.OPT_IN, source="keyword")
    session.commit()
    body = api.get(URL, headers=auth(tokens["admin"])).get_json()
    assert body["contact"]["opted_out"]["sms"] is False


def test_negative_amounts_format_as_decimal_strings() -> None:
    from bot.web.api import money

    assert money(136937) == "1369.37"
    assert money(5) == "0.05"
    assert money(0) == "0.00"
    assert money(-500) == "-5.00"
    assert money(-1) == "-0.01"
