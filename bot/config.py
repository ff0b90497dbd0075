"""Configuration, read from the environment (and a `.env` file) once, by the app factory or CLI.

Nothing here runs at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"


def _secret_key(var_dir: Path) -> str:
    """The SECRET_KEY from the environment, or one generated once into var/ (mode 0600)."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


@dataclass(frozen=True)
class Settings:
    database_url: str
    rasa_url: str = "http://localhost:5005"
    action_server_url: str = "http://localhost:5055"
    tracker_store_url: str | None = None
    lock_store_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str = "https://api.twilio.com"
    public_base_url: str | None = None
    secret_key: str = field(default="", repr=False)
    company_name: str = "Evergreen Health Billing"
    support_phone: str = "(800) 555-0199"
    collector_type: str = "first_party"
    policy_file: Path = ROOT / "bot" / "policy.yml"
    var_dir: Path = VAR_DIR
    environment: str = "development"

    @property
    def third_party(self) -> bool:
        return self.collector_type == "third_party"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (after reading `.env`), with explicit overrides on top."""
    load_dotenv(ROOT / ".env", override=False)
    env = os.environ.get
    var_dir = Path(env("VAR_DIR", str(VAR_DIR)))
    values: dict[str, object] = {
        "database_url": env("DATABASE_URL", f"sqlite:///{var_dir / 'app.db'}"),
        "rasa_url": env("RASA_URL", "http://localhost:5005"),
        "action_server_url": env("ACTION_SERVER_URL", "http://localhost:5055"),
        "tracker_store_url": env("TRACKER_STORE_URL"),
        "lock_store_url": env("LOCK_STORE_URL"),
        "twilio_account_sid": env("TWILIO_ACCOUNT_SID"),
        "twilio_auth_token": env("TWILIO_AUTH_TOKEN"),
        "twilio_from_number": env("TWILIO_FROM_NUMBER"),
        "twilio_messaging_service_sid": env("TWILIO_MESSAGING_SERVICE_SID"),
        "twilio_api_base_url": env("TWILIO_API_BASE_URL", "https://api.twilio.com"),
        "public_base_url": env("PUBLIC_BASE_URL"),
        "company_name": env("COMPANY_NAME", "Evergreen Health Billing"),
        "support_phone": env("SUPPORT_PHONE", "(800) 555-0199"),
        "collector_type": env("COLLECTOR_TYPE", "first_party"),
        "policy_file": Path(env("POLICY_FILE", str(ROOT / "bot" / "policy.yml"))),
        "var_dir": var_dir,
        "environment": env("APP_ENV", "development"),
    }
    values.update(overrides)
    if "secret_key" not in values:
        values["secret_key"] = _secret_key(Path(str(values["var_dir"])))
    if values["collector_type"] not in ("first_party", "third_party"):
        raise ValueError("COLLECTOR_TYPE must be first_party or third_party")
    return Settings(**values)  # type: ignore[arg-type]
