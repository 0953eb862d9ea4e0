"""Telegram in webhook mode: setWebhook on the Bot API, updates POSTed to the bot's server."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import httpx

from bot.adapters.telegram import TelegramAdapter, TelegramConfig
from bot.config import load_config
from bot.sources.csv_prices import CsvPriceSource
from bot.sources.marketdata import MarketData
from bot.storage.store import Store
from handlers.commands import build_registry
from handlers.registry import Dispatcher
from handlers.services import Services
from tests.conftest import PRICES
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
SECRET = "webhook-secret-7f3a"
CONFIG = load_config(None, {})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_registers_and_answers_posted_updates() -> None:
    now = datetime(2026, 8, 4, 12, 0, tzinfo=UTC)
    store = Store(":memory:")
    services = Services(
        universe=CONFIG.universe,
        store=store,
        market=MarketData(
            CsvPriceSource([PRICES / "daily_close"]),
            CONFIG.universe,
            CONFIG.settings.detector,
            lambda: now,
        ),
        params=CONFIG.settings.detector,
        clock=lambda: now,
    )
    port = free_port()
    async with FakeBotApi(token=TOKEN) as api:
        api.add_chat(42, "private", first_name="Ada", language_code="en")
        config = TelegramConfig(
            token=TOKEN,
            base_url=api.base_url,
            base_file_url=api.base_file_url,
            webhook_url="https://bot.example.com/telegram",
            webhook_listen="127.0.0.1",
            webhook_port=port,
            webhook_secret=SECRET,
        )
        adapter = TelegramAdapter(config, Dispatcher(build_registry(), services))
        await adapter.start()
        try:
            hooks = api.calls("setWebhook")
            assert len(hooks) == 1
            assert hooks[0].params["url"] == "https://bot.example.com/telegram"
            assert hooks[0].params["secret_token"] == SECRET
            assert api.calls("getUpdates") == []

            update = {
                "update_id": 1001,
                "message": {
                    "message_id": 7,
                    "date": int(now.timestamp()),
                    "chat": {"id": 42, "type": "private", "first_name": "Ada"},
                    "from": {"id": 42, "is_bot": False, "first_name": "Ada", "language_code": "en"},
                    "text": "/start",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                },
            }
            async with httpx.AsyncClient() as client:
                refused = await client.post(f"http://127.0.0.1:{port}/telegram", json=update)
                accepted = await client.post(
                    f"http://127.0.0.1:{port}/telegram",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
            assert refused.status_code == 403
            assert accepted.status_code == 200
            await api.wait_for_sent(42, count=1)
            assert "I watch the AI supply chain" in api.sent(42)[0].plain_text
        finally:
            await adapter.stop()
            store.close()
