"""Secrets come from the environment or from var/: files made there are 0600 in a 0700
directory (whatever the umask), read back on the next start, narrowed when found too open, and
never shown by repr."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import load_settings, local_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: the modes must come from the code, not from the shell."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def no_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.config.load_dotenv", lambda *a, **k: False)  # a developer's .env
    for name in ("SECRET_KEY", "TWILIO_AUTH_TOKEN", "APP_ENV"):
        monkeypatch.delenv(name, raising=False)


def test_generated_secret_key_is_0600_in_a_0700_var_dir(
    tmp_path: Path, open_umask: None, no_env_secrets: None
) -> None:
    var = tmp_path / "var"
    settings = load_settings(var_dir=var, database_url="sqlite://")
    key_file = var / "secret_key"
    assert mode(var) == 0o700 and mode(key_file) == 0o600
    assert len(settings.secret_key) >= 32 and key_file.read_text() == settings.secret_key
    assert load_settings(var_dir=var, database_url="sqlite://").secret_key == settings.secret_key


def test_secret_key_from_the_environment_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_env_secrets: None
) -> None:
    monkeypatch.setenv("SECRET_KEY", "from-the-environment-0123456789")
    settings = load_settings(var_dir=tmp_path / "var", database_url="sqlite://")
    assert settings.secret_key == "from-the-environment-0123456789"
    assert not (tmp_path / "var").exists()


def test_a_var_dir_and_secret_found_too_open_are_narrowed(tmp_path: Path, open_umask: None) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    (var / "secret_key").write_text("kept-as-it-was-0123456789")
    (var / "secret_key").chmod(0o644)
    assert local_secret(var, "secret_key") == "kept-as-it-was-0123456789"
    assert mode(var) == 0o700 and mode(var / "secret_key") == 0o600


def test_an_empty_secret_file_is_an_error_not_an_empty_key(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o700)
    (var / "secret_key").touch(mode=0o600)
    with pytest.raises(RuntimeError, match="is empty"):
        local_secret(var, "secret_key")


def test_dev_twilio_token_is_private_and_only_in_development(
    tmp_path: Path, open_umask: None, no_env_secrets: None
) -> None:
    from bot.web import create_app

    dev = create_app({"var_dir": tmp_path / "dev", "database_url": "sqlite://"})
    token_file = tmp_path / "dev" / "dev_twilio_token"
    assert mode(token_file) == 0o600 and mode(tmp_path / "dev") == 0o700
    assert dev.extensions["twilio_token"] == token_file.read_text()
    production = create_app(
        {"var_dir": tmp_path / "prod", "database_url": "sqlite://", "environment": "production"}
    )
    assert production.extensions["twilio_token"] is None
    assert not (tmp_path / "prod" / "dev_twilio_token").exists()


def test_settings_repr_shows_no_secret(tmp_path: Path) -> None:
    settings = load_settings(
        var_dir=tmp_path,
        database_url="sqlite://",
        secret_key="the-secret-key-0123456789",
        twilio_auth_token="the-twilio-token-0123456789",
    )
    assert "the-secret-key" not in repr(settings)
    assert "the-twilio-token" not in repr(settings)
