"""Settings: a TOML file, overridden by ``BOT__SECTION__KEY`` environment variables.

Unknown keys are errors that name the key. Secrets (tokens, webhook URLs) are read only from
the environment; a secret written into the file is refused.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.detect import DetectorParams
from bot.episodes import EpisodeRules
from bot.universe import Universe, UniverseError, UniverseOverrides, load_universe

ENV_PREFIX = "BOT__"
CONFIG_ENV = "BOT_CONFIG"
SECRET_KEYS = frozenset({"token", "bot_token", "webhook_url", "password", "secret"})


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

    regions: tuple[Literal["jp", "eu", "us_pre", "us"], ...] = ("jp", "eu", "us_pre", "us")
    scan_interval_minutes: int = Field(default=5, ge=1, le=240)
    settle_delay_minutes: int = Field(default=20, ge=0, le=240)
    max_age_minutes: int = Field(default=30, ge=1, le=24 * 60)
    misfire_grace_seconds: int = Field(default=120, ge=1, le=3600)
    fetch_attempts: int = Field(default=3, ge=1, le=10)
    backoff_seconds: float = Field(default=2.0, ge=0, le=600)


class StorageSettings(_Section):
    path: Path = Path("data/bot.sqlite3")


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(_Section):
    """The whole configuration."""

    prices: PricesSettings = PricesSettings()
    detector: DetectorParams = DetectorParams()
    universe: UniverseOverrides = UniverseOverrides()
    scheduler: SchedulerSettings = SchedulerSettings()
    episodes: EpisodeRules = EpisodeRules()
    storage: StorageSettings = StorageSettings()
    logging: LoggingSettings = LoggingSettings()


@dataclass(frozen=True)
class LoadedConfig:
    """Validated settings with the universe they describe and where they came from."""

    settings: Settings
    universe: Universe
    source: Path | None


def _parse_env_value(text: str) -> Any:
    """A TOML literal when it parses as one (``3``, ``true``, ``["a"]``), else the text."""
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
            node[path[-1]] = _parse_env_value(value)
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


def _describe(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        if item["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            lines.append(f"{where}: unknown key")
        else:
            lines.append(f"{where}: {item['msg']}")
    return lines


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
    problems += _apply_env(data, env)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems += _describe(exc)
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    try:
        universe = load_universe(settings.universe)
    except UniverseError as exc:
        raise ConfigError(str(exc).splitlines()) from None
    return LoadedConfig(settings=settings, universe=universe, source=source)
