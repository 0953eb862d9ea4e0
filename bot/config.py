"""Settings: a TOML file, overridden by ``BOT__SECTION__KEY`` environment variables.

Unknown keys are errors that name the key. Secrets (tokens, webhook URLs) are read only from
the environment; a secret written into the file is refused.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from bot.detection.detect import DetectorParams
from bot.episodes import EpisodeRules
from bot.news.items import FeedConfig
from bot.universe import Universe, UniverseError, UniverseOverrides, load_universe

ENV_PREFIX = "BOT__"
CONFIG_ENV = "BOT_CONFIG"
SECRET_KEYS = frozenset({"token", "bot_token", "password", "secret", "webhook_secret"})
TOKEN_ALIASES = {
    "TELEGRAM_BOT_TOKEN": "BOT__TELEGRAM__TOKEN",
    "DISCORD_BOT_TOKEN": "BOT__DISCORD__TOKEN",
}


class ConfigError(ValueError):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PricesSettings(_Section):
    """Where prices come from."""

    source: Literal["yahoo", "csv"] = "yahoo"
    csv_dirs: tuple[Path, ...] = ()
    cache_dir: Path = Path(".cache/yfinance")
    auto_adjust: bool = True
    history_sessions: int = Field(default=400, ge=80, le=5000)
    timeout_seconds: float = Field(default=20.0, gt=0, le=300)


class SchedulerSettings(_Section):
    """When and how the regions are scanned."""

    regions: tuple[Literal["jp", "eu", "us_pre", "us"], ...] = Field(
        default=("jp", "eu", "us_pre", "us"), min_length=1
    )
    scan_interval_minutes: int = Field(default=5, ge=1, le=240)
    settle_delay_minutes: int = Field(default=20, ge=0, le=240)
    max_age_minutes: int = Field(default=30, ge=1, le=24 * 60)
    misfire_grace_seconds: int = Field(default=120, ge=1, le=3600)
    fetch_attempts: int = Field(default=3, ge=1, le=10)
    backoff_seconds: float = Field(default=2.0, ge=0, le=600)


class TelegramSettings(_Section):
    """The Telegram bot. Enabled when a token is in the environment."""

    token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org/bot"
    api_base_file_url: str = "https://api.telegram.org/file/bot"
    poll_timeout_seconds: float = Field(default=30.0, gt=0, le=120)
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_secret: SecretStr | None = None
    concurrent_updates: int = Field(default=32, ge=1, le=256)


class DiscordWebhookSettings(_Section):
    """A push-only subscription through an incoming webhook (no bot in that server).

    The webhook URL is a secret: it is read from the environment variable ``url_env``.
    """

    name: str = Field(min_length=1, max_length=64)
    url_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    min_severity: Literal["watch", "alert", "critical"] = "alert"
    segments: tuple[str, ...] = ()
    language: Literal["en", "de"] = "en"


class DiscordSettings(_Section):
    """The Discord bot. Enabled when a token is in the environment."""

    token: SecretStr | None = None
    manager_role: str | None = None
    webhooks: tuple[DiscordWebhookSettings, ...] = ()
    api_base_url: str | None = None
    gateway_url: str | None = None


class DrillSettings(_Section):
    """``run --drill``: what a rehearsal replays besides the CSV prices."""

    feeds: tuple[Path, ...] = ()


class CommandSettings(_Section):
    """Chat commands."""

    per_user_per_minute: int = Field(default=10, ge=1, le=600)


def _feed(name: str, url: str, language: str = "en") -> FeedConfig:
    return FeedConfig.model_validate({"name": name, "url": url, "language": language})


DEFAULT_FEEDS = (
    _feed(name="CNBC Technology", url="https://www.cnbc.com/id/19854910/device/rss/rss.html"),
    _feed(
        name="CNBC Top News",
        url="https://search.cnbc.com/rs/search/combinedcms/view.xml?partnerId=wrss01&id=100003114",
    ),
    _feed(name="WSJ Technology", url="https://feeds.a.dj.com/rss/RSSWSJD.xml"),
    _feed(name="NYT Technology", url="https://rss.nytimes.com/services/xml/rss/nyt/Technology.xml"),
    _feed(name="BBC Technology", url="https://feeds.bbci.co.uk/news/technology/rss.xml"),
    _feed(name="Ars Technica", url="https://feeds.arstechnica.com/arstechnica/index"),
    _feed(name="EE Times", url="https://www.eetimes.com/feed/"),
    _feed(name="MarketWatch", url="https://feeds.content.dowjones.io/public/rss/mw_topstories"),
    _feed(
        name="tagesschau Wirtschaft",
        url="https://www.tagesschau.de/wirtschaft/index~rss2.xml",
        language="de",
    ),
    _feed(
        name="Spiegel Wirtschaft",
        url="https://www.spiegel.de/wirtschaft/index.rss",
        language="de",
    ),
    _feed(name="manager magazin", url="https://www.manager-magazin.de/index.rss", language="de"),
    _feed(name="n-tv Wirtschaft", url="https://www.n-tv.de/wirtschaft/rss", language="de"),
    _feed(
        name="Handelsblatt",
        url="https://www.handelsblatt.com/contentexport/feed/schlagzeilen",
        language="de",
    ),
)


class NewsSettings(_Section):
    """The news watch."""

    enabled: bool = True
    feeds: tuple[FeedConfig, ...] = DEFAULT_FEEDS
    timeout_seconds: float = Field(default=20.0, gt=0, le=120)
    max_megabytes: float = Field(default=5.0, gt=0, le=100)
    max_redirects: int = Field(default=5, ge=0, le=20)
    pause_after_failures: int = Field(default=5, ge=1, le=100)
    pause_minutes: int = Field(default=360, ge=1, le=7 * 24 * 60)
    burst_window_minutes: int = Field(default=60, ge=5, le=24 * 60)
    burst_min_sources: int = Field(default=3, ge=1, le=50)
    burst_baseline_days: int = Field(default=7, ge=1, le=60)
    burst_min_ratio: float = Field(default=4.0, gt=0, le=100)
    burst_cooldown_minutes: int = Field(default=240, ge=0, le=7 * 24 * 60)
    headlines_per_alert: int = Field(default=3, ge=0, le=10)
    headline_hours: float = Field(default=24.0, gt=0, le=168)


class StorageSettings(_Section):
    path: Path = Path("data/bot.sqlite3")
    """The SQLite file (one instance)."""
    url: str | None = None
    """A PostgreSQL database instead (``postgresql://user@host:5432/db``): instances sharing
    it elect one leader. Its password comes from ``PGPASSWORD``, ``~/.pgpass`` or
    ``BOT__STORAGE__URL`` in the environment, never from the file."""
    keep_days: int = Field(default=30, ge=1, le=3650)

    @property
    def location(self) -> Path | str:
        """Where the database is: the PostgreSQL URL when one is set, else the file."""
        return self.url if self.url else self.path


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class HttpSettings(_Section):
    """``/healthz``, ``/readyz`` and ``/metrics`` for operators (``run`` only)."""

    enabled: bool = True
    listen: str = "127.0.0.1"
    port: int = Field(default=9108, ge=1, le=65535)
    ready_outbox_seconds: int = Field(default=300, ge=10, le=86_400)
    """``/readyz`` fails while a due message has waited longer than this."""


class ChartSettings(_Section):
    """PNG charts with alerts (and ``/chart``)."""

    enabled: bool = True
    """Each divergence and broad alert is followed by its chart (a photo on Telegram, an
    attachment on Discord)."""


class Settings(_Section):
    """The whole configuration."""

    prices: PricesSettings = PricesSettings()
    detector: DetectorParams = DetectorParams()
    universe: UniverseOverrides = UniverseOverrides()
    scheduler: SchedulerSettings = SchedulerSettings()
    episodes: EpisodeRules = EpisodeRules()
    news: NewsSettings = NewsSettings()
    telegram: TelegramSettings = TelegramSettings()
    discord: DiscordSettings = DiscordSettings()
    commands: CommandSettings = CommandSettings()
    storage: StorageSettings = StorageSettings()
    logging: LoggingSettings = LoggingSettings()
    http: HttpSettings = HttpSettings()
    charts: ChartSettings = ChartSettings()
    drill: DrillSettings = DrillSettings()


@dataclass(frozen=True)
class LoadedConfig:
    """Validated settings with the universe they describe and where they came from."""

    settings: Settings
    universe: Universe
    source: Path | None


def _parse_env_value(text: str, key: str = "") -> Any:
    """A TOML literal when it parses as one (``3``, ``true``, ``["a"]``), else the text.

    Secrets are always taken as text (a token like ``123:abc`` must not be parsed).
    """
    if key in SECRET_KEYS:
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> list[str]:
    problems = []
    for name, value in sorted(env.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        if len(path) < 2 or not all(path):
            problems.append(f"{name}: expected {ENV_PREFIX}SECTION__KEY")
            continue
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                problems.append(f"{name}: {part} is not a section")
                break
            node = child
        else:
            node[path[-1]] = _parse_env_value(value, path[-1])
    return problems


def _secrets_in_file(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in data.items():
        where = f"{prefix}{key}"
        if isinstance(value, Mapping):
            found += _secrets_in_file(value, f"{where}.")
        elif key.lower() in SECRET_KEYS and value:
            found.append(
                f"{where}: secrets are read only from the environment "
                f"(set {ENV_PREFIX}{where.upper().replace('.', '__')}); remove it from the file"
            )
    return found


def _password_in_file(data: Mapping[str, Any]) -> list[str]:
    from bot.storage.engine import url_password

    storage = data.get("storage")
    url = storage.get("url") if isinstance(storage, Mapping) else None
    if isinstance(url, str) and url_password(url):
        return [
            "storage.url: secrets are read only from the environment; remove the password "
            f"from the file and set PGPASSWORD (or {ENV_PREFIX}STORAGE__URL)"
        ]
    return []


def _describe(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        if item["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            lines.append(f"{where}: unknown key")
        else:
            lines.append(f"{where}: {item['msg']}")
    return lines


def _webhook_problems(telegram: TelegramSettings) -> list[str]:
    """A Telegram webhook must be https and carry a secret, or anyone can post forged updates."""
    if telegram.webhook_url is None:
        return []
    problems = []
    url = urlsplit(telegram.webhook_url)
    if url.scheme.lower() != "https" or not url.hostname:
        problems.append("telegram.webhook_url: must be an https:// URL")
    if telegram.webhook_secret is None:
        problems.append(
            "telegram.webhook_secret: required with webhook_url "
            f"(set {ENV_PREFIX}TELEGRAM__WEBHOOK_SECRET)"
        )
    return problems


def _writable_place(path: Path) -> str | None:
    """Why a database file cannot be created or written at ``path`` (``None``: it can)."""
    if path.exists():
        if not path.is_file():
            return f"{path} is not a file"
        return None if os.access(path, os.W_OK) else f"{path} is not writable"
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot create {path.parent}: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot create {path}: {parent} is not writable"
    return None


def _scheme_problem(key: str, url: str | None, schemes: tuple[str, ...]) -> list[str]:
    if url is None or url.startswith(tuple(f"{s}://" for s in schemes)):
        return []
    wanted = " or ".join(f"{s}://" for s in schemes)
    return [f"{key}: {url[:80]!r} is not a {wanted} URL"]


def _meaning_problems(settings: Settings) -> list[str]:
    """What the types allow but cannot work: missing directories, a database that cannot be
    written, URLs of other schemes. ``check-config`` and ``run`` refuse them alike."""
    problems: list[str] = []
    prices = settings.prices
    if prices.source == "csv":
        if not prices.csv_dirs:
            problems.append('prices.csv_dirs: source = "csv" needs at least one directory')
        for directory in prices.csv_dirs:
            if not directory.is_dir():
                problems.append(f"prices.csv_dirs: {directory} is not a directory")
    problems += _scheme_problem("storage.url", settings.storage.url, ("postgresql", "postgres"))
    if settings.storage.url is None and str(settings.storage.path) != ":memory:":
        why = _writable_place(settings.storage.path)
        if why is not None:
            problems.append(f"storage.path: {why}")
    telegram, discord = settings.telegram, settings.discord
    problems += _scheme_problem("telegram.api_base_url", telegram.api_base_url, ("http", "https"))
    problems += _scheme_problem(
        "telegram.api_base_file_url", telegram.api_base_file_url, ("http", "https")
    )
    problems += _scheme_problem("discord.api_base_url", discord.api_base_url, ("http", "https"))
    problems += _scheme_problem("discord.gateway_url", discord.gateway_url, ("ws", "wss"))
    for directory in settings.drill.feeds:
        if not directory.exists():
            problems.append(f"drill.feeds: {directory} does not exist")
    return problems


def find_config(explicit: Path | None, env: Mapping[str, str]) -> Path | None:
    """The config file to use: ``--config``, then ``$BOT_CONFIG``, then ``./config.toml``."""
    if explicit is not None:
        return explicit
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    default = Path("config.toml")
    return default if default.is_file() else None


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, merge and validate the configuration and the universe it describes.

    Args:
        path: a TOML file; ``None`` looks for one (see :func:`find_config`).
        env: the environment (defaults to ``os.environ``).

    Raises:
        ConfigError: every problem found, one line each, naming the key.
    """
    env = os.environ if env is None else env
    source = find_config(path, env)
    data: dict[str, Any] = {}
    problems: list[str] = []
    if source is not None:
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError([f"{source}: no such file"]) from None
        except OSError as exc:
            raise ConfigError([f"{source}: cannot read ({exc.strerror})"]) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError([f"{source}: not valid TOML ({exc})"]) from None
        problems += _secrets_in_file(data)
        problems += _password_in_file(data)
    aliased = dict(env)
    for alias, canonical in TOKEN_ALIASES.items():
        if env.get(alias) and not env.get(canonical):
            aliased[canonical] = env[alias]
    problems += _apply_env(data, aliased)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems += _describe(exc)
        raise ConfigError(problems) from None
    problems += _webhook_problems(settings.telegram)
    problems += _meaning_problems(settings)
    if problems:
        raise ConfigError(problems)
    try:
        universe = load_universe(settings.universe)
    except UniverseError as exc:
        raise ConfigError(str(exc).splitlines()) from None
    return LoadedConfig(settings=settings, universe=universe, source=source)


class RedactSecrets(logging.Filter):
    """Replaces every configured secret in log records with ``***``."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Handlers print exc_text when it is set, so the traceback is formatted once here.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def secrets_of(settings: Settings) -> list[str]:
    values = [settings.telegram.token, settings.telegram.webhook_secret, settings.discord.token]
    secrets = [v.get_secret_value() for v in values if v is not None]
    if settings.storage.url:
        from bot.storage.engine import url_password

        password = url_password(settings.storage.url)
        if password:
            secrets += [password, settings.storage.url]
    for url in webhook_urls(settings).values():
        if url:
            # discord.py logs the request path (.../webhooks/ID/TOKEN), not the URL as given.
            secrets += [url, url.rstrip("/").rsplit("/", 1)[-1]]
    return secrets


def webhook_urls(settings: Settings, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The configured Discord webhook URLs, read from their environment variables."""
    env = os.environ if env is None else env
    return {w.name: env.get(w.url_env, "") for w in settings.discord.webhooks}


def install_log_redaction(settings: Settings) -> None:
    """Keep secrets out of every log line; silence per-request URL logs that carry tokens."""
    redact = RedactSecrets(secrets_of(settings))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
