"""Log hygiene: the last line of defence that keeps card numbers, SSNs and credentials out of
every log line the process writes, whoever logs it (our code, Flask, werkzeug's request log,
gunicorn, a library's traceback).

Nothing we log should hold them in the first place (message texts are redacted before they
are stored, tokens and passwords are never logged); :class:`RedactingFilter` catches what a
mistake or a third-party library lets through. :func:`install_log_redaction` runs it on every
record as the record is made (through the log record factory), so it applies before any handler
or formatter sees the record, whichever handlers are configured later; the app factory calls it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from bot.domain.redaction import redact

MASK = "[redacted]"
#: Credentials by their shape: "Bearer <token>", "Basic <b64>", key=value pairs named like a
#: secret, and payment-link tokens in a logged URL (/pay/<token>).
_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s\"',;]+"), rf"\1\2{MASK}"),
    (
        re.compile(
            r"(?i)\b(password|passwd|pwd|secret(?:_key)?|auth_?token|api_?key|access_?token"
            r"|authorization)(\"?'?\s*[:=]\s*\"?'?)(?!\[redacted\])[^\s\"'&,;}]+"
        ),
        rf"\1\2{MASK}",
    ),
    (re.compile(r"(/pay/)[^\s\"'?#]+"), rf"\1{MASK}"),
)
_MAX_SECRETS = 32


def _scrub_shapes(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return redact(text).text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and traceback) with card numbers and SSNs masked
    (bot.domain.redaction.redact), credential-shaped values and the process's own secrets
    (registered with :meth:`add_secret`) replaced by "[redacted]". Never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: deque[str] = deque(maxlen=_MAX_SECRETS)
        self._lock = threading.Lock()

    def add_secret(self, value: str | None) -> None:
        """Mask this exact value wherever it appears (SECRET_KEY, TWILIO_AUTH_TOKEN...)."""
        if not value or len(value) < 8:
            return
        with self._lock:
            if value not in self._secrets:
                self._secrets.append(value)

    def scrub(self, text: str) -> str:
        for secret in tuple(self._secrets):
            if secret in text:
                text = text.replace(secret, MASK)
        text = _scrub_shapes(text)
        if "%" in text or "+" in text:  # a logged URL: "?q=4111+1111+1111+1111"
            decoded = unquote_plus(text)
            if decoded != text and (cleaned := _scrub_shapes(decoded)) != decoded:
                text = cleaned
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let logging report it as usual
            return True
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


@cache
def redacting_filter() -> RedactingFilter:
    return RedactingFilter()


_install_lock = threading.Lock()
_installed: list[RedactingFilter] = []


def install_log_redaction(*secrets: str | None) -> RedactingFilter:
    """Run the redacting filter on every log record this process makes (once; later calls
    only register more `secrets` to mask)."""
    redactor = redacting_filter()
    for secret in secrets:
        redactor.add_secret(secret)
    with _install_lock:
        if not _installed:
            make_record = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = make_record(*args, **kwargs)
                redactor.filter(record)
                return record

            logging.setLogRecordFactory(factory)
            _installed.append(redactor)
    return redactor
