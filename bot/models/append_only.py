"""Append-only tables: the audit log, the consent ledger and conversation events are never
changed or deleted through the app (corrections are new rows). Enforced for single rows
(flush) and for bulk UPDATE/DELETE statements run through any ORM session. The only exception
is the retention purge, which deletes whole expired transcripts with an explicit option."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from bot.models.contact import ConsentEvent
from bot.models.conversations import ConversationEvent
from bot.models.review import ConversationReview, TranscriptLink
from bot.models.staff import AuditLog

APPEND_ONLY: tuple[type, ...] = (
    AuditLog,
    ConsentEvent,
    ConversationEvent,
    ConversationReview,
    TranscriptLink,
)
_TABLES = frozenset(model.__table__.name for model in APPEND_ONLY)  # type: ignore[attr-defined]


#: Execution option that lets the retention purge delete rows older than the retention period.
RETENTION_PURGE = "retention_purge"


class AppendOnlyError(RuntimeError):
    pass


def _refuse_change(_mapper: object, _connection: object, target: object) -> None:
    raise AppendOnlyError(f"{type(target).__name__} rows are append-only")


for _model in APPEND_ONLY:
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    if state.execution_options.get(RETENTION_PURGE):
        return  # the retention purge (rule 20): the one sanctioned change
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) in _TABLES:
        raise AppendOnlyError(f"{table.name} is append-only")
