"""Fake servers on 127.0.0.1 that the tests run: the Bot API, feed hosts, Discord."""
