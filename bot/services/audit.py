"""The audit trail: who viewed, searched, exported or changed what, and from where."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.models import AuditLog, StaffUser


def audit(
    session: Session,
    action: str,
    *,
    user: StaffUser | None = None,
    actor: str | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        actor_id=user.id if user else None,
        actor=actor or (user.email if user else "system"),
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        ip=ip,
        detail=detail or {},
    )
    session.add(entry)
    session.flush()
    return entry
