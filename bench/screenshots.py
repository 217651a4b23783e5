"""Screenshots of the console for the README: inbox, conversation, dashboard, advisor; desktop and phone.

Against a server that is running (`make run`, with ADMIN_TOKEN set for the dashboard) on the
same settings (.env / environment) as this process:

    ADMIN_TOKEN=... .venv/bin/python -m bench.screenshots --url http://127.0.0.1:8000

It writes a few customers' messages to the seeded advisor Ana Gómez through signed webhooks, takes
one conversation over by hand, and saves docs/img/console-*.png with Debian's Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from pathlib import Path

import httpx
import psycopg
from playwright.sync_api import Page, sync_playwright

from advisors.console_access import issue_link
from advisors.repository import get_advisor_by_number
from bot.cli.simulate import signed_form
from bot.infra.database import connection_kwargs, resolve_database
from bot.settings import Settings
from bot.twilio.signature import local_auth_token

ANA = "+14155238886"
OUT = Path("docs/img")
CUSTOMERS = [
    (
        "+573001234501",
        "Camila Restrepo",
        ["Hola, ¿qué precio tiene el plan familiar?", "¿Incluye odontología?"],
    ),
    ("+573001234502", "Andrés Gómez", ["Buenas tardes, quiero agendar una cita para el jueves"]),
    ("+573001234503", "Valentina Ríos", ["Necesito hablar con un asesor, por favor"]),
    ("+573001234504", "Julián Ortiz", ["¿Tienen sede en Medellín?"]),
]
SIZES = {"desktop": {"width": 1200, "height": 800}, "phone": {"width": 390, "height": 844}}


def _populate(url: str, token: str) -> None:
    webhook = f"{url}/webhooks/twilio"
    for phone, name, texts in CUSTOMERS:
        for text in texts:
            form, signature = signed_form(
                url=webhook, auth_token=token, to=ANA, from_=phone, text=text, extra={"ProfileName": name}
            )
            httpx.post(webhook, data=form, headers={"X-Twilio-Signature": signature}, timeout=30)
            time.sleep(0.3)
    time.sleep(3)


async def _link(settings: Settings, url: str) -> str:
    database = resolve_database(settings)
    async with await psycopg.AsyncConnection.connect(
        database.conninfo, **connection_kwargs(database)
    ) as conn:
        advisor = await get_advisor_by_number(conn=conn, number=ANA)
        assert advisor is not None, "run `advisor-bot db seed` first"
        return f"{url}/console/link/{await issue_link(conn=conn, advisor_id=advisor.id)}"


def _shoot(page: Page, name: str) -> None:
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUT / f"console-{name}-{size}.png"), full_page=size == "desktop")


def main() -> None:
    """Populate, sign in, and shoot every page at both sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    settings = Settings()
    token = local_auth_token(settings)
    assert token, "no Twilio auth token to sign webhooks with"
    assert settings.admin_token, "set ADMIN_TOKEN (the same as the server's) for the dashboard"
    _populate(args.url, token)
    link = asyncio.run(_link(settings, args.url))
    OUT.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport=SIZES["desktop"], locale="es-CO")
        page.goto(link)
        page.wait_for_url(f"{args.url}/console")
        row = page.locator('[data-testid=conversation-row][data-phone="+573001234503"]')
        row.click()
        if page.get_by_test_id("ai-toggle").get_attribute("aria-pressed") == "true":
            page.get_by_test_id("ai-toggle").click()
            page.wait_for_selector('[data-testid=ai-toggle][aria-pressed="false"]')
        page.get_by_test_id("reply-text").fill(
            "Hola Valentina, soy Ana. ¿Te llamo a este número en 5 minutos?"
        )
        page.get_by_test_id("reply-send").click()
        page.wait_for_selector("[data-testid=message][data-author=advisor]")
        page.get_by_test_id("note-text").fill("Prefiere llamada; interesada en plan familiar")
        page.get_by_test_id("note-save").click()
        page.wait_for_timeout(2000)
        page.goto(f"{args.url}/console")
        _shoot(page, "inbox")
        page.locator('[data-testid=conversation-row][data-phone="+573001234503"]').click()
        page.wait_for_selector("[data-testid=note]")
        _shoot(page, "conversation")
        admin = browser.new_page(viewport=SIZES["desktop"], locale="es-CO")
        admin.goto(f"{args.url}/console/login")
        admin.get_by_test_id("login-token").fill(settings.admin_token.get_secret_value())
        admin.get_by_test_id("login-submit").click()
        admin.wait_for_url(f"{args.url}/console")
        admin.goto(f"{args.url}/console/admin/dashboard?days=14")
        _shoot(admin, "dashboard")
        admin.goto(f"{args.url}/console/admin/advisors")
        admin.locator(f'[data-testid=advisor-row][data-twilio-number="{ANA}"] a').first.click()
        admin.get_by_test_id("advisor-working-hours").fill(
            "mon 08:00-12:00 14:00-18:00\ntue 08:00-18:00\nwed 08:00-18:00\nthu 08:00-18:00\n"
            "fri 08:00-17:00\nsat 09:00-13:00"
        )
        admin.get_by_test_id("advisor-save").click()
        admin.wait_for_load_state()
        _shoot(admin, "advisor")
        browser.close()
    print(f"screenshots written to {OUT}/console-*.png")


if __name__ == "__main__":
    main()
