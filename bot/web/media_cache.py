"""Owns the console's copy of customer media: on disk, fetched once, within a byte budget.

The console proxies Twilio's media (the browser has no credentials). Holding each view's file in
memory made twelve views of a 16 MB video cost 316 MB; here a file is streamed from Twilio to
disk once, served from there (so `Range` works and players can seek), and the least recently
viewed files are deleted once the cache passes CONSOLE_MEDIA_CACHE_BYTES. A file being served is
never deleted under its reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Writes chunks to a file; returns once the whole file is there (raises on any failure).
Download = Callable[[Callable[[bytes], object]], Awaitable[object]]


@dataclass
class _Entry:
    path: Path
    size: int
    fetched_at: float
    readers: int = 0


class MediaCache:
    """Customer media on local disk, least recently viewed out first."""

    def __init__(self, max_bytes: int, *, max_age_seconds: float = 3600, folder: Path | None = None) -> None:
        self._own_folder = folder is None
        self._folder = folder or Path(tempfile.mkdtemp(prefix="advisor-bot-console-media-"))
        self._folder.mkdir(parents=True, exist_ok=True)
        self._max_bytes = max_bytes
        self._max_age = max_age_seconds
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._fetching: dict[str, asyncio.Lock] = {}
        self._counter = 0

    @property
    def size(self) -> int:
        """Bytes kept on disk now."""
        return sum(entry.size for entry in self._entries.values())

    async def open(self, key: str, download: Download) -> tuple[Path, Callable[[], None]]:
        """The file for `key` (downloaded if not kept), and the call that ends this read of it.

        Concurrent first views of one file share one download. Raises whatever `download` raises;
        a failed download leaves nothing behind.
        """
        lock = self._fetching.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)
            if entry is None or self._stale(entry) or not entry.path.exists():
                if entry is not None and entry.readers == 0:
                    entry.path.unlink(missing_ok=True)
                entry = await self._download(download)
                self._entries[key] = entry
            self._entries.move_to_end(key)
            entry.readers += 1
        if not lock.locked():
            self._fetching.pop(key, None)
        self._evict()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                entry.readers -= 1
                if entry.readers == 0 and self._entries.get(key) is not entry:
                    entry.path.unlink(missing_ok=True)  # replaced while it was being read
                self._evict()

        return entry.path, release

    async def _download(self, download: Download) -> _Entry:
        self._counter += 1
        path = self._folder / f"m{self._counter}"
        handle: BinaryIO = path.open("wb")
        try:
            await download(handle.write)
        except BaseException:
            handle.close()
            path.unlink(missing_ok=True)
            raise
        handle.close()
        return _Entry(path=path, size=path.stat().st_size, fetched_at=time.monotonic())

    def _stale(self, entry: _Entry) -> bool:
        """Kept longer than the browser may cache it: an erased customer's file must not linger."""
        return time.monotonic() - entry.fetched_at > self._max_age

    def _evict(self) -> None:
        total = self.size
        for key in list(self._entries):
            entry = self._entries[key]
            if entry.readers > 0 or (total <= self._max_bytes and not self._stale(entry)):
                continue
            del self._entries[key]
            entry.path.unlink(missing_ok=True)
            total -= entry.size

    def close(self) -> None:
        """Delete every kept file (and the folder, when the cache made it)."""
        for entry in self._entries.values():
            with contextlib.suppress(OSError):
                entry.path.unlink(missing_ok=True)
        self._entries.clear()
        if self._own_folder:
            shutil.rmtree(self._folder, ignore_errors=True)
