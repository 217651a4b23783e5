"""The console, served for real on a loopback port, and a real headless Chromium to drive it.

Chromium is Debian's `chromium` package (`make test` installs it); Playwright for Python drives
it through its own driver, so no browser is downloaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from psycopg.rows import dict_row

from advisors.console_access import issue_link
from advisors.tokens import issue_token
from bot.settings import Settings
from tests.conftest import ACCOUNT_SID, Db, inbound_form, sign
from tests.fakes import FakeTwilio
from tests.live import LiveServer, free_port

ADMIN = "admin-token-for-console-tests-0123"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")


def chromium_path() -> str:
    """Debian's Chromium; its absence is a failure, not a skip (CI must run these tests)."""
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail("Chromium is not installed: `make test` installs Debian's chromium package (apt-get)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=args)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Console:
    """The running app, and what Twilio, an admin and the database would do to it."""

    base: str
    db: Db
    database_url: str
    twilio: FakeTwilio
    settings: Settings

    def inbound(self, to: str, customer: str, body: str, **extra: str) -> httpx.Response:
        """A signed customer message, as Twilio posts it."""
        url = f"{self.base}/webhooks/twilio"
        form = inbound_form(to, customer, body, **extra)
        return httpx.post(url, data=form, headers={"X-Twilio-Signature": sign(url, form)}, timeout=30)

    def status(self, sid: str, status: str, *, sender: str, customer: str, error_code: str = "") -> int:
        """A signed delivery status callback, as Twilio posts it."""
        url = f"{self.base}/webhooks/twilio/status"
        form = {
            "AccountSid": ACCOUNT_SID,
            "From": f"whatsapp:{sender}",
            "To": f"whatsapp:{customer}",
            "MessageSid": sid,
            "MessageStatus": status,
            **({"ErrorCode": error_code} if error_code else {}),
        }
        return httpx.post(
            url, data=form, headers={"X-Twilio-Signature": sign(url, form)}, timeout=30
        ).status_code

    def _run(self, work: Callable[[psycopg.AsyncConnection[Any]], Any]) -> Any:
        async def go() -> Any:
            async with await psycopg.AsyncConnection.connect(
                self.database_url, autocommit=True, row_factory=dict_row
            ) as conn:
                return await work(conn)

        # Playwright's sync API keeps an event loop running in this thread: use another one.
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(lambda: asyncio.run(go())).result()

    def link(self, advisor_id: str, *, lifetime: timedelta = timedelta(minutes=15)) -> str:
        """A sign-in link, as `advisor-bot console link` makes it."""
        secret = self._run(lambda conn: issue_link(conn=conn, advisor_id=UUID(advisor_id), lifetime=lifetime))
        return f"{self.base}/console/link/{secret}"

    def token(self, advisor_id: str) -> str:
        """An API token, as `advisor-bot advisors token` issues it."""
        token: str = self._run(lambda conn: issue_token(conn=conn, advisor_id=UUID(advisor_id)))
        return token

    def sign_in(self, page: Page, advisor_id: str) -> None:
        """Open a fresh sign-in link and land on the inbox.

        The page is emptied first: a console page still open could be told of a change by its live
        stream, and its refresh, redirected to sign-in once the cookies are gone, would navigate
        away and abort this navigation.
        """
        page.goto("about:blank")
        page.goto(self.link(advisor_id))
        page.wait_for_url(f"{self.base}/console")

    def sign_in_as_admin(self, page: Page) -> None:
        """Sign in with ADMIN_TOKEN through the token form (after emptying the page, as `sign_in`)."""
        page.goto("about:blank")
        page.goto(f"{self.base}/console/login")
        page.get_by_test_id("login-token").fill(ADMIN)
        page.get_by_test_id("login-submit").click()
        page.wait_for_url(f"{self.base}/console")


@contextlib.contextmanager
def served_console(
    db: Db,
    make_settings: Callable[..., Settings],
    fake_twilio: FakeTwilio,
    database_url: str,
    *,
    port: int | None = None,
    **overrides: Any,
) -> Iterator[Console]:
    """The whole app on a loopback port with these settings, as the console's tests drive it."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(public_base_url=base, admin_token=ADMIN, **overrides)
    with LiveServer(settings, port):
        yield Console(base=base, db=db, database_url=database_url, twilio=fake_twilio, settings=settings)


@pytest.fixture
def console(
    db: Db, make_settings: Callable[..., Settings], fake_twilio: FakeTwilio, database_url: str
) -> Iterator[Console]:
    with served_console(db, make_settings, fake_twilio, database_url) as served:
        yield served


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 800}, locale="es-CO")
    context.set_default_timeout(15_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def screenshot_dir() -> Path | None:
    """Where screenshots go when asked for (ADVISOR_BOT_SCREENSHOTS=dir); tests never write the repo."""
    folder = os.environ.get("ADVISOR_BOT_SCREENSHOTS")
    return Path(folder) if folder else None
