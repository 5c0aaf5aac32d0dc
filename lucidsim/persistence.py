"""Write-through SQLite storage: every mutation of the in-memory state is saved as one JSON row."""

from __future__ import annotations

import json
import os
import sqlite3
import threading

TABLES = ("domains", "filespaces", "tokens", "kv")


class Persistence:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for table in TABLES:
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )

    def put(self, table: str, key: str, value: object) -> None:
        payload = json.dumps(value, separators=(",", ":"))
        with self._lock:
            self._db.execute(
                f"INSERT INTO {table} (key, value) VALUES (?, ?) "  # noqa: S608 (fixed names)
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, payload),
            )

    def delete(self, table: str, key: str) -> None:
        with self._lock:
            self._db.execute(f"DELETE FROM {table} WHERE key = ?", (key,))  # noqa: S608

    def load(self, table: str) -> dict[str, object]:
        with self._lock:
            rows = self._db.execute(f"SELECT key, value FROM {table}").fetchall()  # noqa: S608
        return {key: json.loads(value) for key, value in rows}

    def clear(self) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            for table in TABLES:
                self._db.execute(f"DELETE FROM {table}")  # noqa: S608
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
