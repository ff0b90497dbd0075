"""Reading Twilio's Retry-After header (bot.twilio_client.parse_retry_after)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.twilio_client import parse_retry_after

NOW = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("Mon, 23 Nov 2026 18:31:30 GMT", 90.0),  # an HTTP date, 90 s after NOW
        ("Mon, 23 Nov 2026 18:00:00 GMT", 0.0),  # already past: try now
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),  # not delta-seconds
    ],
)
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds
