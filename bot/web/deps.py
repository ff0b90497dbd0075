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
