"""Alerts into the outbox: texts per language and a fan-out plan, stored with the alert."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.alerts import Alert, AlertKind, episode_prefix
from bot.delivery.fanout import FanOut, personal_key
from bot.delivery.outbox import Outbox, QueuedRow
from bot.delivery.sender import OutboxSender
from bot.delivery.sinks import AlertCharts
from bot.render.alert_charts import PersonalAlert
from bot.render.alerts import status_line
from bot.render.buttons import alert_buttons, keyboard_json
from bot.render.charts import ChartImage
from bot.render.i18n import LANGUAGES, Language
from bot.render.replies import Reply
from bot.storage.store import Store
from bot.storage.subscriptions import Audience
from bot.universe import Universe

Renderer = Callable[[Alert, Language], list[str]]
Captioner = Callable[[str, Language], str]
"""A chart's words as the text of a photo message on the platform."""
ReplyRenderer = Callable[[Reply], list[str]]
"""A neutral reply (a digest) as the platform's message texts."""


class OutboxSink:
    """An alert sink for one chat platform: stores the alert's texts and fan-out plan with the
    alert; the sender expands the plan into one message row per chat (bot/delivery/fanout.py)."""

    def __init__(
        self,
        platform: str,
        outbox: Outbox,
        store: Store,
        universe: Universe,
        render: Renderer,
        is_group: Callable[[str], bool],
        clock: Callable[[], datetime],
        sender: OutboxSender | None = None,
        caption: Captioner | None = None,
        render_reply: ReplyRenderer | None = None,
        buttons: bool = False,
    ) -> None:
        """Args:
        sender: drains the outbox and expands this sink's plans.
        caption: renders a chart's words for the platform; ``None``: alerts go without
            charts.
        render_reply: renders other messages (digests) for the platform.
        buttons: alerts carry buttons (Chart, My exposure, Mute).
        """
        self.name = platform
        self.platform = platform
        self.outbox = outbox
        self.store = store
        self.universe = universe
        self.render = render
        self.caption = caption
        self.render_reply = render_reply
        self.buttons = buttons
        self.clock = clock
        self.fanout = FanOut(platform, outbox, store, is_group)
        self.sender = sender
        if sender is not None:
            sender.expand(self.fanout)

    @property
    def wants_charts(self) -> bool:
        return self.caption is not None

    async def send_alert(self, alert: Alert) -> None:
        """Stage, fan out and wake in one go (for callers outside the alert pipeline)."""
        with self.store.transaction():
            self.stage(alert)
        while self.fanout.has_work:
            self.fanout.expand_chunk(self.clock())
            await asyncio.sleep(0)
        self.wake()

    def wake(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    def stage_reply(
        self,
        key: str,
        chat_id: str,
        language: Language,
        reply: Reply,
        chart: ChartImage | None,
        now: datetime,
    ) -> int:
        """Queue a message that is not an alert (a digest) for one chat, inside the caller's
        transaction: ``key`` names its content (the same for every chat that gets the same
        text, so the text is stored once per language); returns the messages added."""
        if self.render_reply is None:
            return 0
        texts = self.render_reply(reply)
        body_ids = [
            self.outbox.add_body(key, self.platform, language, part, text, now)
            for part, text in enumerate(texts)
        ]
        if chart is not None and self.caption is not None:
            image_id = self.store.save_image(f"{key}:{language}", chart.png, now)
            caption = self.caption(chart.words, language)
            body_ids.append(
                self.outbox.add_body(
                    key, self.platform, language, len(texts), caption, now, image_id
                )
            )
        is_group = self.fanout.is_group(chat_id)
        rows = [
            QueuedRow(f"{key}|{self.platform}|{chat_id}|{part}", chat_id, is_group, key, part, 0, b)
            for part, b in enumerate(body_ids)
        ]
        return self.outbox.add_rows(self.platform, rows, now)

    def stage(
        self,
        alert: Alert,
        charts: AlertCharts | None = None,
        personal: Sequence[PersonalAlert] = (),
    ) -> int:
        """Store the alert's texts in every language, its chart (a photo after the texts),
        the own copies of chats with a saved portfolio and its fan-out plan (inside the
        caller's transaction); returns 1 if it was planned now, 0 if before."""
        now = self.clock()
        heard = None
        if alert.kind is AlertKind.RECOVER:
            # Only chats that heard of the shock hear that it is over.
            heard = alert.key.removesuffix(f":{AlertKind.RECOVER.value}") + ":"
        texts: dict[str, list[str]] = {lang: self.render(alert, lang) for lang in LANGUAGES}
        photos: dict[str, tuple[int, str]] = {}
        if charts and self.caption is not None:
            for lang in LANGUAGES:
                chart = charts.get(lang)
                if chart is not None:
                    image_id = self.store.save_image(f"{alert.key}:{lang}", chart.png, now)
                    photos[lang] = (image_id, self.caption(chart.words, lang))
        languages: dict[str, Language] = {lang: lang for lang in LANGUAGES}
        for item in personal:
            if item.platform != self.platform:
                continue
            chat_key = personal_key(item.chat_id)
            languages[chat_key] = item.language
            texts[chat_key] = self.render(item.alert, item.language)
            if item.chart is not None and self.caption is not None:
                image_id = self.store.save_image(
                    f"{alert.key}:{self.platform}:{item.chat_id}", item.chart.png, now
                )
                photos[chat_key] = (image_id, self.caption(item.chart.words, item.language))
            elif item.language in photos:
                photos[chat_key] = photos[item.language]
        keyboards = (
            {key: keyboard_json(alert_buttons(alert, languages[key])) for key in texts}
            if self.buttons
            else None
        )
        story = None
        if alert.kind is not AlertKind.OPEN:
            story = (
                episode_prefix(alert.key),
                {key: status_line(alert, languages[key]) for key in texts},
            )
        audience = Audience.of(alert, self.universe, now)
        planned = self.fanout.plan(alert.key, audience, texts, heard, now, photos, keyboards, story)
        return int(planned)
