"""The audit trail: who viewed, searched, exported or changed what, and from where."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
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


class AuditAction:
    """The names of what is audited (strings in the table; listed here to search by)."""

    TRANSCRIPT_VIEW = "transcript.view"
    TRANSCRIPT_SEARCH = "transcript.search"
    TRANSCRIPT_EXPORT = "transcript.export"
    TRANSCRIPT_REVIEW = "transcript.review"
    CHECKS_VIEW = "checks.view"
    METRICS_VIEW = "metrics.view"
    AUDIT_VIEW = "audit.view"
    RETENTION_PURGE = "retention.purge"


@dataclass
class AuditPage:
    entries: list[AuditLog]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def audit_entries(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> AuditPage:
    """The trail, newest first, filtered. Read-only: nothing in the app edits it."""
    where = []
    if actor:
        where.append(func.lower(AuditLog.actor) == actor.strip().lower())
    if action:
        where.append(AuditLog.action == action)
    if target_id:
        where.append(AuditLog.target_id == target_id)
    if since:
        where.append(AuditLog.at >= since)
    if until:
        where.append(AuditLog.at < until)
    total = session.scalar(select(func.count(AuditLog.id)).where(*where)) or 0
    entries = session.scalars(
        select(AuditLog)
        .where(*where)
        .order_by(AuditLog.id.desc())
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    return AuditPage(list(entries), max(page, 1), per_page, total)
