"""The AI supply-chain universe: coverage of the chain, data quality, user overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.detection.calendars import calendar
from bot.universe import Role, UniverseError, UniverseOverrides, load_universe

UNIVERSE = load_universe()


def test_covers_the_supply_chain_in_three_regions() -> None:
    assert len(UNIVERSE.instruments) >= 60
    assert set(UNIVERSE.regions) == {"us", "eu", "jp"}
    infra_segments = {k for k, s in UNIVERSE.segments.items() if s.role is Role.INFRASTRUCTURE}
    assert infra_segments == {
        "compute",
        "foundry",
        "memory",
        "semi_equipment",
        "networking",
        "servers",
        "dc_power_cooling",
        "power_producers",
        "dc_operators",
    }
    roles = {s.role for s in UNIVERSE.segments.values()}
    assert set(Role) == roles


@pytest.mark.parametrize(
    ("symbol", "segment"),
    [
        ("NVDA", "compute"),
        ("TSM", "foundry"),
        ("ANET", "networking"),
        ("VST", "power_producers"),
        ("CEG", "power_producers"),
        ("ASML.AS", "semi_equipment"),
        ("ENR.DE", "dc_power_cooling"),
        ("SU.PA", "dc_power_cooling"),
        ("6857.T", "semi_equipment"),
        ("8035.T", "semi_equipment"),
        ("MSFT", "hyperscalers"),
        ("CRM", "ai_software"),
        ("AAPL", "devices"),
        ("DIA", "market"),
    ],
)
def test_known_names_sit_in_their_segment(symbol: str, segment: str) -> None:
    instrument = UNIVERSE.get(symbol)
    assert instrument is not None
    assert segment in instrument.segments


def test_every_stock_has_aliases_in_both_languages_and_a_valid_calendar() -> None:
    for inst in UNIVERSE.instruments.values():
        calendar(UNIVERSE.calendar_of(inst))
        if inst.kind == "stock":
            assert inst.aliases_en or inst.case_sensitive_aliases, inst.symbol
            assert inst.aliases_de, inst.symbol


def test_each_region_has_baskets_the_detector_can_use() -> None:
    for region in UNIVERSE.regions:
        baskets = UNIVERSE.baskets(region)
        assert len(baskets.infra) >= 8, region
        assert baskets.control, region
        assert baskets.broad_index, region
        assert not set(baskets.infra) & set(baskets.control_symbols)


def test_listings_of_one_index_form_one_control_group() -> None:
    groups = UNIVERSE.baskets("us").control
    assert ("SPY", "^GSPC") in groups
    assert ("DIA", "^DJI") in groups


def test_lookup_is_case_insensitive() -> None:
    assert UNIVERSE.get(" nvda ") is UNIVERSE.get("NVDA")
    assert UNIVERSE.get("NOPE") is None


def test_overrides_add_remove_and_resegment() -> None:
    universe = load_universe(
        UniverseOverrides(
            remove=("INTC",),
            add=(
                {
                    "symbol": "CRDO",
                    "name": "Credo Technology",
                    "region": "us",
                    "currency": "USD",
                    "segments": ["networking"],
                },
            ),
            resegment={"QCOM": ("devices",)},
        )
    )

    assert universe.get("INTC") is None
    crdo = universe.get("CRDO")
    assert crdo is not None
    assert "CRDO" in universe.baskets("us").infra
    qcom = universe.get("QCOM")
    assert qcom is not None
    assert qcom.segments == ("devices",)
    assert "QCOM" not in universe.baskets("us").infra


def test_bad_entries_are_named() -> None:
    with pytest.raises(UniverseError) as exc:
        load_universe(
            UniverseOverrides(
                remove=("NOPE",),
                add=(
                    {
                        "symbol": "FOO",
                        "name": "Foo",
                        "region": "mars",
                        "currency": "USD",
                        "segments": ["gpu"],
                    },
                    {
                        "symbol": "bar",
                        "name": "Bar",
                        "region": "us",
                        "currency": "USD",
                        "segments": ["compute"],
                        "colour": "red",
                    },
                ),
                resegment={"ZZZ": ("compute",), "NVDA": ("gpu",)},
            )
        )
    message = str(exc.value)

    assert "universe.remove: 'NOPE' is not in the universe" in message
    assert "universe.add[0] (FOO): unknown region 'mars'" in message
    assert "universe.add[0] (FOO): unknown segment(s) gpu" in message
    assert "universe.add[1] (bar).symbol" in message
    assert "universe.add[1] (bar).colour: unknown key" in message
    assert "universe.resegment.ZZZ: 'ZZZ' is not in the universe" in message
    assert "universe.resegment.NVDA: unknown or empty segment list" in message


def test_a_replacement_file_that_is_missing_or_broken(tmp_path: Path) -> None:
    base = tmp_path
    with pytest.raises(UniverseError, match="cannot read"):
        load_universe(UniverseOverrides(file=base / "none.toml"))
    broken = base / "u.toml"
    broken.write_text("[regions\n")
    with pytest.raises(UniverseError, match="not valid TOML"):
        load_universe(UniverseOverrides(file=broken))
    duplicate = base / "d.toml"
    duplicate.write_text(
        '[regions.us]\nname="US"\ncalendar="XNYS"\ntimezone="America/New_York"\n'
        '[segments.compute]\nrole="infrastructure"\nname="C"\nshock_role="x"\n'
        'name_de="C"\nshock_role_de="x"\n'
        '[[instruments]]\nsymbol="NVDA"\nname="Nvidia"\nregion="us"\ncurrency="USD"\n'
        'segments=["compute"]\n'
        '[[instruments]]\nsymbol="NVDA"\nname="Nvidia"\nregion="us"\ncurrency="USD"\n'
        'segments=["compute"]\n'
    )
    with pytest.raises(UniverseError, match="listed twice"):
        load_universe(UniverseOverrides(file=duplicate))
