"""Staff users, their passwords and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bot.db import utcnow
from bot.models import ApiToken, StaffUser
from bot.services.errors import Conflict, NotFound, ServiceError

MIN_PASSWORD_LENGTH = 10


class Role(StrEnum):
    AGENT = "agent"
    COMPLIANCE = "compliance"
    ADMIN = "admin"


class WeakPassword(ServiceError):
    code = "weak_password"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_user(session: Session, email: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.email == normalize_email(email)))


def create_user(session: Session, email: str, role: Role, password: str) -> StaffUser:
    email = normalize_email(email)
    if "@" not in email:
        raise ServiceError(f"not an email address: {email!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    if get_user(session, email) is not None:
        raise Conflict(f"a user {email} already exists")
    user = StaffUser(email=email, role=role.value, password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    return user


def check_password(user: StaffUser, password: str) -> bool:
    return user.active and check_password_hash(user.password_hash, password)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, email: str) -> str:
    """A new API token for the user. Returned once; only its hash is kept."""
    user = get_user(session, email)
    if user is None:
        raise NotFound(f"no user {normalize_email(email)}")
    token = "cat_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), prefix=token[:10]))
    session.flush()
    return token


def user_for_token(
    session: Session, token: str, *, now: datetime | None = None
) -> StaffUser | None:
    """The active user a bearer token belongs to, or None. Looked up by hash, compared in
    constant time."""
    digest = _digest(token)
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
    )
    if row is None or not hmac.compare_digest(row.token_hash, digest) or not row.user.active:
        return None
    row.last_used_at = now or utcnow()
    return row.user


def count_users(session: Session) -> int:
    return session.scalar(select(func.count(StaffUser.id))) or 0
