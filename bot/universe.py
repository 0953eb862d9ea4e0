"""The AI supply chain: regions, segments with their role in a shock, and instruments.

The data lives in ``bot/data/universe.toml``; users add, remove or re-segment instruments in
their config (``[universe]``). Every problem is reported with the entry it comes from.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.detection.detect import Baskets


class Role(StrEnum):
    """What a segment does in a DeepSeek-style shock."""

    INFRASTRUCTURE = "infrastructure"
    PLATFORM = "platform"
    BENEFICIARY = "beneficiary"
    MARKET_CONTROL = "market_control"
    SOFTWARE_CONTROL = "software_control"
    REFERENCE = "reference"


Kind = Literal["stock", "adr", "etf", "index", "future"]


class UniverseError(ValueError):
    """The universe (file or config overrides) is invalid; the message names the entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Region(_Strict):
    key: str
    name: str
    calendar: str
    timezone: str


class Segment(_Strict):
    key: str
    role: Role
    name: str
    shock_role: str
    name_de: str
    shock_role_de: str

    def title(self, language: str) -> str:
        return self.name_de if language == "de" else self.name

    def role_text(self, language: str) -> str:
        return self.shock_role_de if language == "de" else self.shock_role


class Instrument(_Strict):
    """One listing. ``calendar`` defaults to its region's calendar."""

    symbol: str = Field(min_length=1, max_length=20)
    name: str = Field(min_length=1)
    region: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    segments: tuple[str, ...] = Field(min_length=1)
    aliases_en: tuple[str, ...] = ()
    aliases_de: tuple[str, ...] = ()
    case_sensitive_aliases: tuple[str, ...] = ()
    calendar: str | None = None
    kind: Kind = "stock"
    broad_index: bool = False
    tracks: str | None = None

    @field_validator("symbol")
    @classmethod
    def _symbol_shape(cls, value: str) -> str:
        allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.^=-")
        if value != value.strip().upper() or not set(value) <= allowed:
            raise ValueError(f"symbol {value!r} must be an upper-case Yahoo symbol")
        return value

    @property
    def aliases(self) -> tuple[str, ...]:
        """Every name news may use for this instrument (both languages)."""
        return (self.name, *self.aliases_en, *self.aliases_de, *self.case_sensitive_aliases)


class _UniverseFile(_Strict):
    regions: dict[str, dict[str, str]]
    segments: dict[str, dict[str, str]]
    instruments: list[dict[str, object]]


class UniverseOverrides(_Strict):
    """The ``[universe]`` section of the config."""

    file: Path | None = None
    remove: tuple[str, ...] = ()
    add: tuple[dict[str, object], ...] = ()
    resegment: dict[str, tuple[str, ...]] = Field(default_factory=dict)


@dataclass(frozen=True)
class Universe:
    """The validated universe. Look-ups by symbol are case-insensitive."""

    regions: Mapping[str, Region]
    segments: Mapping[str, Segment]
    instruments: Mapping[str, Instrument]

    def get(self, symbol: str) -> Instrument | None:
        return self.instruments.get(symbol.strip().upper())

    def in_region(self, region: str) -> list[Instrument]:
        return [i for i in self.instruments.values() if i.region == region]

    def roles(self, instrument: Instrument) -> set[Role]:
        return {self.segments[s].role for s in instrument.segments}

    def calendar_of(self, instrument: Instrument) -> str:
        return instrument.calendar or self.regions[instrument.region].calendar

    def calendars_by_symbol(self) -> dict[str, tuple[str, str]]:
        """Each instrument's region (calendar, time zone): when its bars close."""
        return {
            s: (self.regions[i.region].calendar, self.regions[i.region].timezone)
            for s, i in self.instruments.items()
        }

    def with_role(self, region: str, role: Role) -> list[Instrument]:
        return [i for i in self.in_region(region) if role in self.roles(i)]

    def baskets(self, region: str) -> Baskets:
        """The detector's baskets for a region.

        Infrastructure: stocks in an infrastructure segment. Control: the market controls,
        grouped by the index they track so two listings of one index count once. Software:
        AI-software stocks and software indices.
        """
        infra = tuple(
            i.symbol
            for i in self.with_role(region, Role.INFRASTRUCTURE)
            if i.kind in ("stock", "adr")
        )
        groups: dict[str, list[str]] = {}
        for inst in self.with_role(region, Role.MARKET_CONTROL):
            groups.setdefault(inst.tracks or inst.symbol, []).append(inst.symbol)
        software = tuple(
            i.symbol
            for i in self.in_region(region)
            if Role.SOFTWARE_CONTROL in self.roles(i) or "ai_software" in i.segments
        )
        broad = tuple(i.symbol for i in self.in_region(region) if i.broad_index)
        return Baskets(
            infra=infra,
            control=tuple(tuple(g) for g in groups.values()),
            software=software,
            broad_index=broad,
        )


def _format_validation(prefix: str, error: ValidationError) -> list[str]:
    messages = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        label = f"{prefix}.{where}" if where else prefix
        if item["type"] == "extra_forbidden":
            messages.append(f"{label}: unknown key")
        else:
            messages.append(f"{label}: {item['msg']}")
    return messages


def _entry_name(raw: Mapping[str, object], where: str) -> str:
    symbol = raw.get("symbol")
    return f"{where} ({symbol})" if isinstance(symbol, str) else where


def _build(
    raw: _UniverseFile, overrides: UniverseOverrides, source: str
) -> tuple[Universe, list[str]]:
    errors: list[str] = []
    regions: dict[str, Region] = {}
    for key, body in raw.regions.items():
        try:
            regions[key] = Region(key=key, **body)
        except ValidationError as exc:
            errors += _format_validation(f"{source}: regions.{key}", exc)
    segments: dict[str, Segment] = {}
    for key, body in raw.segments.items():
        try:
            segments[key] = Segment.model_validate({"key": key, **body})
        except ValidationError as exc:
            errors += _format_validation(f"{source}: segments.{key}", exc)

    instruments: dict[str, Instrument] = {}

    def admit(body: Mapping[str, object], where: str) -> None:
        name = _entry_name(body, where)
        try:
            inst = Instrument.model_validate(dict(body))
        except ValidationError as exc:
            errors.extend(_format_validation(name, exc))
            return
        if inst.region not in regions:
            errors.append(f"{name}: unknown region {inst.region!r} (known: {', '.join(regions)})")
        unknown = [s for s in inst.segments if s not in segments]
        if unknown:
            errors.append(
                f"{name}: unknown segment(s) {', '.join(unknown)} (known: {', '.join(segments)})"
            )
        if inst.symbol in instruments and where.startswith(source):
            errors.append(f"{name}: symbol {inst.symbol} is listed twice")
        instruments[inst.symbol] = inst

    for n, entry in enumerate(raw.instruments):
        admit(entry, f"{source}: instruments[{n}]")
    for symbol in overrides.remove:
        if instruments.pop(symbol.strip().upper(), None) is None:
            errors.append(f"universe.remove: {symbol!r} is not in the universe")
    for n, entry in enumerate(overrides.add):
        admit(entry, f"universe.add[{n}]")
    for symbol, new_segments in overrides.resegment.items():
        inst = instruments.get(symbol.strip().upper())
        where = f"universe.resegment.{symbol}"
        if inst is None:
            errors.append(f"{where}: {symbol!r} is not in the universe")
            continue
        unknown = [s for s in new_segments if s not in segments]
        if unknown or not new_segments:
            errors.append(
                f"{where}: unknown or empty segment list {list(new_segments)} "
                f"(known: {', '.join(segments)})"
            )
            continue
        instruments[inst.symbol] = inst.model_copy(update={"segments": tuple(new_segments)})
    return Universe(regions=regions, segments=segments, instruments=instruments), errors


def default_universe_text() -> str:
    return resources.files("bot").joinpath("data/universe.toml").read_text(encoding="utf-8")


def load_universe(overrides: UniverseOverrides | None = None) -> Universe:
    """Load the bundled (or configured) universe and apply the config's overrides.

    Raises:
        UniverseError: listing every problem, each naming its entry.
    """
    overrides = overrides or UniverseOverrides()
    if overrides.file is not None:
        source = str(overrides.file)
        try:
            text = overrides.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UniverseError(f"universe.file: cannot read {source}: {exc.strerror}") from None
    else:
        source, text = "universe.toml", default_universe_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UniverseError(f"{source}: not valid TOML: {exc}") from None
    try:
        raw = _UniverseFile.model_validate(data)
    except ValidationError as exc:
        raise UniverseError("\n".join(_format_validation(source, exc))) from None
    universe, errors = _build(raw, overrides, source)
    if errors:
        raise UniverseError("\n".join(errors))
    return universe
