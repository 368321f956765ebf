"""Settings: one pydantic-settings class, read through the cached ``get_settings()``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bandwise.errors import ConfigurationError

DEFAULT_SQLITE_PATH = Path("data/bandwise.db")
MIN_API_TOKEN_LENGTH = 16  # shorter bearer tokens can be guessed
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "change_me", "password", "secret"})

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"


def normalise_database_url(raw: str) -> str:
    """Return ``raw`` with the async driver the engine needs (``postgres://`` → asyncpg)."""
    raw = raw.strip()
    if not raw:
        raise ValueError("is empty")
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ValueError("is not a database URL (expected postgresql://… or sqlite:///…)") from exc
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql"):
        url = url.set(drivername=POSTGRES_DRIVER)
        query = dict(url.query)
        # asyncpg spells libpq's sslmode as ssl.
        if "sslmode" in query:
            query["ssl"] = query.pop("sslmode")
            url = url.set(query=query)
    elif backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise ValueError("must name a SQLite file (an in-memory database loses every row)")
        url = url.set(drivername=SQLITE_DRIVER)
    else:
        raise ValueError(f"uses unsupported database {backend!r} (use postgresql or sqlite)")
    return url.render_as_string(hide_password=False)


def mask_url(url: str | URL) -> str:
    """Render a database URL with its password replaced by ``***``."""
    parsed = make_url(url) if isinstance(url, str) else url
    # hide_password renders "***" (set(password="***") would be percent-encoded).
    return parsed.render_as_string(hide_password=True)


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    if isinstance(value, int):
        return [value]
    return value


class Settings(BaseSettings):
    """Every setting of bandwise, from the environment (and an optional ``.env`` file)."""

    model_config = SettingsConfigDict(
        env_file=None,
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
        # An empty value in an env file means "not set" (BACKUP_ENCRYPTION_KEY= is no key).
        env_ignore_empty=True,
    )

    # Database ---------------------------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None,
        description="Database URL: postgresql://… (normalised to asyncpg) or sqlite:///path.db. "
        "Unset: composed from POSTGRES_*; none of them: the SQLite file data/bandwise.db.",
    )
    postgres_host: str | None = Field(
        default=None, description="PostgreSQL host when DATABASE_URL is unset."
    )
    postgres_port: int = Field(default=5432, ge=1, le=65535, description="PostgreSQL port.")
    postgres_db: str | None = Field(default=None, description="PostgreSQL database name.")
    postgres_user: str | None = Field(default=None, description="PostgreSQL role.")
    postgres_password: SecretStr | None = Field(default=None, description="PostgreSQL password.")
    sqlite_path: Path = Field(
        default=DEFAULT_SQLITE_PATH,
        description="SQLite file used when no PostgreSQL is configured.",
    )
    db_pool_size: int = Field(
        default=10, ge=1, le=1000, description="Connections kept in the pool."
    )
    db_max_overflow: int = Field(
        default=20, ge=0, le=1000, description="Extra connections under load."
    )
    db_pool_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for a pooled connection."
    )
    db_pool_recycle: int = Field(
        default=3600, ge=-1, description="Seconds after which a connection is replaced."
    )
    db_connect_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to establish one connection."
    )
    db_statement_timeout: float = Field(
        default=30.0,
        ge=0,
        description="Seconds a statement may run before the server cancels it (0: no limit).",
    )
    db_startup_timeout: float = Field(
        default=60.0,
        ge=0,
        description="Seconds to wait for the database at start-up before giving up.",
    )
    db_sqlite_busy_timeout: float = Field(
        default=5.0,
        ge=0,
        description="Seconds SQLite waits for a lock before 'database is locked'.",
    )
    db_sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="SQLite's PRAGMA synchronous (WAL): FULL syncs every commit to disk, no "
        "acknowledged write is lost on power loss; NORMAL is faster but may lose the last "
        "commits.",
    )
    db_retry_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Attempts for an idempotent unit of work on transient errors.",
    )
    db_echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")
    db_pgbouncer: bool = Field(
        default=False,
        description="PgBouncer transaction pooling in front: prepared-statement caches off.",
    )
    database_direct_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL that bypasses PgBouncer, for the alerter's leadership lock "
        "(a session-level advisory lock, which transaction pooling cannot hold); required "
        "with DB_PGBOUNCER=true when alerts are configured. Unset: DATABASE_URL.",
    )
    db_application_name: str = Field(
        default="bandwise", description="application_name on PostgreSQL."
    )
    db_stats_interval: float = Field(
        default=30.0, gt=0, description="Seconds between PostgreSQL statistics collections."
    )

    # HTTP service --------------------------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP service listens on.")
    api_port: int = Field(
        default=8080, ge=1, le=65535, description="Port the HTTP service listens on."
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for every route but /health/* (required when API_HOST is not "
        f"loopback; at least {MIN_API_TOKEN_LENGTH} characters).",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Token for the operator's /admin page (as a bearer token, or once as "
        "/admin?token=… which sets a cookie); unset: /admin answers 404.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level."
    )
    run_migrations_on_startup: bool = Field(
        default=True,
        description="Apply pending schema migrations when the service starts (off: a schema "
        "not at head stops the start-up with exit code 4, the database unchanged).",
    )
    maintenance_flag_path: Path = Field(
        default=Path("data/maintenance.flag"),
        description="While this file exists the service is in maintenance mode (writes frozen).",
    )

    # Limits -----------------------------------------------------------------------------------
    daily_submission_limit: int = Field(
        default=3, ge=1, description="Free checks per candidate per day."
    )
    pro_daily_limit: int | None = Field(
        default=None, ge=1, description="Checks per day for Pro candidates (unset: unlimited)."
    )
    limit_timezone: str = Field(
        default="UTC", description="Time zone in which the daily limit resets."
    )

    # Telegram bot ---------------------------------------------------------------------------------
    bot_token: SecretStr | None = Field(
        default=None, description="Telegram bot token (unset: no bot)."
    )
    admin_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Telegram ids of admins, comma separated."
    )
    webhook_url: str | None = Field(default=None, description="Public HTTPS URL for webhook mode.")
    webhook_secret: SecretStr | None = Field(default=None, description="Webhook secret token.")
    telegram_api_url: str = Field(
        default="https://api.telegram.org",
        description="Bot API server the bot talks to (a local Bot API server, a test double).",
    )
    bot_startup_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Seconds the bot may take to reach the Bot API at start-up: readiness reports it "
            "as starting meanwhile, `bot run` exits 1 past it."
        ),
    )
    redis_url: SecretStr | None = Field(
        default=None, description="Redis URL for shared FSM storage."
    )
    pro_price_stars: int = Field(default=250, ge=1, description="Price of Pro in Telegram Stars.")
    pro_period_days: int = Field(default=30, ge=1, description="Days of Pro bought by one payment.")

    # Bot conversation ---------------------------------------------------------------------------
    bot_processing_notice_seconds: float = Field(
        default=4.0,
        ge=0,
        description="Seconds of scoring after which the bot says it is processing.",
    )
    bot_webhook_path: str = Field(
        default="/telegram/webhook", description="Path of the webhook route in the HTTP service."
    )
    bot_webhook_ack_seconds: float = Field(
        default=50.0,
        gt=0,
        description="Seconds a webhook post waits for its update to be handled before Telegram "
        "gets its answer: an instance that dies before answering has the update delivered "
        "again; an update still running past it finishes in the background.",
    )

    shutdown_grace_seconds: float = Field(
        default=200.0,
        gt=0,
        description=(
            "Seconds a stop (SIGTERM, SIGINT) waits for requests and updates in flight; must "
            "cover the scoring deadline, AI_TIMEOUT × (AI_MAX_RETRIES + 1)."
        ),
    )

    # Assessment -----------------------------------------------------------------------------------
    ai_api_key: SecretStr | None = Field(
        default=None,
        description="API key of the OpenAI-compatible provider (unset: offline assessor).",
    )
    ai_base_url: str = Field(
        default="https://openrouter.ai/api/v1", description="Provider base URL."
    )
    ai_model: str = Field(default="openai/gpt-4o-mini", description="Model name at the provider.")
    ai_timeout: float = Field(default=60.0, gt=0, description="Seconds per provider request.")
    ai_max_retries: int = Field(default=2, ge=0, le=10, description="Retries on 429/5xx.")
    pending_sweep_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often a running service gives back the checks of abandoned pending "
        "submissions (every instance may sweep; each row is claimed once).",
    )
    pending_sweep_margin_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Added to the scoring deadline (AI_TIMEOUT × (AI_MAX_RETRIES + 1)) before a "
        "pending submission counts as abandoned.",
    )

    # Backups ------------------------------------------------------------------------------------
    backup_dir: Path = Field(default=Path("backups"), description="Directory holding backups.")
    backup_encryption_key: SecretStr | None = Field(
        default=None,
        description="Key for authenticated encryption of backups (unset: not encrypted).",
    )
    backup_keep_daily: int = Field(default=7, ge=0, description="Daily backups kept.")
    backup_keep_weekly: int = Field(default=4, ge=0, description="Weekly backups kept.")
    backup_pg_bindir: Path | None = Field(
        default=None,
        description="Directory with pg_dump/pg_restore (unset: pg_config --bindir, then the newest "
        "/usr/lib/postgresql/*/bin).",
    )
    backup_keep_monthly: int = Field(default=6, ge=0, description="Monthly backups kept.")
    backup_schedule: str = Field(
        default="0 3 * * *", description="Cron expression (UTC) for backups."
    )

    # Alerts -------------------------------------------------------------------------------------
    alert_webhook_url: str | None = Field(
        default=None, description="URL receiving alert JSON posts."
    )
    alert_cooldown_seconds: float = Field(
        default=900.0,
        ge=0,
        description="Seconds between reminders while an alert keeps firing (0: no reminders); "
        "a new episode and its resolution are always announced at once.",
    )

    # Monitoring ---------------------------------------------------------------------------------
    alert_telegram_api_url: str | None = Field(
        default=None,
        description="Bot API base URL for the alerter's messages to admins (with BOT_TOKEN); "
        "unset: TELEGRAM_API_URL, the server the bot talks to.",
    )

    @field_validator("database_url", "database_direct_url", mode="before")
    @classmethod
    def _normalise_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return normalise_database_url(raw)

    @field_validator("api_token")
    @classmethod
    def _check_api_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value().strip() if value is not None else ""
        if token.lower() in PLACEHOLDER_SECRETS:
            return value  # the placeholder check below names it as such
        if value is not None and len(token) < MIN_API_TOKEN_LENGTH:
            raise ValueError(
                f"must be at least {MIN_API_TOKEN_LENGTH} characters "
                "(generate one with: openssl rand -hex 32)"
            )
        return value

    @field_validator("db_sqlite_synchronous", mode="before")
    @classmethod
    def _upper_synchronous(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("limit_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        for name in ("postgres_password", "api_token", "admin_token", "webhook_secret"):
            secret = getattr(self, name)
            if (
                secret is not None
                and secret.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS
            ):
                raise ValueError(f"{name.upper()} is still the placeholder; set a real secret")
        deadline = self.ai_timeout * (self.ai_max_retries + 1)
        if self.shutdown_grace_seconds < deadline:
            raise ValueError(
                f"SHUTDOWN_GRACE_SECONDS ({self.shutdown_grace_seconds:g}) must cover the scoring "
                f"deadline AI_TIMEOUT × (AI_MAX_RETRIES + 1) = {deadline:g} s"
            )
        url = self.database_url
        if url is not None:
            password = make_url(url.get_secret_value()).password
            if password is not None and str(password).lower() in PLACEHOLDER_SECRETS:
                raise ValueError("DATABASE_URL contains the placeholder password; set a real one")
        return self

    # Derived ------------------------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        """Return the URL the engine connects to (with its password)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        if self.postgres_host or self.postgres_db or self.postgres_user:
            user = quote(self.postgres_user or "postgres", safe="")
            password = (
                ":" + quote(self.postgres_password.get_secret_value(), safe="")
                if self.postgres_password
                else ""
            )
            host = self.postgres_host or "localhost"
            db = quote(self.postgres_db or self.postgres_user or "postgres", safe="")
            return f"{POSTGRES_DRIVER}://{user}{password}@{host}:{self.postgres_port}/{db}"
        return f"{SQLITE_DRIVER}:///{self.sqlite_path}"

    @property
    def resolved_alert_telegram_api_url(self) -> str:
        """Return the Bot API the alerter posts to: its own URL, else the bot's."""
        return self.alert_telegram_api_url or self.telegram_api_url

    @property
    def masked_database_url(self) -> str:
        """Return the database URL safe to log (password as ``***``)."""
        return mask_url(self.resolved_database_url)

    @property
    def engine_name(self) -> Literal["sqlite", "postgresql"]:
        """Return which engine the configured URL selects."""
        return (
            "sqlite"
            if make_url(self.resolved_database_url).get_backend_name() == "sqlite"
            else "postgresql"
        )

    @property
    def api_is_loopback(self) -> bool:
        """Tell whether the HTTP service listens on loopback only."""
        return self.api_host in ("127.0.0.1", "localhost", "::1") or self.api_host.startswith(
            "127."
        )


def check_api_settings(settings: Settings) -> None:
    """Refuse to expose /api beyond loopback without a bearer token."""
    if not settings.api_is_loopback and settings.api_token is None:
        raise ConfigurationError(
            f"API_TOKEN: required when API_HOST is {settings.api_host} (not loopback)",
            variable="API_TOKEN",
        )


def check_webhook_settings(settings: Settings) -> None:
    """Refuse webhook mode without a secret token (anyone could post fake updates)."""
    if settings.webhook_url and settings.webhook_secret is None:
        raise ConfigurationError(
            "WEBHOOK_SECRET: required when WEBHOOK_URL is set", variable="WEBHOOK_SECRET"
        )
    if settings.webhook_url and not settings.webhook_url.startswith("https://"):
        raise ConfigurationError("WEBHOOK_URL: must be an https:// URL", variable="WEBHOOK_URL")


def check_alerter_settings(settings: Settings) -> None:
    """Refuse alerts behind PgBouncer without a direct URL for the leadership lock."""
    alerts = settings.alert_webhook_url or (settings.bot_token is not None and settings.admin_ids)
    if (
        alerts
        and settings.db_pgbouncer
        and settings.engine_name == "postgresql"
        and settings.database_direct_url is None
    ):
        raise ConfigurationError(
            "DATABASE_DIRECT_URL: required with DB_PGBOUNCER=true when alerts are configured "
            "(the alerter's leadership lock needs a connection to PostgreSQL itself)",
            variable="DATABASE_DIRECT_URL",
        )


def check_serve_settings(settings: Settings) -> None:
    """Run every check `bandwise serve` makes before it starts (`config check` runs the same)."""
    check_api_settings(settings)
    check_webhook_settings(settings)
    check_alerter_settings(settings)


def _describe_validation_error(exc: ValidationError) -> ConfigurationError:
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ())]
    variable = location[0].upper() if location else None
    message = first.get("msg", "invalid value")
    message = message.removeprefix("Value error, ")
    if variable:
        return ConfigurationError(f"{variable}: {message}", variable=variable)
    return ConfigurationError(f"configuration: {message}")


def load_settings(env_file: Path | str | None = None, **overrides: object) -> Settings:
    """Build settings from the environment (plus ``env_file``), raising ConfigurationError."""
    if env_file is not None and not Path(env_file).is_file():
        raise ConfigurationError(f"env file {env_file} does not exist", variable=None)
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg,arg-type]
    except ValidationError as exc:
        raise _describe_validation_error(exc) from None


ENV_FILE_VARIABLE = "BANDWISE_ENV_FILE"


def configured_env_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """Return the env file ``BANDWISE_ENV_FILE`` names (in ``environ``, default the process's)."""
    named = (os.environ if environ is None else environ).get(ENV_FILE_VARIABLE)
    return Path(named) if named else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process's settings, read once from the environment and ``BANDWISE_ENV_FILE``."""
    return load_settings(configured_env_file())
