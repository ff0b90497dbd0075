"""itemize(): the balance of an account and its parts, in integer cents."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.balance import (
    ChargeKind,
    ChargeLine,
    Itemization,
    asked_about,
    itemize,
    signed_amount,
)

AS_OF = date(2026, 11, 23)
P, INT, F, PAY, ADJ = (
    ChargeKind.PRINCIPAL,
    ChargeKind.INTEREST,
    ChargeKind.FEE,
    ChargeKind.PAYMENT,
    ChargeKind.ADJUSTMENT,
)


def line(kind: ChargeKind, cents: int, charge_id: int | None = None, day: int = 1) -> ChargeLine:
    return ChargeLine(
        charge_id=charge_id,
        posted_on=date(2026, 1, day),
        description=f"{kind.value} line",
        kind=kind,
        amount_cents=cents,
    )


def from_placement(
    principal: int, interest: int, fees: int, received: tuple[int, ...] = ()
) -> Itemization:
    return itemize(
        placed_principal_cents=principal,
        placed_interest_cents=interest,
        placed_fees_cents=fees,
        charges=[],
        payments_received_cents=received,
        as_of=AS_OF,
    )


def from_history(
    charges: list[ChargeLine], received: tuple[int, ...] = (), disputed: tuple[int, ...] = ()
) -> Itemization:
    # Placement amounts that disagree with the history: the history must win.
    return itemize(
        placed_principal_cents=999_999,
        placed_interest_cents=888_888,
        placed_fees_cents=777_777,
        charges=charges,
        payments_received_cents=received,
        disputed_charge_ids=disputed,
        as_of=AS_OF,
    )


@pytest.mark.parametrize(
    ("principal", "interest", "fees", "received", "total"),
    [
        pytest.param(120000, 10437, 6500, (), 136937, id="demo-account-no-payments"),
        pytest.param(120000, 10437, 6500, (5000,), 131937, id="one-payment-reduces"),
        pytest.param(48000, 2250, 0, (1000, 2500), 46750, id="two-payments-reduce"),
        pytest.param(8999, 0, 1500, (), 10499, id="odd-cents-no-interest"),
        pytest.param(10000, 1, 1, (), 10002, id="single-cents-kept"),
    ],
)
def test_placement_amounts_itemize_to_their_sum_less_payments(
    principal: int, interest: int, fees: int, received: tuple[int, ...], total: int
) -> None:
    result = from_placement(principal, interest, fees, received)

    assert (result.principal_cents, result.interest_cents, result.fees_cents) == (
        principal,
        interest,
        fees,
    )
    assert result.payments_cents == sum(received)
    assert result.adjustments_cents == 0
    assert result.disputed_cents == 0
    assert result.total_cents == total
    assert result.collectible_cents == total
    assert result.charges == ()
    assert result.as_of == AS_OF


def test_payments_beyond_the_balance_leave_nothing_collectible() -> None:
    result = from_placement(10000, 0, 0, (6000, 6000))

    assert result.total_cents == -2000  # a credit: the account was overpaid
    assert result.collectible_cents == 0


@pytest.mark.parametrize(
    ("charges", "parts", "total"),
    [
        pytest.param(
            [
                line(P, 85000),
                line(P, 35000),
                line(INT, 5210),
                line(INT, 5227),
                line(F, 4000),
                line(F, 2500),
            ],
            (120000, 10437, 6500, 0, 0),
            136937,
            id="demo-history-of-acc-100234",
        ),
        pytest.param(
            [line(P, 50000), line(PAY, 12000)],
            (50000, 0, 0, 12000, 0),
            38000,
            id="payment-as-positive-amount-reduces",
        ),
        pytest.param(
            [line(P, 50000), line(PAY, -12000)],
            (50000, 0, 0, 12000, 0),
            38000,
            id="payment-as-negative-amount-also-reduces",
        ),
        pytest.param(
            [line(P, 50000), line(F, 3500), line(ADJ, -3500)],
            (50000, 0, 3500, 0, -3500),
            50000,
            id="negative-adjustment-waives-fee",
        ),
        pytest.param(
            [line(P, 50000), line(ADJ, 1234)],
            (50000, 0, 0, 0, 1234),
            51234,
            id="positive-adjustment-adds",
        ),
        pytest.param(
            [line(P, 3333), line(P, 3333), line(P, 3334), line(INT, 1), line(PAY, 1)],
            (10000, 1, 0, 1, 0),
            10000,
            id="thirds-that-do-not-divide-evenly-sum-exactly",
        ),
    ],
)
def test_charges_history_itemizes_by_kind(
    charges: list[ChargeLine], parts: tuple[int, int, int, int, int], total: int
) -> None:
    result = from_history(charges)

    assert (
        result.principal_cents,
        result.interest_cents,
        result.fees_cents,
        result.payments_cents,
        result.adjustments_cents,
    ) == parts
    assert result.total_cents == total
    assert result.collectible_cents == total
    assert result.charges == tuple(charges)


def test_payments_received_after_placement_add_to_payments_in_history() -> None:
    result = from_history([line(P, 50000), line(PAY, 10000)], received=(2500, 500))

    assert result.payments_cents == 13000
    assert result.total_cents == 37000


@pytest.mark.parametrize(
    ("disputed", "disputed_cents", "collectible"),
    [
        pytest.param((), 0, 66500, id="nothing-disputed"),
        pytest.param((2,), 35000, 31500, id="one-principal-charge"),
        pytest.param((2, 3), 41500, 25000, id="principal-and-fee"),
        pytest.param((4,), 0, 66500, id="disputing-a-payment-adds-nothing"),
        pytest.param((99,), 0, 66500, id="unknown-charge-id-ignored"),
        pytest.param((1, 2, 3), 91500, 0, id="everything-disputed-never-negative"),
    ],
)
def test_disputed_charges_are_excluded_from_collectible_but_stay_in_total(
    disputed: tuple[int, ...], disputed_cents: int, collectible: int
) -> None:
    charges = [
        line(P, 50000, charge_id=1),
        line(P, 35000, charge_id=2),
        line(F, 6500, charge_id=3),
        line(PAY, 25000, charge_id=4),
    ]

    result = from_history(charges, disputed=disputed)

    assert result.total_cents == 66500
    assert result.disputed_cents == disputed_cents
    assert result.collectible_cents == collectible


@pytest.mark.parametrize(
    ("kind", "amount", "effect"),
    [
        (P, 1000, 1000),
        (INT, 250, 250),
        (F, 4000, 4000),
        (PAY, 1500, -1500),
        (PAY, -1500, -1500),
        (ADJ, -700, -700),
        (ADJ, 700, 700),
    ],
)
def test_signed_amount_is_the_lines_effect_on_the_balance(
    kind: ChargeKind, amount: int, effect: int
) -> None:
    assert signed_amount(line(kind, amount)) == effect


def test_total_is_the_sum_of_signed_line_effects() -> None:
    charges = [
        line(P, 120001),
        line(INT, 10437),
        line(F, 6500),
        line(PAY, 3333),
        line(PAY, -1111),
        line(ADJ, -999),
        line(ADJ, 17),
    ]

    result = from_history(charges)

    assert result.total_cents == sum(signed_amount(c) for c in charges)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("what is this interest charge", ChargeKind.INTEREST),
        ("how much interest are you charging me", ChargeKind.INTEREST),
        ("why is there a late fee", ChargeKind.FEE),
        ("where did all these fees come from", ChargeKind.FEE),
        ("did you get my payments", ChargeKind.PAYMENT),
        ("what is the principal", ChargeKind.PRINCIPAL),
        ("why is my balance so high", None),
        ("how much is interest vs principal", None),  # two parts: the whole breakdown
        ("I'm interested in a breakdown", None),
    ],
)
def test_a_question_names_the_one_part_of_the_balance_it_is_about(
    text: str, kind: ChargeKind | None
) -> None:
    assert asked_about(text) is kind
