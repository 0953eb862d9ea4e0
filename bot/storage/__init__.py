"""Storage: the SQLite database, its schema, and chat settings."""
