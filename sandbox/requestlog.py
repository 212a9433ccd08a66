"""The log of every AWS call the sandbox answered, so tests can assert what was (not) written."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class Entry:
    seq: int
    service: str
    api: str
    operation: str
    write: bool
    status: int
    time: float
    duration_ms: float
    faulted: bool
    method: str
    path: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: deque[Entry] = deque(maxlen=max_entries)
        self._seq = 0
        self._lock = threading.Lock()

    def record(self, **fields: Any) -> Entry:
        with self._lock:
            self._seq += 1
            entry = Entry(seq=self._seq, **fields)
            self._entries.append(entry)
            return entry

    def query(
        self, service: str | None = None, write: bool | None = None, since: float | None = None
    ) -> list[dict[str, Any]]:
        """Entries, oldest first; ``service`` matches the signing name or botocore's name."""
        with self._lock:
            entries = list(self._entries)
        return [
            entry.to_dict()
            for entry in entries
            if (service is None or service in (entry.service, entry.api))
            and (write is None or entry.write == write)
            and (since is None or entry.time >= since)
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
