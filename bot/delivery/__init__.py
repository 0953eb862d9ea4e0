"""Delivery: sinks, the persisted outbox, the sender and the platform rate limits."""
