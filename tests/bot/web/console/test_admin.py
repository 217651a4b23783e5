"""The admin console: new advisors route at once; tokens and links; the dashboard and its exports."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.bot.web.console.conftest import ADMIN, Console, screenshot_dir
from tests.conftest import settle, wait_for

ANA = "+14155238886"
NEW_NUMBER = "+14155550199"
CUSTOMER = "+573001112233"
OTHER = "+573004445566"


def test_an_advisor_added_in_the_console_routes_at_once(console: Console, page: Page) -> None:
    console.db.add_advisor("Ana", ANA)
    console.inbound(NEW_NUMBER, CUSTOMER, "antes de existir")  # cached as unknown
    console.sign_in_as_admin(page)
    page.get_by_role("link", name="Asesores").click()
    page.get_by_test_id("advisor-name").fill("Carla Ruiz")
    page.get_by_test_id("advisor-twilio-number").fill("+1 415 555 0199")
    page.get_by_test_id("advisor-phone").fill("+57 300 777 8899")
    page.get_by_test_id("advisor-add").click()
    expect(page.locator(f'[data-testid=advisor-row][data-twilio-number="{NEW_NUMBER}"]')).to_be_visible()
    console.inbound(NEW_NUMBER, CUSTOMER, "hola Carla")
    reply = wait_for(lambda: console.twilio.bodies_to(CUSTOMER), what="the new advisor's reply")
    assert reply == ["Respuesta a: hola Carla"]
    assert console.twilio.sent[0].from_ == f"whatsapp:{NEW_NUMBER}"


def test_a_malformed_number_is_refused_with_the_reason_and_nothing_is_stored(
    console: Console, page: Page
) -> None:
    """Each field's error in the page's language, beside the field, and what was typed kept (issue 29)."""
    console.db.add_advisor("Ana", ANA, phone="+573009990001")
    console.sign_in_as_admin(page)
    page.goto(f"{console.base}/console/admin/advisors")
    page.get_by_test_id("advisor-name").fill("Sin país")
    page.get_by_test_id("advisor-twilio-number").fill("310 555 0103")
    page.get_by_test_id("advisor-phone").fill("+573007778899")
    page.get_by_test_id("advisor-add").click()
    expect(page.get_by_test_id("field-error-twilio_phone_number")).to_have_text(
        "Falta el código de país: escríbelo como +573001112233."
    )
    expect(page.get_by_test_id("advisor-name")).to_have_value("Sin país")
    expect(page.get_by_test_id("advisor-twilio-number")).to_have_value("310 555 0103")
    expect(page.get_by_test_id("advisor-phone")).to_have_value("+573007778899")
    expect(page.get_by_test_id("advisor-twilio-number")).to_have_attribute("aria-invalid", "true")
    body = page.locator("main").inner_text()
    assert "twilio_phone_number" not in body and "is not" not in body  # no internal names, no English
    # Another advisor's number, then no name at all: each on its own field.
    page.get_by_test_id("advisor-twilio-number").fill(ANA)
    page.get_by_test_id("advisor-add").click()
    expect(page.get_by_test_id("field-error-twilio_phone_number")).to_have_text(
        "Ese número de Twilio ya es de otro asesor."
    )
    page.get_by_test_id("advisor-twilio-number").fill("+14155550199")
    page.get_by_test_id("advisor-phone").fill(ANA)
    page.get_by_test_id("advisor-add").click()
    expect(page.get_by_test_id("field-error-phone_number")).to_have_text("Es el número de Twilio de Ana.")
    page.get_by_test_id("advisor-phone").fill("+573007778899")
    page.get_by_test_id("advisor-name").fill("")
    page.get_by_test_id("advisor-add").click()
    expect(page.get_by_test_id("field-error-name")).to_have_text("Escribe el nombre del asesor.")
    expect(page.get_by_test_id("advisor-phone")).to_have_value("+573007778899")
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "admin-advisors-errors.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    if folder:
        page.screenshot(path=str(folder / "admin-advisors-errors-phone.png"), full_page=True)
    # On a phone the page never scrolls sideways: the table scrolls inside its card.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert console.db.count("advisors") == 1


def test_admin_issues_and_revokes_tokens_and_links_and_deactivation_ends_sessions(
    console: Console, page: Page
) -> None:
    ana = console.db.add_advisor("Ana", ANA)
    console.sign_in_as_admin(page)
    page.goto(f"{console.base}/console/admin/advisors/{ana}")
    page.get_by_test_id("link-issue").click()
    link = page.get_by_test_id("secret-value").inner_text()
    assert link.startswith(f"{console.base}/console/link/")
    page.get_by_test_id("token-issue").click()
    token = page.get_by_test_id("secret-value").inner_text()
    assert token.startswith("abt_")
    with httpx.Client(base_url=console.base, timeout=10) as api:
        assert api.get("/api/conversations", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        page.get_by_test_id("token-revoke").click()
        expect(page.get_by_test_id("token-row")).to_contain_text("Revocado")
        wait_for(
            lambda: (
                api.get("/api/conversations", headers={"Authorization": f"Bearer {token}"}).status_code == 401
            ),
            what="the revoked token to stop working",
        )
    advisor_context = page.context.browser.new_context()  # type: ignore[union-attr]
    advisor_page = advisor_context.new_page()
    advisor_page.goto(link)
    advisor_page.wait_for_url(f"{console.base}/console")
    page.get_by_test_id("advisor-active").click()  # deactivate
    expect(page.get_by_test_id("advisor-active")).to_have_text("Activar")
    advisor_page.reload()
    assert advisor_page.url.endswith("/console/login")
    advisor_context.close()


def test_the_dashboard_counts_per_advisor_and_exports_csv(console: Console, page: Page) -> None:
    ana = console.db.add_advisor("Ana", ANA)
    console.db.add_advisor("Bruno", "+14155238887", phone="+573009990002")
    for n in range(3):
        console.inbound(ANA, f"+57300111000{n}", f"hola {n}")
    console.inbound("+14155238887", CUSTOMER, "hola Bruno", ProfileName="-1+cmd|' /C calc'!A0")
    settle(console.db)
    console.sign_in_as_admin(page)
    page.goto(f"{console.base}/console/admin/dashboard")
    ana_row = page.locator(f'[data-testid=dashboard-row][data-advisor="{ana}"]')
    expect(ana_row.locator("[data-metric=inbound]")).to_have_text("3")
    expect(ana_row.locator("[data-metric=ai_replies]")).to_have_text("3")
    expect(page.locator("tfoot [data-metric=inbound]")).to_have_text("4")
    expect(page.locator("svg.chart")).to_have_count(6)  # five counts and the cost per day
    # Three service replies to Colombia: the shipped card's 0.0008 and Twilio's 0.005 each (the
    # fake model has no price: its calls count 0).
    costs = page.locator(f'[data-testid=cost-row][data-advisor="{ana}"]')
    expect(costs.locator("[data-cost=whatsapp]")).to_have_text("0,0024")  # the page's language: 0,0024
    expect(costs.locator("[data-cost=total]")).to_have_text("0,0174")
    outcomes = page.locator(f'[data-testid=outcome-row][data-advisor="{ana}"]')
    expect(outcomes.locator("[data-outcome=coverage]")).to_have_text("100 %")  # the AI answered all three
    expect(outcomes.locator("[data-outcome=funnel]")).to_have_text("3 → 0 → 0")
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "dashboard.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(folder / "dashboard-phone.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})
    # On a phone nothing of the dashboard is cut or scrolls sideways (issue 29).
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate(
        "[...document.querySelectorAll('table.totals')].every(t => t.scrollWidth <= t.clientWidth + 1)"
    )
    expect(costs.locator("[data-cost=total]")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 800})
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    results = httpx.get(f"{console.base}/console/admin/outcomes.csv?days=7", cookies=cookies, timeout=10)
    per_advisor = {r["advisor"]: r for r in csv.DictReader(io.StringIO(results.text))}
    assert (per_advisor["Ana"]["conversations"], per_advisor["Ana"]["ai_answered"]) == ("3", "3")
    assert per_advisor["Bruno"]["conversations"] == "1"
    stats = httpx.get(f"{console.base}/console/admin/stats.csv?days=7", cookies=cookies, timeout=10)
    assert stats.status_code == 200 and stats.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(stats.text)))
    assert len(rows) == 14 and sum(int(r["inbound"]) for r in rows if r["advisor"] == "Ana") == 3
    assert sum(float(r["cost_usd"]) for r in rows if r["advisor"] == "Ana") == pytest.approx(0.0174)
    assert {"handovers_customer_request", "handovers_loop"} <= set(rows[0])  # a column per kind
    conversations = httpx.get(f"{console.base}/console/admin/conversations.csv", cookies=cookies, timeout=10)
    exported = list(csv.DictReader(io.StringIO(conversations.text)))
    assert sorted(r["phone_number"] for r in exported) == sorted(
        [f"+57300111000{n}" for n in range(3)] + [CUSTOMER]
    )
    # A customer's name never runs as a formula (issue 23, finding 4); phone numbers stay numbers.
    assert [r["profile_name"] for r in exported if r["phone_number"] == CUSTOMER] == ["'-1+cmd|' /C calc'!A0"]
    advisor_context = page.context.browser.new_context()  # type: ignore[union-attr]
    advisor_page = advisor_context.new_page()
    advisor_page.goto(console.link(ana))
    advisor_page.wait_for_url(f"{console.base}/console")
    # An advisor sees the same figures for herself alone (issue 29), and her exports are hers.
    answer = advisor_page.goto(f"{console.base}/console/admin/dashboard")
    assert answer is not None and answer.status == 200
    expect(advisor_page.get_by_role("heading", name="Tu panel")).to_be_visible()
    expect(advisor_page.get_by_test_id("dashboard-row")).to_have_count(1)
    expect(advisor_page.locator(f'[data-testid=dashboard-row][data-advisor="{ana}"]')).to_be_visible()
    expect(
        advisor_page.locator(f'[data-testid=cost-row][data-advisor="{ana}"] [data-cost=total]')
    ).to_have_text("0,0174")
    own = {c["name"]: c["value"] for c in advisor_context.cookies()}
    stats_rows = list(
        csv.DictReader(
            io.StringIO(
                httpx.get(f"{console.base}/console/admin/stats.csv?days=14", cookies=own, timeout=10).text
            )
        )
    )
    assert stats_rows and {r["advisor"] for r in stats_rows} == {"Ana"}
    exported = list(
        csv.DictReader(
            io.StringIO(
                httpx.get(f"{console.base}/console/admin/conversations.csv", cookies=own, timeout=10).text
            )
        )
    )
    assert exported and {r["advisor"] for r in exported} == {"Ana"}
    outcomes = list(
        csv.DictReader(
            io.StringIO(
                httpx.get(f"{console.base}/console/admin/outcomes.csv?days=7", cookies=own, timeout=10).text
            )
        )
    )
    assert [r["advisor"] for r in outcomes] == ["Ana"]
    advisor_context.close()


def test_the_admin_sees_every_advisors_conversations_and_can_filter_by_advisor(
    console: Console, page: Page
) -> None:
    ana = console.db.add_advisor("Ana", ANA)
    console.db.add_advisor("Bruno", "+14155238887", phone="+573009990002")
    console.inbound(ANA, CUSTOMER, "para Ana")
    console.inbound("+14155238887", CUSTOMER, "para Bruno")
    settle(console.db)
    console.sign_in_as_admin(page)
    expect(page.get_by_test_id("conversation-row")).to_have_count(2)
    page.get_by_test_id("advisor-filter").select_option(ana)
    expect(page.get_by_test_id("conversation-row")).to_have_count(1)
    expect(page.get_by_test_id("conversation-row")).to_contain_text("Ana")
    page.get_by_test_id("conversation-row").click()
    expect(page.get_by_test_id("message").first).to_contain_text("para Ana")


def test_working_hours_are_set_in_the_console_and_a_mistyped_range_is_refused(
    console: Console, page: Page
) -> None:
    ana = console.db.add_advisor("Ana", ANA)
    console.sign_in_as_admin(page)
    page.goto(f"{console.base}/console/admin/advisors/{ana}")
    page.get_by_test_id("advisor-working-hours").fill("lun 08:00-12:00 14:00-18:00\nsab 9-13")
    page.get_by_test_id("advisor-save").click()
    expect(page.get_by_test_id("admin-problem")).to_contain_text("«9-13» no es una franja como 08:00-12:00.")
    assert console.db.query("SELECT settings->'working_hours' AS hours FROM advisors")[0]["hours"] is None
    page.get_by_test_id("advisor-working-hours").fill("lunes 08:00-12:00")
    page.get_by_test_id("advisor-save").click()
    expect(page.get_by_test_id("admin-problem")).to_contain_text("«lunes» no es un día: lun, mar, mié")
    # Spanish day codes (with or without accents) or English ones; shown in the page's language.
    page.get_by_test_id("advisor-working-hours").fill("lun 08:00-12:00 14:00-18:00\nsab 09:00-13:00")
    page.get_by_test_id("advisor-time-zone").fill("America/Mexico_City")
    page.get_by_test_id("advisor-language").select_option("en")
    page.get_by_test_id("advisor-voice").select_option("nova")
    page.get_by_test_id("advisor-save").click()
    expect(page.get_by_test_id("advisor-working-hours")).to_have_value(
        "lun 08:00-12:00 14:00-18:00\nsáb 09:00-13:00"
    )
    expect(page.get_by_test_id("advisor-language")).to_have_value("en")
    expect(page.get_by_test_id("advisor-voice")).to_have_value("nova")
    saved = console.db.query("SELECT settings FROM advisors")[0]["settings"]
    assert saved["working_hours"] == {"mon": ["08:00-12:00", "14:00-18:00"], "sat": ["09:00-13:00"]}
    assert saved["time_zone"] == "America/Mexico_City"
    assert (saved["language"], saved["tts_voice"]) == ("en", "nova")
    page.get_by_role("link", name="English").click()
    page.goto(f"{console.base}/console/admin/advisors/{ana}")
    expect(page.get_by_test_id("advisor-working-hours")).to_have_value(
        "mon 08:00-12:00 14:00-18:00\nsat 09:00-13:00"
    )
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "admin-advisor.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(folder / "admin-advisor-phone.png"), full_page=True)


def test_an_advisor_flags_an_ai_answer_and_the_dashboard_and_csv_count_flags_and_drafts(
    console: Console, page: Page
) -> None:
    ana = console.db.add_advisor("Ana", ANA)
    bruno = console.db.add_advisor("Bruno", "+14155238887", phone="+573009990002")
    console.inbound(ANA, CUSTOMER, "¿cuánto cuesta?")
    wait_for(lambda: console.twilio.bodies_to(CUSTOMER), what="the AI's answer")
    console.sign_in(page, ana)
    page.get_by_test_id("conversation-row").first.click()
    flag = page.get_by_test_id("flag-ai-message")
    expect(flag).to_have_count(1)  # only the AI's answer can be flagged, not the customer's message
    flag.locator("summary").click()
    flag.get_by_test_id("flag-category").select_option("incomplete")
    flag.get_by_test_id("flag-comment").fill("No dio el precio del parqueadero")
    flag.get_by_test_id("flag-save").click()
    expect(page.get_by_test_id("message-flag")).to_contain_text(
        "Incompleta — No dio el precio del parqueadero"
    )
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "flagged.png"))
    # A draft Bruno's conversation settles counts for him only.
    console.db.query('UPDATE advisors SET settings = \'{"ai_mode": "draft"}\' WHERE id = %s', (bruno,))
    console.inbound("+14155238887", OTHER, "hola")
    wait_for(lambda: console.db.query("SELECT 1 FROM drafts"), what="Bruno's draft")
    console.db.query("UPDATE drafts SET status = 'rejected', decided_at = now(), decided_by = 'advisor'")

    console.sign_in_as_admin(page)
    page.goto(f"{console.base}/console/admin/dashboard")
    ana_row = page.locator(f'[data-testid=quality-row][data-advisor="{ana}"]')
    bruno_row = page.locator(f'[data-testid=quality-row][data-advisor="{bruno}"]')
    expect(ana_row.locator("[data-flag=incomplete]")).to_have_text("1")
    expect(ana_row.locator("[data-draft=rejected]")).to_have_text("0")
    expect(bruno_row.locator("[data-flag=incomplete]")).to_have_text("0")
    expect(bruno_row.locator("[data-draft=rejected]")).to_have_text("1")
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "dashboard-quality.png"), full_page=True)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    stats = httpx.get(f"{console.base}/console/admin/stats.csv?days=7", cookies=cookies, timeout=10)
    rows = list(csv.DictReader(io.StringIO(stats.text)))
    assert sum(int(r["flags_incomplete"]) for r in rows if r["advisor"] == "Ana") == 1
    assert sum(int(r["drafts_rejected"]) for r in rows if r["advisor"] == "Bruno") == 1
    assert sum(int(r["drafts_rejected"]) for r in rows if r["advisor"] == "Ana") == 0
    api = httpx.get(
        f"{console.base}/api/advisors/{ana}/stats", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10
    ).json()
    assert sum(day["flags_by_category"].get("incomplete", 0) for day in api["days"]) == 1
