"""The one Settings object, built from the environment at each entry point.

Nothing reads the environment at import time: ``Settings.from_env()`` is called by the CLI (or a
test) and the result is passed down explicitly.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from desk.errors import SettingsError
from desk.net_guard import Network, parse_networks
from desk.redis_url import RedisUrlError
from desk.redis_url import check as check_url

PREFIX = "SWITCHBOARD_"
_DB_SCHEMES = {"sqlite+aiosqlite", "postgresql+asyncpg"}
_DB_ALIASES = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
               "postgres": "postgresql+asyncpg"}


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{PREFIX}{name} must be between {lo} and {hi}, got {value}")
    return value


def normalise_database_url(url: str) -> str:
    """Return ``url`` with an async driver, or raise SettingsError saying what is wrong."""
    parts = urlsplit(url)
    scheme = _DB_ALIASES.get(parts.scheme, parts.scheme)
    if scheme not in _DB_SCHEMES:
        raise SettingsError(
            f"DATABASE_URL scheme {parts.scheme!r} is not supported; "
            "use sqlite:///path/to/file.db or postgresql://user@host/db"
        )
    if scheme.startswith("postgresql") and not parts.hostname and "host=" not in parts.query:
        raise SettingsError("DATABASE_URL for PostgreSQL needs a host")
    if scheme.startswith("sqlite") and not parts.path.strip("/"):
        raise SettingsError("DATABASE_URL for SQLite needs a file path")
    return scheme + url[len(parts.scheme):]


def check_redis_url(url: str) -> str:
    try:
        return check_url(url)
    except RedisUrlError as exc:
        raise SettingsError(str(exc)) from exc


def _zone_name(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SettingsError(f"{PREFIX}REPORT_TZ: unknown time zone {name!r}") from None
    return name


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of a Switchboard process. Build with ``from_env``; tweak with ``replace``."""

    mode: str = "development"
    secret_key: str = field(default="", repr=False)
    data_dir: Path = Path("data")
    database_url: str = ""
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    console_origins: tuple[str, ...] = ()
    log_level: str = "info"
    # Web / WebSocket limits.
    ws_max_size: int = 64 * 1024
    ws_send_queue: int = 256
    ws_auth_timeout_s: float = 5.0
    ws_ping_interval_s: float = 20.0
    ws_msg_rate: float = 10.0
    ws_msg_burst: int = 30
    typing_rate: float = 5.0
    max_message_chars: int = 10_000
    # Attachments (desk.attachments): bytes per file; bytes and files per conversation.
    attachment_max_bytes: int = 10 * 1024 * 1024
    attachment_conversation_bytes: int = 50 * 1024 * 1024
    attachment_conversation_files: int = 50
    # Sessions and login.
    session_max_age_s: int = 12 * 3600
    login_attempts_per_min: int = 10
    # Routing.
    offer_timeout_s: int = 30
    presence_ttl_s: int = 30
    presence_grace_s: int = 60
    # Mail.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_tls: str = "none"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    # Sizes of incoming mail are ingest.mime.Limits, the IDLE interval ingest.imap.IDLE_S.
    imap_timeout_s: float = 30.0
    # Budget of mail a stranger can cause (routing.mail_budget): one transcript per chat per
    # interval; per recipient and per client address, mails per hour.
    mail_transcript_interval_s: int = 600
    mail_per_recipient_per_hour: int = 5
    mail_per_client_per_hour: int = 20
    # Rule notices to staff (by mail), per staff address and hour: a budget of their own.
    mail_staff_per_hour: int = 30
    # A worker sending a mail holds it this long (renewed while it sends): a killed worker's
    # mail is taken over when it lapses (ingest.outbound).
    mail_lease_s: int = 30
    # The customer's case page (desk.case_links): how long the link in a mail opens its case,
    # a one-time sign-in link may be redeemed, and the session a sign-in opens lasts.
    case_link_ttl_s: int = 30 * 86400
    signin_link_ttl_s: int = 15 * 60
    portal_session_ttl_s: int = 7 * 86400
    # A widget reading session that opened an article and started no chat within this long
    # counts as deflected (desk.kb.report).
    kb_deflection_window_s: int = 1800
    # Reports (desk.report_rollups): the zone whose local days the worker rolls up; a report
    # in another zone, or by hour, reads the facts.
    report_tz: str = "UTC"
    # Who's On (realtime.visits): a visitor unheard of this long has left the list; whether a
    # visitor is returning is remembered this long, and nothing of a visit longer; agents'
    # lists are pushed at most once per interval; page views counted per visitor per second,
    # and page-view beacons (realtime.visit_beacon) per client address per minute.
    visit_idle_s: int = 300
    visit_retention_s: int = 30 * 86400
    visit_push_ms: int = 250
    visit_views_per_s: int = 2
    visit_beacons_per_min: int = 600
    # Metrics (desk.metrics): the directory the processes of one host share for their series
    # (none: each process keeps its own, in memory), and the bearer token that lets a scrape
    # from another host read /metrics (none: loopback only).
    metrics_dir: Path | None = None
    metrics_token: str = field(default="", repr=False)
    # Outgoing HTTP to company URLs (webhooks, lookup providers: desk.net_guard): networks an
    # operator allows besides public addresses (a receiver on the LAN), and the deadline.
    outbound_allow_networks: tuple[Network, ...] = ()
    outbound_timeout_s: int = 10
    # Agent sign-in with OpenID Connect (desk.oidc): off unless issuer and client id are set;
    # auto_create lets any verified user of the issuer in as a new agent.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_auto_create: bool = False

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def loopback_aliases(self) -> bool:
        """Development mode takes a loopback page under any of its names (desk.origins)."""
        return self.mode == "development"

    @property
    def allowed_console_origins(self) -> tuple[str, ...]:
        return self.console_origins or (self.public_url.rstrip("/"),)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """The defaults are the fields' own (written once, on the class)."""
        d: dict[str, Any] = {f.name: f.default for f in fields(cls)}

        def text(name: str, key: str) -> str:
            return env.get(PREFIX + name, str(d[key]))

        def num(name: str, key: str, lo: int, hi: int) -> int:
            return _int(env, name, d[key], lo, hi)

        mode = text("MODE", "mode").strip().lower()
        if mode not in {"development", "production", "test"}:
            raise SettingsError(
                f"{PREFIX}MODE must be development, production or test, got {mode!r}"
            )
        secret = env.get(PREFIX + "SECRET_KEY", "")
        if mode == "production":
            if not secret:
                raise SettingsError(f"{PREFIX}SECRET_KEY is required in production mode")
            if len(secret) < 32:
                raise SettingsError(f"{PREFIX}SECRET_KEY must be at least 32 characters")
        data_dir = Path(text("DATA_DIR", "data_dir"))
        if not secret:
            secret = _dev_secret(data_dir)
        db_url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'switchboard.db'}"
        redis_url = env.get("REDIS_URL") or None
        port = num("PORT", "port", 1, 65535)
        host = text("HOST", "host")
        public_url = env.get(PREFIX + "PUBLIC_URL", f"http://{host}:{port}").rstrip("/")
        if urlsplit(public_url).scheme not in {"http", "https"}:
            raise SettingsError(f"{PREFIX}PUBLIC_URL must be an http(s) URL, got {public_url!r}")
        origins = tuple(
            o.strip().rstrip("/")
            for o in env.get(PREFIX + "CONSOLE_ORIGINS", "").split(",")
            if o.strip()
        )
        smtp_tls = text("SMTP_TLS", "smtp_tls").lower()
        metrics_token = env.get(PREFIX + "METRICS_TOKEN", "")
        if metrics_token and len(metrics_token) < 16:
            raise SettingsError(f"{PREFIX}METRICS_TOKEN must be at least 16 characters")
        try:
            allow_networks = parse_networks(env.get(PREFIX + "OUTBOUND_ALLOW_NETWORKS", ""))
        except ValueError as exc:
            raise SettingsError(f"{PREFIX}OUTBOUND_ALLOW_NETWORKS: {exc}") from None
        oidc_issuer = env.get(PREFIX + "OIDC_ISSUER", "").strip().rstrip("/")
        issuer_scheme = urlsplit(oidc_issuer).scheme
        if oidc_issuer and issuer_scheme != "https" and (mode == "production"
                                                        or issuer_scheme != "http"):
            raise SettingsError(f"{PREFIX}OIDC_ISSUER must be an https URL, got {oidc_issuer!r}")
        if smtp_tls not in {"none", "starttls", "tls"}:
            raise SettingsError(f"{PREFIX}SMTP_TLS must be none, starttls or tls")
        return cls(
            mode=mode,
            secret_key=secret,
            data_dir=data_dir,
            database_url=normalise_database_url(db_url),
            redis_url=check_redis_url(redis_url) if redis_url else None,
            host=host,
            port=port,
            public_url=public_url,
            console_origins=origins,
            log_level=text("LOG_LEVEL", "log_level").lower(),
            ws_max_size=num("WS_MAX_SIZE", "ws_max_size", 1024, 16 * 1024 * 1024),
            ws_send_queue=num("WS_SEND_QUEUE", "ws_send_queue", 1, 100_000),
            offer_timeout_s=num("OFFER_TIMEOUT", "offer_timeout_s", 1, 3600),
            presence_ttl_s=num("PRESENCE_TTL", "presence_ttl_s", 2, 3600),
            presence_grace_s=num("PRESENCE_GRACE", "presence_grace_s", 0, 86400),
            smtp_host=text("SMTP_HOST", "smtp_host"),
            smtp_port=num("SMTP_PORT", "smtp_port", 1, 65535),
            smtp_tls=smtp_tls,
            smtp_user=env.get(PREFIX + "SMTP_USER", ""),
            smtp_password=env.get(PREFIX + "SMTP_PASSWORD", ""),
            mail_lease_s=num("MAIL_LEASE", "mail_lease_s", 1, 3600),
            case_link_ttl_s=num("CASE_LINK_TTL", "case_link_ttl_s", 60, 365 * 86400),
            signin_link_ttl_s=num("SIGNIN_LINK_TTL", "signin_link_ttl_s", 60, 86400),
            portal_session_ttl_s=num("PORTAL_SESSION_TTL", "portal_session_ttl_s",
                                     60, 90 * 86400),
            attachment_max_bytes=num("ATTACHMENT_MAX_BYTES", "attachment_max_bytes",
                                     1024, 1024 * 1024 * 1024),
            attachment_conversation_bytes=num("ATTACHMENT_CONVERSATION_BYTES",
                                              "attachment_conversation_bytes",
                                              1024, 16 * 1024 * 1024 * 1024),
            attachment_conversation_files=num("ATTACHMENT_CONVERSATION_FILES",
                                              "attachment_conversation_files", 1, 10_000),
            visit_idle_s=num("VISIT_IDLE", "visit_idle_s", 10, 86400),
            visit_retention_s=num("VISIT_RETENTION", "visit_retention_s", 60, 400 * 86400),
            visit_push_ms=num("VISIT_PUSH_MS", "visit_push_ms", 50, 60_000),
            visit_views_per_s=num("VISIT_VIEWS_PER_S", "visit_views_per_s", 1, 100),
            visit_beacons_per_min=num("VISIT_BEACONS_PER_MIN", "visit_beacons_per_min",
                                      1, 1_000_000),
            kb_deflection_window_s=num("KB_DEFLECTION_WINDOW", "kb_deflection_window_s",
                                       0, 86400),
            report_tz=_zone_name(text("REPORT_TZ", "report_tz")),
            session_max_age_s=num("SESSION_MAX_AGE", "session_max_age_s", 60, 90 * 86400),
            login_attempts_per_min=num("LOGIN_ATTEMPTS_PER_MIN", "login_attempts_per_min",
                                       1, 10_000),
            mail_transcript_interval_s=num("MAIL_TRANSCRIPT_INTERVAL",
                                           "mail_transcript_interval_s", 0, 86400),
            mail_per_recipient_per_hour=num("MAIL_PER_RECIPIENT_HOUR",
                                            "mail_per_recipient_per_hour", 0, 10_000),
            metrics_dir=Path(env[PREFIX + "METRICS_DIR"]) if env.get(PREFIX + "METRICS_DIR")
            else None,
            metrics_token=metrics_token,
            mail_per_client_per_hour=num("MAIL_PER_CLIENT_HOUR", "mail_per_client_per_hour",
                                         0, 100_000),
            mail_staff_per_hour=num("MAIL_STAFF_HOUR", "mail_staff_per_hour", 0, 100_000),
            outbound_allow_networks=allow_networks,
            outbound_timeout_s=num("OUTBOUND_TIMEOUT", "outbound_timeout_s", 1, 120),
            oidc_issuer=oidc_issuer,
            oidc_client_id=env.get(PREFIX + "OIDC_CLIENT_ID", "").strip(),
            oidc_client_secret=env.get(PREFIX + "OIDC_CLIENT_SECRET", ""),
            oidc_auto_create=env.get(PREFIX + "OIDC_AUTO_CREATE", "") in {"1", "true", "yes"},
        )


def _dev_secret(data_dir: Path) -> str:
    """Outside production, keep a random secret in the data dir so restarts keep sessions."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value
