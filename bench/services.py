"""The local fakes of Twilio, the model and a media CDN (tests/fakes.py), for benchmarks that
need replies: the server under test talks to them over loopback with the real client libraries."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import psycopg

from bench.server import TOKEN
from tests.fakes import (
    FakeMediaHost,
    FakeOpenAI,
    FakeTwilio,
    start_fake_media_host,
    start_fake_openai,
    start_fake_twilio,
)

ACCOUNT_SID = "AC" + "b" * 32


@dataclass
class Services:
    twilio: FakeTwilio
    model: FakeOpenAI
    media: FakeMediaHost

    def environment(self) -> dict[str, str]:
        """The server's settings pointing at these fakes."""
        twilio_host = urlparse(self.twilio.url).netloc
        media_host = urlparse(self.media.url).netloc
        return {
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_API_BASE_URL": self.twilio.url,
            "OPENAI_API_KEY": "sk-bench-not-a-real-key",
            "OPENAI_BASE_URL": self.model.url,
            "OPENAI_MODEL": "fake-model",
            "TWILIO_MEDIA_HOSTS": twilio_host,
            "MEDIA_CDN_HOSTS": media_host,
            "DEBOUNCE_SECONDS": "0",
        }

    def wait_for_replies(
        self, conn: psycopg.Connection[Any], count: int, *, timeout: float, poll: float = 0.01
    ) -> float:
        """Wait until the fake Twilio has `count` replies and no answer job is left; return seconds."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            busy = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
                "AND task_name = 'answer_conversation'"
            ).fetchone()[0]  # type: ignore[index]
            if len(self.twilio.sent) >= count and busy == 0:
                return time.monotonic() - started
            time.sleep(poll)
        raise SystemExit(f"only {len(self.twilio.sent)} of {count} replies within {timeout:.0f} s")

    def media_url(self, name: str) -> str:
        """A Twilio media URL for `name` that redirects to the fake CDN, like Twilio's do."""
        return f"{self.twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'4' * 32}/Media/{name}"


@contextlib.contextmanager
def local_services() -> Iterator[Services]:
    # Kept-alive connections, as api.twilio.com and api.openai.com keep them: a new connection
    # per call would charge the server under test for work it does not do in production.
    services = Services(
        start_fake_twilio(keep_alive=True), start_fake_openai(keep_alive=True), start_fake_media_host()
    )
    services.twilio.media_redirect = services.media.url
    services.twilio.auth_token = TOKEN
    try:
        yield services
    finally:
        for fake in (services.twilio, services.model, services.media):
            assert fake.server is not None
            fake.server.close()
