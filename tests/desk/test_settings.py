from __future__ import annotations

from pathlib import Path

import pytest

from desk.errors import SettingsError
from desk.settings import Settings


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"SWITCHBOARD_DATA_DIR": str(tmp_path), **extra}


def test_embedded_defaults(tmp_path: Path) -> None:
    s = Settings.from_env(env(tmp_path))
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'switchboard.db'}"
    assert s.redis_url is None
    assert len(s.secret_key) >= 32
    # The generated development secret survives restarts.
    assert Settings.from_env(env(tmp_path)).secret_key == s.secret_key
    assert "secret" not in repr(s) or s.secret_key not in repr(s)


def test_driver_aliases(tmp_path: Path) -> None:
    s = Settings.from_env(env(tmp_path, DATABASE_URL="postgresql://u@db.example/sb"))
    assert s.database_url == "postgresql+asyncpg://u@db.example/sb"
    s = Settings.from_env(env(tmp_path, DATABASE_URL="sqlite:///x/y.db"))
    assert s.database_url == "sqlite+aiosqlite:///x/y.db"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"DATABASE_URL": "mysql://x/y"}, "scheme 'mysql' is not supported"),
        ({"DATABASE_URL": "postgresql:///db"}, "needs a host"),
        ({"DATABASE_URL": "sqlite://"}, "needs a file path"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL scheme"),
        ({"REDIS_URL": "redis://"}, "REDIS_URL needs a host"),
        ({"REDIS_URL": "redis+sentinel:///sb/0"}, "names no Sentinel"),
        ({"REDIS_URL": "redis+sentinel://10.0.0.1:26379"}, "service name"),
        ({"REDIS_URL": "redis+sentinel://10.0.0.1:port/sb"}, "must be host:port"),
        ({"REDIS_URL": "redis+sentinel://10.0.0.1/sb/zero"}, "must be a number"),
        ({"SWITCHBOARD_PORT": "http"}, "must be an integer"),
        ({"SWITCHBOARD_PORT": "70000"}, "between 1 and 65535"),
        ({"SWITCHBOARD_MODE": "prod"}, "MODE must be"),
        ({"SWITCHBOARD_MODE": "production"}, "SECRET_KEY is required"),
        ({"SWITCHBOARD_MODE": "production", "SWITCHBOARD_SECRET_KEY": "short"}, "at least 32"),
        ({"SWITCHBOARD_PUBLIC_URL": "ftp://x"}, "PUBLIC_URL"),
        ({"SWITCHBOARD_SMTP_TLS": "maybe"}, "SMTP_TLS"),
    ],
)
def test_bad_settings_say_what_is_wrong(tmp_path: Path, extra: dict[str, str],
                                        message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env(tmp_path, **extra))


def test_console_origin_defaults_to_public_url(tmp_path: Path) -> None:
    s = Settings.from_env(env(tmp_path, SWITCHBOARD_PUBLIC_URL="https://desk.example/"))
    assert s.allowed_console_origins == ("https://desk.example",)
    s = Settings.from_env(env(tmp_path, SWITCHBOARD_CONSOLE_ORIGINS="https://a.example, https://b"))
    assert s.allowed_console_origins == ("https://a.example", "https://b")


def test_from_env_defaults_are_the_fields_defaults(tmp_path: Path) -> None:
    s = Settings.from_env(env(tmp_path))
    # Only what from_env derives from other inputs differs from the class's own defaults.
    assert s == Settings(secret_key=s.secret_key, data_dir=tmp_path, database_url=s.database_url)


def test_every_variable_overrides_its_field(tmp_path: Path) -> None:
    s = Settings.from_env(env(tmp_path, SWITCHBOARD_PORT="9000", SWITCHBOARD_HOST="0.0.0.0",
                              SWITCHBOARD_MAIL_LEASE="45", SWITCHBOARD_LOG_LEVEL="DEBUG",
                              SWITCHBOARD_MAIL_PER_CLIENT_HOUR="0"))
    assert (s.port, s.host, s.mail_lease_s, s.log_level, s.mail_per_client_per_hour) == (
        9000, "0.0.0.0", 45, "debug", 0)
    assert s.public_url == "http://0.0.0.0:9000"
