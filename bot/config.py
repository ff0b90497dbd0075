"""Configuration, read from the environment (and a `.env` file) once, by the app factory or CLI.

Nothing here runs at import time: call :func:`load_settings`.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

from dotenv import load_dotenv

from bot.domain.team_hours import TeamHours

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"
log = logging.getLogger(__name__)


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner can enter (0700), created if missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        try:
            path.chmod(0o700)
        except OSError as exc:  # not ours to change: say so, keep going
            log.warning("could not make %s private (0700): %s", path, exc)
    return path


def local_secret(var_dir: Path, name: str, generate: int = 48) -> str:
    """A secret kept in `var_dir/name`: created once (mode 0600 in a 0700 directory, never
    readable by anyone else, not even for a moment), then read back. A file found readable
    by others is narrowed to 0600 first."""
    path = private_dir(var_dir) / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            log.warning("%s was readable by others; narrowed to 0600", path)
            path.chmod(0o600)
        for _ in range(50):  # another process may have created it a moment ago
            if value := path.read_text().strip():
                return value
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty: remove it to have a new one made") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(generate))
    return path.read_text().strip()


def _secret_key(var_dir: Path) -> str:
    """The SECRET_KEY from the environment, or one generated once into var/ (mode 0600)."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    return local_secret(var_dir, "secret_key")


@dataclass(frozen=True)
class RateLimits:
    """Request limits on the public endpoints, in the `limits` notation ("20/minute;200/hour").
    Each is read from `RATE_LIMIT_<NAME>` (e.g. RATE_LIMIT_SMS_PER_PHONE). A person texting or
    chatting stays far below them; a script or a reply loop does not (README, "Rate limits")."""

    sms_per_phone: str = "20/minute;200/hour"
    sms_per_ip: str = "3000/minute"
    chat_per_session: str = "30/minute;300/hour"
    chat_per_ip: str = "300/minute"
    chat_poll_per_session: str = "240/minute"
    chat_poll_per_ip: str = "3000/minute"
    login_per_email: str = "5/15 minutes"
    login_per_ip: str = "20/15 minutes"
    pay_per_ip: str = "30/minute"

    @classmethod
    def from_env(cls) -> RateLimits:
        values = {
            f.name: value
            for f in fields(cls)
            if (value := os.environ.get(f"RATE_LIMIT_{f.name.upper()}"))
        }
        return cls(**values)


@dataclass(frozen=True)
class Settings:
    database_url: str
    rasa_url: str = "http://localhost:5005"
    action_server_url: str = "http://localhost:5055"
    tracker_store_url: str | None = None
    lock_store_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
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
    rate_limit_storage_url: str | None = None
    rate_limits: RateLimits = field(default_factory=RateLimits)
    team_hours: str = "Mon-Fri 08:00-20:00"
    team_timezone: str = "America/Los_Angeles"

    @property
    def team(self) -> TeamHours:
        """When agents are in to answer a handoff (TEAM_HOURS in TEAM_TIMEZONE)."""
        return TeamHours.parse(self.team_hours, self.team_timezone)

    @property
    def third_party(self) -> bool:
        return self.collector_type == "third_party"

    @property
    def rasa_urls(self) -> tuple[str, ...]:
        """RASA_URL as a list: one Rasa server, or several (comma- or space-separated), among
        which the gateway keeps each conversation on one (bot.gateway.rasa_client)."""
        return split_urls(self.rasa_url)


def split_urls(value: str) -> tuple[str, ...]:
    """ "http://a:5005, http://b:5005" -> ("http://a:5005", "http://b:5005"), without trailing
    slashes or repeats."""
    urls: list[str] = []
    for part in value.replace(",", " ").split():
        url = part.rstrip("/")
        if url and url not in urls:
            urls.append(url)
    return tuple(urls)


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
        "rate_limit_storage_url": env("RATE_LIMIT_STORAGE_URL"),
        "rate_limits": RateLimits.from_env(),
        "team_hours": env("TEAM_HOURS", "Mon-Fri 08:00-20:00"),
        "team_timezone": env("TEAM_TIMEZONE", "America/Los_Angeles"),
    }
    values.update(overrides)
    if "secret_key" not in values:
        values["secret_key"] = _secret_key(Path(str(values["var_dir"])))
    if values["collector_type"] not in ("first_party", "third_party"):
        raise ValueError("COLLECTOR_TYPE must be first_party or third_party")
    settings = Settings(**values)  # type: ignore[arg-type]
    try:
        settings.team  # noqa: B018 - read once here, so a typo stops the start, not a handoff
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ValueError(
            f"TEAM_HOURS / TEAM_TIMEZONE: {exc} (e.g. 'Mon-Fri 08:00-20:00; Sat 09:00-13:00' "
            "and 'America/Los_Angeles', or TEAM_HOURS=always)"
        ) from None
    return settings
