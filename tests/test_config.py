"""Configuration: the example file, unknown keys, environment overrides, secrets."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bot.cli import main
from bot.config import ConfigError, Settings, load_config
from bot.detection.detect import DetectorParams
from tests.conftest import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path | None, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_config(path, env or {})
    return exc.value.problems


def test_example_config_loads_and_equals_the_defaults() -> None:
    loaded = load_config(EXAMPLE, {})

    assert loaded.settings == Settings()
    assert len(loaded.universe.instruments) >= 60


def _keys(model: type[BaseModel] | type[DetectorParams]) -> set[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return set(model.model_fields)
    return set(model.__dataclass_fields__)


def test_example_config_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    data: dict[str, Any] = tomllib.loads(text)
    for section, field in Settings.model_fields.items():
        assert section in data, f"[{section}] missing from config.example.toml"
        annotation = field.annotation
        assert annotation is not None
        for key in _keys(annotation):
            # Optional keys may be shown commented out, with their explanation.
            assert (
                key in data[section]
                or f"# {key} =" in text
                or f"[{section}.{key}]" in text
                or f"[[{section}.{key}]]" in text
            ), f"{section}.{key} is not documented"


def test_unknown_keys_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[detector]\nwatch_zz = 3\n[prices]\nsorce = 'csv'\n[teams]\nx = 1\n")

    found = problems(path)

    assert "detector.watch_zz: unknown key" in found
    assert "prices.sorce: unknown key" in found
    assert "teams: unknown key" in found


def test_bad_values_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "[prices]\nsource = 'bloomberg'\nhistory_sessions = 5\n")

    found = problems(path)

    assert any(p.startswith("prices.source:") and "'yahoo' or 'csv'" in p for p in found)
    assert any(p.startswith("prices.history_sessions:") for p in found)


def test_inconsistent_detector_thresholds_are_reported(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "[detector]\nwatch_z = 5.0\n"))

    assert any("watch_z < alert_z" in p for p in found)


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[prices]\nsource = 'yahoo'\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env = {
        "BOT__PRICES__SOURCE": "csv",
        "BOT__PRICES__CSV_DIRS": f'["{tmp_path / "a"}", "{tmp_path / "b"}"]',
        "BOT__DETECTOR__WATCH_Z": "3",
        "OTHER": "ignored",
    }

    settings = load_config(path, env).settings

    assert settings.prices.source == "csv"
    assert settings.prices.csv_dirs == (tmp_path / "a", tmp_path / "b")
    assert settings.detector.watch_z == 3.0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"BOT__PRICES__SOURCE": "csv"}, 'prices.csv_dirs: source = "csv" needs at least one'),
        (
            {"BOT__PRICES__SOURCE": "csv", "BOT__PRICES__CSV_DIRS": '["/no/such/dir"]'},
            "prices.csv_dirs: /no/such/dir is not a directory",
        ),
        ({"BOT__DETECTOR__CRITICAL_Z": "inf"}, "critical_z must be a finite number"),
        ({"BOT__SCHEDULER__REGIONS": "[]"}, "scheduler.regions: "),
        ({"BOT__DISCORD__API_BASE_URL": "ftp://x"}, "discord.api_base_url: 'ftp://x' is not"),
        ({"BOT__DISCORD__GATEWAY_URL": "http://x"}, "discord.gateway_url: 'http://x' is not"),
        ({"BOT__TELEGRAM__API_BASE_URL": "file:///etc"}, "telegram.api_base_url: "),
        ({"BOT__DRILL__FEEDS": '["/no/feeds"]'}, "drill.feeds: /no/feeds does not exist"),
    ],
)
def test_configs_that_cannot_work_are_refused(env: dict[str, str], expected: str) -> None:
    found = problems(None, env)

    assert any(expected in p for p in found), found


def test_a_database_path_that_cannot_be_created_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    path = write(tmp_path, f'[storage]\npath = "{blocker / "sub" / "bot.sqlite3"}"\n')

    for command in ("check-config", "run"):  # run refuses the same config alike
        with pytest.raises(SystemExit) as refused:
            main([command, "--config", str(path)])
        assert refused.value.code == 2
        assert "config error: storage.path: cannot create" in capsys.readouterr().err


def test_environment_keys_are_checked_too() -> None:
    found = problems(None, {"BOT__DETECTOR__NOPE": "1", "BOT__ONLYSECTION": "x"})

    assert "detector.nope: unknown key" in found
    assert any(p.startswith("BOT__ONLYSECTION:") for p in found)


def test_secrets_in_the_file_are_refused(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "[telegram]\ntoken = '123:abc'\n"))

    assert any(
        p.startswith("telegram.token: secrets are read only from the environment")
        and "BOT__TELEGRAM__TOKEN" in p
        for p in found
    )
    assert not any("123:abc" in p for p in found)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    assert problems(tmp_path / "missing.toml") == [f"{tmp_path / 'missing.toml'}: no such file"]
    found = problems(write(tmp_path, "[prices\nsource = 1"))
    assert "not valid TOML" in found[0]


def test_config_is_found_through_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "[logging]\nlevel = 'DEBUG'\n")

    loaded = load_config(None, {"BOT_CONFIG": str(path)})

    assert loaded.source == path
    assert loaded.settings.logging.level == "DEBUG"


def test_universe_problems_surface_as_config_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "[universe]\nremove = ['NOPE']\n")

    assert problems(path) == ["universe.remove: 'NOPE' is not in the universe"]


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(EXAMPLE)]) == 0
    assert "config OK" in capsys.readouterr().out

    bad = write(tmp_path, "[detector]\nwatch_zz = 3\n")
    with pytest.raises(SystemExit) as exc:
        main(["check-config", "--config", str(bad)])
    assert exc.value.code == 2
    assert "config error: detector.watch_zz: unknown key" in capsys.readouterr().err
