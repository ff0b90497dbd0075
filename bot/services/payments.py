"""Payment links. Taking the payment is the payment provider's job: we hand the debtor a
signed, expiring link to the provider's page (a placeholder page in this product)."""

from __future__ import annotations

from datetime import datetime

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from bot.models import Account
from bot.services.events import EventKind, record_event

LINK_VALID_SECONDS = 24 * 3600
_SALT = "payment-link"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def payment_link(
    session: Session,
    account: Account,
    *,
    amount_cents: int,
    base_url: str,
    secret_key: str,
    now: datetime,
    conversation_id: str | None = None,
) -> str:
    token = _serializer(secret_key).dumps({"a": account.account_ref, "c": amount_cents})
    record_event(
        session,
        EventKind.PAYMENT_LINK,
        actor="bot",
        conversation_id=conversation_id,
        account_id=account.id,
        data={"amount_cents": amount_cents},
        at=now,
    )
    return f"{base_url.rstrip('/')}/pay/{token}"


def read_payment_token(token: str, *, secret_key: str) -> tuple[str, int] | None:
    """(account_ref, amount_cents) of a valid, unexpired link; None otherwise."""
    try:
        data = _serializer(secret_key).loads(token, max_age=LINK_VALID_SECONDS)
    except (BadSignature, SignatureExpired):
        return None
    return str(data["a"]), int(data["c"])
