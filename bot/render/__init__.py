"""Rendering: alerts and neutral replies as text for each platform, in each language."""
