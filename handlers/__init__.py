"""Chat commands, written once for every platform: plain async functions returning replies."""
