"""WAL checkpoints on a thread of their own.

SQLite copies the write-ahead log back into the database file (a checkpoint) when the log
passes 1,000 pages, inside whichever commit crosses that line, with an fsync: on the event
loop's thread that held the loop for 100-300 ms during a 50,000-chat fan-out. The store turns
that off and this thread checkpoints once a second on its own connection instead; a
``PASSIVE`` checkpoint never waits for, or blocks, the writer.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0


class Checkpointer:
    """Checkpoints the WAL of one database file until :meth:`stop`."""

    def __init__(self, path: Path | str, interval: float = INTERVAL_SECONDS) -> None:
        self.path = str(path)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"wal-checkpoint {Path(path).name}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("database %s: no WAL checkpoints (%s)", self.path, exc)
            return
        failed = False
        try:
            while not self._stop.wait(self.interval):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    failed = False
                except sqlite3.Error as exc:
                    if not failed:  # once per failing stretch, not every second
                        log.warning("database %s: WAL checkpoint failed: %s", self.path, exc)
                    failed = True
        finally:
            db.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
