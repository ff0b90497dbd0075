"""Per-app singletons the routes share: the session factory and the gateway."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db import session_factory
from bot.gateway.pipeline import Gateway


def settings() -> Settings:
    return current_app.extensions["settings"]


def sessions() -> sessionmaker[Session]:
    return session_factory(settings().database_url)


def gateway() -> Gateway:
    return current_app.extensions["gateway"]


def resume_bot(conversation_id: str) -> bool:
    """Tell Rasa the bot has the conversation again (after a release). False when Rasa did
    not answer: the next debtor message still reaches the bot through the gateway, which
    only routes to an agent while a handoff is open."""
    from bot.gateway.rasa_client import RasaUnavailable

    try:
        gateway().rasa.resume(conversation_id)
        return True
    except RasaUnavailable:
        return False
