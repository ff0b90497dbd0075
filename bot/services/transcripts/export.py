"""Transcripts and search results as CSV (the columns in interfaces.md), with spreadsheet
formulas neutralised."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.services.transcripts.summaries import Summary
from bot.services.transcripts.view import Transcript

TRANSCRIPT_CSV_COLUMNS = (
    "conversation_id", "type", "id", "created_at_utc", "local_time", "direction", "sender",
    "agent", "channel", "status", "text", "event_kind", "event_actor", "event_data", "checks",
)  # fmt: skip
SEARCH_CSV_COLUMNS = (
    "id", "channel", "address", "account_ref", "debtor_name", "status", "started_at",
    "last_message_at", "message_count", "flags", "checks", "review_outcome", "reviewer",
)  # fmt: skip


def _csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(row.get(key)) for key in columns})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas (=, +, -, @ at the start of a cell)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def transcript_csv(transcript: Transcript) -> str:
    rows = []
    for entry in transcript.entries:
        row: dict[str, Any] = {
            "conversation_id": transcript.summary.id,
            "type": entry.type,
            "id": entry.id,
            "created_at_utc": entry.at.isoformat(),
            "local_time": entry.local_at.isoformat() if entry.local_at else "",
        }
        if entry.message is not None:
            m = entry.message
            row |= {
                "direction": m.direction, "sender": m.sender, "agent": entry.agent,
                "channel": m.channel, "status": m.status, "text": m.text,
                "checks": " ".join(f.check for f in entry.findings),
            }  # fmt: skip
        elif entry.event is not None:
            row |= {
                "event_kind": entry.event.kind,
                "event_actor": entry.event.actor,
                "event_data": json.dumps(entry.event.data, sort_keys=True),
            }
        rows.append(row)
    return _csv(TRANSCRIPT_CSV_COLUMNS, rows)


def search_csv(summaries: Iterable[Summary]) -> str:
    rows = []
    for s in summaries:
        row = s.as_dict()
        row["flags"] = " ".join(s.flags)
        row["checks"] = " ".join(s.check_codes)
        row["review_outcome"] = s.review.outcome if s.review else ""
        row["reviewer"] = s.review.reviewer if s.review else ""
        rows.append(row)
    return _csv(SEARCH_CSV_COLUMNS, rows)
