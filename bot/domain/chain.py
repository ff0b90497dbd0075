"""The hash chain that makes a transcript tamper-evident.

Each message or event stored in a conversation gets a digest of its content (the fields that
never change after it is written: not delivery status or retry bookkeeping). Each link's chain
value is SHA-256 over the previous link's chain value and this digest, starting from a value
derived from the conversation id. Changing, deleting or reordering a stored entry breaks its
link and every later one; `transcripts verify` recomputes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

#: The content fields hashed for each kind of entry, in this order.
MESSAGE_FIELDS = (
    "id",
    "conversation_id",
    "direction",
    "sender",
    "channel",
    "text",
    "initiated",
    "purpose",
    "agent_id",
    "reply_to_id",
    "provider_sid_in",
    "created_at",
)
EVENT_FIELDS = ("id", "conversation_id", "account_id", "kind", "actor", "data", "created_at")
FIELDS = {"message": MESSAGE_FIELDS, "event": EVENT_FIELDS}


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def digest(entry_type: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 of an entry's content, independent of dict order and of the database's
    datetime round trip."""
    names = FIELDS[entry_type]
    body = {"type": entry_type, **{name: _canonical(fields.get(name)) for name in names}}
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def genesis(conversation_id: str) -> str:
    return hashlib.sha256(f"transcript:{conversation_id}".encode()).hexdigest()


def link(previous: str, entry_digest: str) -> str:
    return hashlib.sha256(f"{previous}:{entry_digest}".encode()).hexdigest()
