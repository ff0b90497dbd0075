"""Web chat for debtors: the page (GET /chat) and its JSON API.

The page's conversation lives in the signed, HttpOnly Flask session (a random address and the
conversation id), so a reload keeps it. Messages go through the same gateway pipeline as SMS,
from redaction on. The page polls GET /chat/api/messages every second: that is how an agent's
replies appear without a reload.

Cross-site requests cannot use the API: it needs the `X-Requested-With: fetch` header (a
cross-origin page cannot send it without a CORS preflight, which we never answer) and, for
POST, a JSON body; a foreign Origin is refused outright.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, render_template, request, session
from werkzeug.exceptions import HTTPException

from bot.db import utcnow
from bot.domain.text import well_formed
from bot.gateway.turns import Inbound
from bot.models import Conversation
from bot.services.delivery import web_chat_messages
from bot.services.handoff import who_answers
from bot.web.deps import gateway, sessions, settings

bp = Blueprint(
    "chat",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/chat/static",
)
log = logging.getLogger(__name__)

MAX_TEXT = 2000
PAGE_SIZE = 200

_KEY = "chat_key"  # the web chat's address: a random handle, one per browser session
_CONVERSATION = "chat_conversation"


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[Response, int]:
    return jsonify(error=exc.error, message=exc.message), exc.status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response | HTTPException:
    """JSON, not an HTML page, for errors under the API (e.g. 413 for an oversized body)."""
    if not request.path.startswith("/chat/api/"):
        return exc
    response = jsonify(
        error=(exc.name or "error").lower().replace(" ", "_"), message=exc.description
    )
    response.status_code = exc.code or 500
    return response


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith("/chat/api/"):
        response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------------------- helpers
def _chat_key() -> str:
    key = session.get(_KEY)
    if not isinstance(key, str) or not key.startswith("web-"):
        key = "web-" + secrets.token_hex(16)
        session[_KEY] = key
    return key


def browser_key() -> str | None:
    """This browser's chat address when it has one (never makes one): the rate limits' key."""
    key = session.get(_KEY)
    return key if isinstance(key, str) and key.startswith("web-") else None


def _require_same_origin_fetch() -> None:
    if request.headers.get("X-Requested-With") != "fetch":
        raise ApiError(403, "forbidden", "This API is only for the chat page.")
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        here = urlsplit(request.host_url)
        there = urlsplit(origin)
        if (there.scheme, there.netloc) != (here.scheme, here.netloc):
            raise ApiError(403, "forbidden", "Cross-site requests are not allowed.")
    elif origin == "null":
        raise ApiError(403, "forbidden", "Cross-site requests are not allowed.")


def _read_text() -> str:
    if not request.is_json:
        raise ApiError(400, "bad_request", "Send JSON: Content-Type: application/json.")
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", 'Send a JSON object like {"text": "hello"}.')
    text = body.get("text")
    if not isinstance(text, str):
        raise ApiError(400, "bad_request", 'The "text" field is required and must be a string.')
    text = well_formed(text).strip()  # a lone "\ud800" in the JSON: U+FFFD, storable
    if not text:
        raise ApiError(400, "bad_request", "Please type a message first.")
    if len(text) > MAX_TEXT:
        raise ApiError(400, "too_long", f"Messages can be at most {MAX_TEXT:,} characters.")
    return text


def _current_conversation_id() -> str | None:
    """The conversation of this browser, while it is open."""
    conversation_id = session.get(_CONVERSATION)
    if not isinstance(conversation_id, str):
        return None
    with sessions()() as db:
        conversation = db.get(Conversation, conversation_id)
        if conversation is None or conversation.status == "closed":
            return None
        if conversation.channel != "web" or conversation.address != session.get(_KEY):
            return None
    return conversation_id


def _iso(value: datetime) -> str:
    return value.isoformat()


def _messages_after(conversation_id: str, after: int) -> Response:
    """The conversation's messages newer than `after`, oldest first, and who answers next
    (`handled_by`: "assistant", "waiting" for a person, or "agent"), which the page shows.
    Outbound web messages still queued (late bot replies, agent replies) are delivered by
    being returned here."""
    with sessions().begin() as db:
        rows = web_chat_messages(db, conversation_id, after=after, limit=PAGE_SIZE, now=utcnow())
        messages = [
            {
                "id": message.id,
                "direction": message.direction,
                "sender": message.sender,
                "text": message.text,
                "created_at": _iso(message.created_at),
            }
            for message in rows
        ]
        return jsonify(messages=messages, handled_by=who_answers(db, conversation_id))


# ---------------------------------------------------------------------------- routes
@bp.get("/chat")
def page() -> str:
    _chat_key()
    return render_template("chat.html", company_name=settings().company_name, max_text=MAX_TEXT)


@bp.post("/chat/api/messages")
def send() -> tuple[Response, int]:
    _require_same_origin_fetch()
    text = _read_text()
    key = _chat_key()
    conversation_id = _current_conversation_id()
    try:
        outcome = gateway().handle(
            Inbound(channel="web", address=key, text=text, conversation_id=conversation_id)
        )
    except Exception:
        log.exception("web chat message failed")
        raise ApiError(
            503, "unavailable", "Sorry, we could not take your message. Please try again."
        ) from None
    session[_CONVERSATION] = outcome.conversation_id
    # This turn: the debtor's message and whatever answered it (ids from the inbound on).
    return _messages_after(outcome.conversation_id, outcome.message_id - 1), 200


@bp.get("/chat/api/messages")
def poll() -> Response:
    _require_same_origin_fetch()
    raw = request.args.get("after", "0")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ApiError(400, "bad_request", '"after" must be a message id (a whole number).')
    conversation_id = _current_conversation_id()
    if conversation_id is None:
        return jsonify(messages=[], handled_by="assistant")
    return _messages_after(conversation_id, int(raw))
