"""Drain a bot database's Telegram outbox, as the bot would, then exit (the crash test's child).

Usage::

    python -m tests.fakes.outbox_child --db FILE --base-url URL --token TOKEN

``--base-url`` is what PTB's ``base_url`` wants (``FakeBotApi.base_url``: the token is appended).
The real store, outbox, sender, transport and python-telegram-bot ``Bot`` are used with the
real clock and default settings. After each message is recorded as sent, its outbox row id is
printed on a line of its own (flushed), so a parent can follow progress and pick a moment to
kill the process. Exits 0 when nothing is left to send.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime

os.environ.setdefault("PTB_TIMEDELTA", "true")

from telegram import Bot

from bot.adapters.telegram import PLATFORM, TelegramTransport
from bot.delivery.outbox import Outbox
from bot.delivery.sender import OutboxSender, utc_now
from bot.storage.store import Store


class ReportingOutbox(Outbox):
    """The outbox, telling stdout about every row once it is recorded as sent."""

    def mark_sent(self, message_id: int, at: datetime, platform_id: str | None = None) -> None:
        super().mark_sent(message_id, at, platform_id)
        print(message_id, flush=True)


async def drain(db: str, base_url: str, base_file_url: str, token: str) -> dict[str, int]:
    store = Store(db)
    try:
        outbox = ReportingOutbox(store)
        async with Bot(token, base_url=base_url, base_file_url=base_file_url) as bot:
            sender = OutboxSender(
                outbox,
                TelegramTransport(bot),
                on_unreachable=lambda chat, why: store.disable_chat(PLATFORM, chat, why, utc_now()),
                on_migrate=lambda old, new: store.migrate_chat(PLATFORM, old, new, utc_now()),
            )
            await sender.drain()
        return outbox.counts(PLATFORM)
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the bot's SQLite file or PostgreSQL URL")
    parser.add_argument("--base-url", required=True, help="Bot API base URL (token appended)")
    parser.add_argument("--base-file-url", help="default: --base-url with /bot -> /file/bot")
    parser.add_argument("--token", required=True)
    args = parser.parse_args(argv)
    base_file_url = args.base_file_url or args.base_url.replace("/bot", "/file/bot", 1)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    counts = asyncio.run(drain(args.db, args.base_url, base_file_url, args.token))
    print(f"done {counts}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
