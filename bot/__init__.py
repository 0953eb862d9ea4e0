"""AI supply-chain shock bot: watches prices and news, detects sector divergences, alerts chats."""

__version__ = "0.1.0"
