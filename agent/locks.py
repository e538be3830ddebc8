"""Per-instance locks that don't pile up: an entry lives only while in use."""
import contextlib
import threading
from collections.abc import Hashable, Iterator
from typing import Any


class LockTable:
    """One lock per key; an entry lives only while someone holds or waits."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        # key -> [lock, holders and waiters]
        self._entries: dict[Hashable, list[Any]] = {}

    @contextlib.contextmanager
    def hold(self, key: Hashable, blocking: bool = True) -> Iterator[bool]:
        """Yield True once the key's lock is held (False if not blocking
        and it is busy)."""
        with self._guard:
            entry = self._entries.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        acquired = entry[0].acquire(blocking)
        try:
            yield acquired
        finally:
            if acquired:
                entry[0].release()
            with self._guard:
                entry[1] -= 1
                if not entry[1]:
                    del self._entries[key]

    def __len__(self) -> int:
        with self._guard:
            return len(self._entries)
