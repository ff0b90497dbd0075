"""Outbound rules every reply passes (compliance rules 5, 22): the opt-out line on the first
reply of a conversation, GSM-7 friendly characters, and the 1,600-character body limit."""

from __future__ import annotations

MAX_BODY = 1600

# Characters that force UCS-2 encoding, and their plain GSM-7 equivalents.
_PLAIN = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"',
        "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u2026": "...", "\u00a0": " ", "\u2022": "-",
    }
)  # fmt: skip


def plain(text: str) -> str:
    return text.translate(_PLAIN)


def compose(replies: list[str], *, opt_out_line: str | None) -> list[str]:
    """The SMS bodies for one turn's replies: joined with line breaks, the opt-out line on
    the first reply of a conversation, split between replies (never inside one) so that no
    body passes 1,600 characters."""
    parts = [plain(r).strip() for r in replies if r and r.strip()]
    if opt_out_line and parts:
        parts.append(opt_out_line)
    bodies: list[str] = []
    current = ""
    for part in parts:
        part = part[:MAX_BODY]
        candidate = f"{current}\n{part}" if current else part
        if len(candidate) > MAX_BODY:
            bodies.append(current)
            current = part
        else:
            current = candidate
    if current:
        bodies.append(current)
    return bodies
