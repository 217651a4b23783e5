"""The console's media cache keeps within its byte budget and never deletes a file being read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.web.media_cache import MediaCache


def _download(data: bytes, calls: list[bytes]) -> Callable[[Callable[[bytes], object]], object]:
    async def download(sink: Callable[[bytes], object]) -> None:
        calls.append(data)
        for start in range(0, len(data), 100):
            sink(data[start : start + 100])

    return download  # type: ignore[return-value]


def test_the_least_recently_viewed_files_go_once_past_the_budget(tmp_path: Path) -> None:
    async def scenario() -> None:
        cache = MediaCache(2500, folder=tmp_path)
        calls: list[bytes] = []
        for name in ("a", "b", "c"):
            path, release = await cache.open(name, _download(name.encode() * 1000, calls))  # type: ignore[arg-type]
            assert path.read_bytes() == name.encode() * 1000
            release()
        assert cache.size == 2000 and len(list(tmp_path.iterdir())) == 2
        await cache.open("b", _download(b"b" * 1000, calls))  # type: ignore[arg-type]
        assert len(calls) == 3  # b was kept: not fetched again
        await cache.open("a", _download(b"a" * 1000, calls))  # type: ignore[arg-type]
        assert len(calls) == 4  # a was the one evicted

    asyncio.run(scenario())


def test_a_file_being_read_is_kept_even_over_the_budget(tmp_path: Path) -> None:
    async def scenario() -> None:
        cache = MediaCache(500, folder=tmp_path)
        calls: list[bytes] = []
        path, release = await cache.open("big", _download(b"x" * 1000, calls))  # type: ignore[arg-type]
        other, release_other = await cache.open("other", _download(b"y" * 1000, calls))  # type: ignore[arg-type]
        assert path.exists() and other.exists()  # both being read
        release()
        assert not path.exists() and other.exists()
        release_other()
        assert cache.size == 0 and list(tmp_path.iterdir()) == []

    asyncio.run(scenario())


def test_a_failed_download_leaves_nothing_and_concurrent_views_share_one(tmp_path: Path) -> None:
    async def scenario() -> None:
        cache = MediaCache(10_000, folder=tmp_path)

        async def failing(sink: Callable[[bytes], object]) -> None:
            sink(b"part")
            raise OSError("connection reset")

        with pytest.raises(OSError):
            await cache.open("x", failing)
        assert list(tmp_path.iterdir()) == []
        calls: list[bytes] = []

        async def slow(sink: Callable[[bytes], object]) -> None:
            calls.append(b"")
            await asyncio.sleep(0.05)
            sink(b"z" * 10)

        opened = await asyncio.gather(*(cache.open("x", slow) for _ in range(5)))
        assert len(calls) == 1 and len({path for path, _ in opened}) == 1

    asyncio.run(scenario())
