"""Owns hosting our own media (voice replies) where Twilio can fetch it: local or Supabase Storage.

`local`: files in MEDIA_DIR, served by this app at `/media/{name}?expires=…&signature=…`, an
unguessable name plus an HMAC over name and expiry; a tampered or expired link is a 404, and a
periodic job deletes files older than MEDIA_RETENTION_HOURS. `supabase`: uploaded to the
SUPABASE_MEDIA_BUCKET bucket and shared through a signed URL from Supabase itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
import warnings
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from bot.settings import Settings
from memory.records.media_files import MEDIA_PATH, published_name, store_media

logger = logging.getLogger(__name__)

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


class MediaStoreError(Exception):
    """The media could not be stored or shared; the caller falls back to text."""


class MediaStore(Protocol):
    """Somewhere Twilio can fetch our media from."""

    async def publish(self, data: bytes, *, content_type: str, suffix: str) -> str:
        """Store `data` and return a URL Twilio can fetch it from."""


def sign_media(name: str, expires: int, key: bytes) -> str:
    """The signature of a local media link."""
    return hmac.new(key, f"{name}:{expires}".encode(), hashlib.sha256).hexdigest()


def media_link_valid(
    name: str, expires: str, signature: str, *, key: bytes, now: float | None = None
) -> bool:
    """Whether a local media link is genuine and not expired."""
    # isascii: "²".isdigit() is true, and int("²") raises (a crafted link was a 500).
    if not (expires.isascii() and expires.isdigit()) or not set(name) <= _NAME_CHARS or name.startswith("."):
        return False
    if int(expires) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(sign_media(name, int(expires), key), signature)


class _LinkedMediaStore:
    """Media linked through this app under PUBLIC_BASE_URL, with signed, expiring links.

    Where the bytes are kept is the subclass's.
    """

    backend = ""

    def __init__(self, settings: Settings, *, key: bytes) -> None:
        if not settings.public_base_url:
            raise MediaStoreError(
                f"MEDIA_BACKEND={self.backend} needs PUBLIC_BASE_URL for Twilio to fetch media"
            )
        self._base = settings.public_base_url
        self._key = key
        self._ttl = settings.media_link_ttl_seconds

    async def publish(self, data: bytes, *, content_type: str, suffix: str) -> str:
        """Keep the file under an unguessable name and return its signed, expiring URL."""
        name = f"{secrets.token_urlsafe(24).lower().replace('-', 'x')}.{suffix}"
        await self._keep(name, data, content_type)
        expires = int(time.time()) + self._ttl
        signature = sign_media(name, expires, self._key)
        return f"{self._base}{MEDIA_PATH}/{name}?expires={expires}&signature={signature}"

    async def _keep(self, name: str, data: bytes, content_type: str) -> None:
        raise NotImplementedError


class LocalMediaStore(_LinkedMediaStore):
    """Files under MEDIA_DIR (only when web and worker share one disk)."""

    backend = "local"

    def __init__(self, settings: Settings, *, key: bytes) -> None:
        super().__init__(settings, key=key)
        self.folder = settings.media_dir
        self.folder.mkdir(parents=True, exist_ok=True)

    async def _keep(self, name: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread((self.folder / name).write_bytes, data)


class DatabaseMediaStore(_LinkedMediaStore):
    """Rows of `media_files`: any web process, on any machine, serves what any worker published."""

    backend = "database"

    def __init__(self, settings: Settings, *, key: bytes, pool: Any) -> None:
        super().__init__(settings, key=key)
        self._pool = pool

    async def _keep(self, name: str, data: bytes, content_type: str) -> None:
        async with self._pool.connection() as conn:
            await store_media(conn=conn, name=name, content_type=content_type, data=data)


class SupabaseMediaStore:
    """A Supabase Storage bucket, shared through Supabase's own signed URLs."""

    def __init__(self, settings: Settings) -> None:
        from supabase import create_client

        if not settings.supabase_url or settings.supabase_service_role_key is None:
            raise MediaStoreError("MEDIA_BACKEND=supabase needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY")
        with warnings.catch_warnings():
            # supabase-py hands its storage client a parameter that storage3 itself deprecates.
            warnings.simplefilter("ignore", DeprecationWarning)
            client = create_client(
                settings.supabase_url, settings.supabase_service_role_key.get_secret_value()
            )
            self._bucket = client.storage.from_(settings.supabase_media_bucket)
        self._ttl = settings.media_link_ttl_seconds

    def remove(self, paths: list[str]) -> None:
        """Delete objects of the bucket (blocking: call in a thread)."""
        self._bucket.remove(paths)

    async def publish(self, data: bytes, *, content_type: str, suffix: str) -> str:
        """Upload under `voice/<random>.<suffix>` and return a signed URL."""
        path = f"voice/{secrets.token_urlsafe(24)}.{suffix}"
        bucket = self._bucket
        try:
            await asyncio.to_thread(bucket.upload, path, data, {"content-type": content_type})
            signed = await asyncio.to_thread(bucket.create_signed_url, path, self._ttl)
        except Exception as error:  # noqa: BLE001 - the storage client raises many kinds; all mean "no media"
            raise MediaStoreError(f"Supabase Storage failed: {type(error).__name__}") from error
        url = signed.get("signedURL") or signed.get("signedUrl") or signed.get("signed_url")
        if not url:
            raise MediaStoreError("Supabase Storage returned no signed URL")
        return str(url)


def delete_old_files(folder: Path, *, older_than_seconds: float, now: float | None = None) -> int:
    """Delete media files older than the retention; return how many went."""
    limit = (now if now is not None else time.time()) - older_than_seconds
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


async def delete_stored_media(settings: Settings, urls: list[str]) -> int:
    """Delete the files behind our own media links (voice replies); return how many were removed.

    Only links this server made are touched: local files named in `{MEDIA_PATH}/<name>` links
    under MEDIA_DIR, or `voice/<name>` objects of the Supabase bucket. Twilio's links to what
    customers sent are Twilio's (delete them in Twilio's console or API).
    """
    names = {name for url in urls if (name := published_name(url))}
    objects = {
        match.group(1)
        for url in urls
        if (match := re.search(r"/(voice/[A-Za-z0-9_.-]+)", urlsplit(url).path))
    }
    removed = 0
    for name in names:
        path = settings.media_dir / name
        if path.resolve().parent == settings.media_dir.resolve() and path.exists():
            await asyncio.to_thread(path.unlink)
            removed += 1
    if objects and settings.media_backend == "supabase":
        try:
            store = SupabaseMediaStore(settings)
            await asyncio.to_thread(store.remove, sorted(objects))
            removed += len(objects)
        except Exception as error:  # noqa: BLE001 - reported; the rows are gone already
            logger.error("stored media not deleted from Supabase", extra={"error": type(error).__name__})
    return removed
