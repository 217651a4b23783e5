"""Who is signed in, and a console address that does not exist, in a real browser (issue 29)."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.bot.web.console.conftest import Console, screenshot_dir

ANA, BRUNO = "+14155238886", "+14155238887"


def test_the_header_names_who_is_signed_in_and_a_missing_page_is_a_page_in_the_consoles_language(
    console: Console, page: Page
) -> None:
    ana = console.db.add_advisor("Ana Gómez", ANA, phone="+573009990001")
    bruno = console.db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    console.inbound(BRUNO, "+573001112233", "hola Bruno")
    console.sign_in(page, ana)
    expect(page.get_by_test_id("signed-in-as")).to_have_text("Sesión de Ana Gómez")
    answer = page.goto(f"{console.base}/console/no-such-page")
    assert answer is not None and answer.status == 404
    assert answer.headers["content-type"].startswith("text/html")
    expect(page.get_by_test_id("page-missing")).to_contain_text("Página no encontrada")
    page.get_by_role("link", name="Volver a las conversaciones").click()
    page.wait_for_url(f"{console.base}/console")
    # Another advisor's conversation answers the same page as one that does not exist.
    row = console.db.conversation(bruno, "+573001112233")
    assert row is not None
    answer = page.goto(f"{console.base}/console/c/{row['conversation_id']}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_test_id("page-missing")).to_be_visible()
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "console-missing-desktop.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(folder / "console-missing-phone.png"), full_page=True)
    # The API and other clients keep their JSON answers.
    api = httpx.get(
        f"{console.base}/console/no-such-page", headers={"accept": "application/json"}, timeout=10
    )
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    assert httpx.get(f"{console.base}/api/v1/no-such-route", timeout=10).json() == {"detail": "Not Found"}


def test_the_admin_is_named_as_the_admin(console: Console, page: Page) -> None:
    console.sign_in_as_admin(page)
    expect(page.get_by_test_id("signed-in-as")).to_have_text("Sesión de Administración")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_test_id("signed-in-as")).to_have_text("Signed in as Admin")
