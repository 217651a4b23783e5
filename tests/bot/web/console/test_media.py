"""A customer's voice note in the console: a player whose audio the server fetches from Twilio with
its credentials (the browser cannot), and the transcript beside it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from bot.settings import Settings
from tests.bot.web.console.conftest import ADMIN, Console
from tests.conftest import ACCOUNT_SID, VOICE_NOTE, Db, settle
from tests.fakes import FakeOpenAI, FakeTwilio
from tests.live import LiveServer, free_port

ANA, CUSTOMER = "+14155238886", "+573001112233"


@pytest.fixture
def console(
    db: Db,
    make_settings: Callable[..., Settings],
    fake_twilio: FakeTwilio,
    twilio_media: dict[str, str],
    database_url: str,
) -> Iterator[Console]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(public_base_url=base, admin_token=ADMIN, **twilio_media)
    with LiveServer(settings, port):
        yield Console(base=base, db=db, database_url=database_url, twilio=fake_twilio, settings=settings)


def test_a_voice_note_plays_from_the_console_with_its_transcript(
    console: Console, page: Page, fake_openai: FakeOpenAI
) -> None:
    ana = console.db.add_advisor("Ana", ANA)
    media_url = f"{console.twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'2' * 32}/Media/ME1"
    console.inbound(
        ANA,
        CUSTOMER,
        "",
        NumMedia="1",
        MessageType="audio",
        MediaContentType0="audio/ogg",
        MediaUrl0=media_url,
    )
    settle(console.db)
    console.sign_in(page, ana)
    page.get_by_test_id("conversation-row").first.click()
    voice = page.locator("[data-testid=message][data-author=customer]")
    expect(voice.locator(".transcript")).to_contain_text(fake_openai.transcript)
    source = voice.locator("audio").get_attribute("src")
    assert source and source.startswith(f"{console.base}/console/c/")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    played = httpx.get(source, cookies=cookies, timeout=10)
    assert played.status_code == 200 and played.content == VOICE_NOTE
    assert (
        played.headers["content-type"] == "audio/ogg"
        and played.headers["x-content-type-options"] == "nosniff"
    )
    assert httpx.get(source, timeout=10, follow_redirects=False).status_code == 303  # not without a session
    other = console.db.add_advisor("Bruno", "+14155238887", phone="+573009990002")
    page.context.clear_cookies()
    console.sign_in(page, other)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert httpx.get(source, cookies=cookies, timeout=10).status_code == 404  # not another advisor's
