"""The advisor's inbox and conversations in a real browser: isolation, live updates, taking over,
replying by hand with delivery ticks, and templates outside the 24-hour window."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from bot.cli import main
from tests.bot.web.console.conftest import Console, screenshot_dir
from tests.conftest import settle, wait_for
from tests.fakes import FakeOpenAI, Reply

ANA, BRUNO = "+14155238886", "+14155238887"
ANA_PHONE = "+573009990001"
CUSTOMER, OTHER = "+573001112233", "+573004445566"


def _conversation_id(console: Console, advisor_id: str, phone: str) -> str:
    row = console.db.conversation(advisor_id, phone)
    assert row is not None
    return str(row["conversation_id"])


def _signed_in_with_a_customer_waiting(console: Console, page: Page) -> str:
    """Ana, signed in, with a customer who asked for a person; returns her id."""
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    console.inbound(ANA, CUSTOMER, "quiero hablar con alguien")
    settle(console.db)
    console.sign_in(page, ana)
    return ana


def test_an_advisor_sees_only_their_conversations_in_the_list_by_url_and_live(
    console: Console, page: Page
) -> None:
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    bruno = console.db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    console.inbound(ANA, CUSTOMER, "hola Ana", ProfileName="Camila")
    console.inbound(BRUNO, CUSTOMER, "hola Bruno")
    console.inbound(BRUNO, OTHER, "solo de Bruno")
    settle(console.db)
    console.sign_in(page, ana)
    rows = page.get_by_test_id("conversation-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-phone", CUSTOMER)
    expect(rows.first).to_contain_text("Camila")
    # Bruno's conversation with the same customer, by URL: a 404 like one that does not exist.
    brunos = _conversation_id(console, bruno, CUSTOMER)
    answer = page.goto(f"{console.base}/console/c/{brunos}")
    assert answer is not None and answer.status == 404
    answer = page.goto(f"{console.base}/console/c/00000000-0000-0000-0000-000000000000")
    assert answer is not None and answer.status == 404
    # Live events: Ana's stream never names Bruno's conversations.
    page.goto(f"{console.base}/console")
    page.evaluate(
        "window.heard = []; new EventSource('/console/events')"
        ".addEventListener('change', e => window.heard.push(e.data))"
    )
    page.wait_for_timeout(300)
    console.inbound(BRUNO, OTHER, "otra vez Bruno")
    console.inbound(ANA, CUSTOMER, "otra vez Ana")
    anas = _conversation_id(console, ana, CUSTOMER)
    # Polled from here: Playwright's in-page polling evaluates a string, which the console's CSP forbids.
    wait_for(lambda: anas in page.evaluate("window.heard"), what="Ana's change on her stream")
    heard = page.evaluate("window.heard")
    assert brunos not in heard and _conversation_id(console, bruno, OTHER) not in heard
    # And the search of an advisor finds only their own.
    page.get_by_test_id("search").fill("Bruno")
    expect(page.get_by_test_id("conversation-row")).to_have_count(0)


def test_a_new_message_appears_without_reloading(console: Console, page: Page) -> None:
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    console.inbound(ANA, CUSTOMER, "primer mensaje")
    settle(console.db)
    console.sign_in(page, ana)
    expect(page.get_by_test_id("conversation-row")).to_have_count(1)
    console.inbound(ANA, OTHER, "soy nuevo", ProfileName="Daniela")
    new_row = page.locator(f'[data-testid=conversation-row][data-phone="{OTHER}"]')
    expect(new_row).to_be_visible()
    expect(new_row).to_contain_text("Daniela")
    new_row.click()
    expect(page.get_by_test_id("message")).to_have_count(2)  # the message and the AI's reply
    console.inbound(ANA, OTHER, "y otra cosa")
    expect(page.locator("[data-testid=message][data-author=customer]")).to_have_count(2)
    expect(page.locator("[data-testid=message][data-author=customer]").last).to_contain_text("y otra cosa")


def test_turning_the_ai_off_in_the_console_stops_its_next_reply(console: Console, page: Page) -> None:
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    console.inbound(ANA, CUSTOMER, "hola")
    wait_for(lambda: console.twilio.bodies_to(CUSTOMER), what="the AI's first reply")
    console.sign_in(page, ana)
    page.get_by_test_id("conversation-row").first.click()
    toggle = page.get_by_test_id("ai-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.locator("#conversation-head .who").inner_text().count(CUSTOMER) == 1  # no name: once
    # The switch says what pressing it will do (issue 29).
    expect(page.get_by_test_id("ai-toggle-hint")).to_have_text(
        "Pulsa para tomar la conversación: la IA deja de responder y respondes tú."
    )
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("ai-toggle-hint")).to_have_text(
        "Pulsa para devolverla a la IA: responderá el próximo mensaje del cliente."
    )
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "conversation-ai-paused.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(folder / "conversation-ai-paused-phone.png"))
        page.set_viewport_size({"width": 1280, "height": 800})
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the note's placeholder is whole
    note = page.get_by_test_id("note-text")
    assert note.evaluate("box => box.scrollHeight <= box.clientHeight + 1")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 800})
    console.inbound(ANA, CUSTOMER, "¿sigues ahí?")
    settle(console.db)
    assert console.twilio.bodies_to(CUSTOMER) == ["Respuesta a: hola"]
    conversation = console.db.conversation(ana, CUSTOMER)
    assert conversation is not None and conversation["ai_attention_changed_by"] == "advisor"
    page.goto(f"{console.base}/console?show=waiting")
    expect(page.get_by_test_id("badge-waiting")).to_be_visible()
    expect(page.get_by_test_id("badge-unanswered")).to_contain_text("1")


def test_a_reply_typed_in_the_console_is_sent_from_the_advisors_number_and_shows_its_tick(
    console: Console, page: Page
) -> None:
    _signed_in_with_a_customer_waiting(console, page)
    page.get_by_test_id("conversation-row").first.click()
    page.get_by_test_id("reply-text").fill("Hola, soy Ana. Te llamo en 5 minutos.")
    page.get_by_test_id("reply-send").click()
    sent = wait_for(
        lambda: [m for m in console.twilio.sent if m.body == "Hola, soy Ana. Te llamo en 5 minutos."],
        what="the advisor's reply at Twilio",
    )[0]
    assert sent.from_ == f"whatsapp:{ANA}" and sent.to == f"whatsapp:{CUSTOMER}"
    advisor_bubble = page.locator("[data-testid=message][data-author=advisor]")
    expect(advisor_bubble).to_have_count(1)
    # Twilio calls back once it has the message, after its answer to us was stored.
    wait_for(
        lambda: console.db.query("SELECT 1 FROM messages WHERE twilio_sid = %s", (sent.sid,)), what="the SID"
    )
    assert console.status(sent.sid, "delivered", sender=ANA, customer=CUSTOMER) == 200
    expect(advisor_bubble.get_by_test_id("delivery")).to_have_attribute("data-status", "delivered")
    assert console.status(sent.sid, "read", sender=ANA, customer=CUSTOMER) == 200
    expect(advisor_bubble.get_by_test_id("delivery")).to_have_attribute("data-status", "read")
    page.get_by_test_id("note-text").fill("Prefiere llamada por la tarde")
    page.get_by_test_id("note-save").click()
    expect(page.get_by_test_id("note")).to_contain_text("Prefiere llamada por la tarde")
    assert all("Prefiere" not in m.body for m in console.twilio.sent)  # a note is never sent
    folder = screenshot_dir()
    if folder:
        page.screenshot(path=str(folder / "console-conversation.png"), full_page=True)


def test_outside_the_24_hour_window_only_a_template_can_be_sent(console: Console, page: Page) -> None:
    template = "HX" + "ab" * 16
    ana = console.db.add_advisor(
        "Ana",
        ANA,
        phone=ANA_PHONE,
        settings='{"templates": [{"name": "seguimiento", "content_sid": "'
        + template
        + '", "variables": ["nombre"]}]}',
    )
    console.inbound(ANA, CUSTOMER, "hola")
    settle(console.db)
    console.db.query("UPDATE chat_history SET last_inbound_at = now() - interval '2 days'")
    console.sign_in(page, ana)
    expect(page.get_by_test_id("badge-window-closed")).to_be_visible()
    page.get_by_test_id("conversation-row").first.click()
    expect(page.get_by_test_id("reply-text")).to_have_count(0)
    expect(page.get_by_test_id("template-form")).to_be_visible()
    page.get_by_test_id("template-pick").select_option(template)
    page.get_by_test_id("template-var-1").fill("Camila")
    page.get_by_test_id("template-send").click()
    sent = wait_for(lambda: [m for m in console.twilio.sent if m.content_sid], what="the template")[0]
    assert sent.content_sid == template and sent.from_ == f"whatsapp:{ANA}"
    stored = console.db.query("SELECT payload FROM messages WHERE author = 'advisor'")[0]["payload"]
    assert stored["content_variables"] == {"1": "Camila"}


def test_the_customer_profile_is_edited_in_the_conversation(console: Console, page: Page) -> None:
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    console.inbound(ANA, CUSTOMER, "hola", ProfileName="Cami")
    settle(console.db)
    console.sign_in(page, ana)
    page.get_by_test_id("conversation-row").first.click()
    profile = page.get_by_test_id("profile")
    expect(profile).to_contain_text("Cami")
    if profile.get_attribute("open") is None:  # folded on a phone; a desktop's pane opens by itself
        profile.locator("summary").click()
    page.get_by_test_id("profile-name").fill("Camila Restrepo")
    page.get_by_test_id("profile-stage").select_option("booked")
    page.get_by_test_id("profile-labels").fill("vip, plan familiar")
    page.get_by_test_id("profile-save").click()
    expect(page.get_by_test_id("profile").locator("summary")).to_contain_text("Camila Restrepo")
    stored = console.db.query("SELECT name, stage, labels FROM customer_profiles")
    assert stored == [{"name": "Camila Restrepo", "stage": "booked", "labels": ["vip", "plan familiar"]}]
    page.goto(f"{console.base}/console")
    expect(page.get_by_test_id("conversation-row").first).to_contain_text(
        "Cami"
    )  # WhatsApp's name in the list


def test_a_handed_over_conversation_shows_its_brief_and_a_notice_that_could_not_be_sent(
    console: Console, page: Page, fake_openai: FakeOpenAI
) -> None:
    def complains(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Lo siento mucho, ya le aviso a Ana."}
        if "seriedad" in str(messages[-1]["content"]):
            return {
                "tool_calls": [
                    ("hand_over_to_advisor", {"reason": "nadie lo llamó", "category": "complaint"})
                ]
            }
        return {"content": "Con gusto: el de Bello cuesta $250.000.000."}

    fake_openai.behaviour = complains  # type: ignore[assignment]
    priced = '{"system_prompt": "Eres Ana. El de Bello cuesta $250.000.000."}'
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE, settings=priced)  # she never wrote to it
    console.inbound(ANA, CUSTOMER, "cuanto vale el de bello")
    wait_for(lambda: console.twilio.bodies_to(CUSTOMER), what="the AI's answer")
    console.inbound(ANA, CUSTOMER, "llevo 3 dias esperando, que falta de seriedad")
    wait_for(
        lambda: console.db.query("SELECT 1 FROM advisor_channel WHERE status = 'undeliverable'"),
        what="the notice kept as undeliverable",
    )
    console.sign_in(page, ana)
    page.goto(f"{console.base}/console/c/{_conversation_id(console, ana, CUSTOMER)}")
    brief = page.get_by_test_id("handover-brief")
    expect(brief).to_contain_text("queja: nadie lo llamó")
    expect(brief).to_contain_text("«llevo 3 dias esperando, que falta de seriedad»")
    expect(brief).to_contain_text("La IA le dijo: Con gusto: el de Bello cuesta $250.000.000.")
    expect(page.get_by_test_id("notice-undeliverable")).to_contain_text("NOTICE_CONTENT_SID")
    assert console.twilio.bodies_to(ANA_PHONE) == []
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "handover-brief.png"), full_page=True)


RECORD_NOTIFICATIONS = """
window.__notifications = [];
window.Notification = function (title, options) { window.__notifications.push([title, options.body]); };
window.Notification.permission = "granted";
"""


def test_the_waiting_count_rises_live_and_raises_a_browser_notification_until_the_advisor_answers(
    console: Console, page: Page, fake_openai: FakeOpenAI
) -> None:
    def asks_for_a_person(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "Ya le aviso a Ana."}
        return {
            "tool_calls": [
                ("hand_over_to_advisor", {"reason": "pide una persona", "category": "customer_request"})
            ]
        }

    fake_openai.behaviour = asks_for_a_person  # type: ignore[assignment]
    page.context.add_init_script(RECORD_NOTIFICATIONS)
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    console.sign_in(page, ana)
    counter = page.get_by_test_id("waiting-count")
    expect(counter).to_have_attribute("data-count", "0")
    console.inbound(ANA, CUSTOMER, "quiero hablar con una persona")
    expect(counter).to_have_attribute("data-count", "1")  # live, without a reload
    expect(page.get_by_test_id("badge-waiting")).to_be_visible()
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "waiting-count.png"))
    wait_for(lambda: page.evaluate("window.__notifications.length") == 1, what="the browser notification")
    assert page.evaluate("window.__notifications")[0] == [
        "Un cliente te espera",
        "Hay 1 conversaciones esperando tu respuesta.",
    ]
    # Her reply clears the waiting state (the AI stays paused); the customer's next message waits again.
    page.get_by_test_id("conversation-row").first.click()
    page.get_by_test_id("reply-text").fill("Hola, soy Ana, ¿en qué te ayudo?")
    page.get_by_test_id("reply-send").click()
    wait_for(
        lambda: console.twilio.bodies_to(CUSTOMER)[-1:] == ["Hola, soy Ana, ¿en qué te ayudo?"],
        what="her reply",
    )
    page.goto(f"{console.base}/console")
    expect(page.get_by_test_id("waiting-count")).to_have_attribute("data-count", "0")
    expect(page.get_by_test_id("badge-ai-paused")).to_be_visible()
    console.inbound(ANA, CUSTOMER, "gracias, una pregunta más")
    expect(page.get_by_test_id("badge-waiting")).to_be_visible()
    expect(page.get_by_test_id("waiting-count")).to_have_attribute("data-count", "1")


def test_an_ai_answer_shows_the_passages_it_came_from(
    console: Console, page: Page, fake_openai: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def from_the_catalogue(messages: list[dict[str, Any]]) -> Reply:
        if messages[-1]["role"] == "tool":
            return {"content": "El de dos habitaciones cuesta 250 millones."}
        return {"tool_calls": [("search_knowledge", {"query": "precio dos habitaciones"})]}

    fake_openai.behaviour = from_the_catalogue  # type: ignore[assignment]
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    catalogue = tmp_path / "catalogo.md"
    catalogue.write_text("# Apartamentos\n\nEl de dos habitaciones cuesta 250 millones.")
    monkeypatch.setenv("DATABASE_URL", console.database_url)
    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API keeps a loop running in this one
        assert thread.submit(main, ["knowledge", "add", "--advisor", ANA, str(catalogue)]).result() == 0
    console.inbound(ANA, CUSTOMER, "cuanto vale el de dos habitaciones")
    wait_for(lambda: console.twilio.bodies_to(CUSTOMER), what="the AI's answer")
    console.sign_in(page, ana)
    page.goto(f"{console.base}/console/c/{_conversation_id(console, ana, CUSTOMER)}")
    source = page.locator('[data-author="ai"] [data-testid="source"]')
    expect(source).to_have_count(1)
    expect(source).to_contain_text("catalogo.md #")
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "sources.png"))


def test_a_newcomer_switches_a_conversation_to_draft_mode_sees_the_draft_edits_it_and_sends_it(
    console: Console, page: Page
) -> None:
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    console.inbound(ANA, CUSTOMER, "hola")
    wait_for(lambda: console.twilio.bodies_to(CUSTOMER), what="the AI's first reply, in auto mode")
    console.sign_in(page, ana)
    page.get_by_test_id("conversation-row").first.click()
    page.get_by_test_id("ai-mode").select_option("draft")
    expect(page.get_by_test_id("ai-mode")).to_have_value("draft")
    wait_for(lambda: console.db.conversation(ana, CUSTOMER)["ai_mode"] == "draft", what="the mode saved")  # type: ignore[index]

    console.inbound(ANA, CUSTOMER, "¿tienen parqueadero?")
    draft = page.get_by_test_id("draft")
    expect(draft).to_be_visible()  # arrives live, without a reload
    expect(page.get_by_test_id("draft-text")).to_have_value("Respuesta a: ¿tienen parqueadero?")
    assert console.twilio.bodies_to(CUSTOMER) == ["Respuesta a: hola"]  # nothing sent yet
    page.get_by_role("link", name="← Conversaciones").click()
    expect(page.get_by_test_id("badge-draft")).to_be_visible()  # the inbox says a draft waits
    page.get_by_test_id("conversation-row").first.click()
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "draft.png"))
        page.set_viewport_size({"width": 390, "height": 800})
        page.screenshot(path=str(folder / "draft-phone.png"))
        page.set_viewport_size({"width": 1100, "height": 800})
    page.get_by_test_id("draft-text").fill("Sí, cada apartamento tiene un parqueadero cubierto.")
    page.get_by_test_id("draft-approve").click()
    expect(page.get_by_test_id("draft")).to_have_count(0)
    wait_for(lambda: console.twilio.bodies_to(CUSTOMER)[1:], what="the edited draft at Twilio")
    assert console.twilio.bodies_to(CUSTOMER)[1] == "Sí, cada apartamento tiene un parqueadero cubierto."
    expect(page.locator("[data-testid=message][data-author=ai]").last).to_contain_text("parqueadero cubierto")

    console.inbound(ANA, CUSTOMER, "¿y piscina?")
    expect(page.get_by_test_id("draft-text")).to_have_value("Respuesta a: ¿y piscina?")
    page.get_by_test_id("draft-reject").click()
    expect(page.get_by_test_id("draft")).to_have_count(0)
    settle(console.db)
    statuses = [row["status"] for row in console.db.query("SELECT status FROM drafts ORDER BY id")]
    assert statuses == ["edited", "rejected"]
    assert len(console.twilio.bodies_to(CUSTOMER)) == 2


def test_a_customers_quoted_reply_shows_what_it_quotes(console: Console, page: Page) -> None:
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    console.inbound(ANA, CUSTOMER, "Hola")
    wait_for(lambda: console.twilio.sent, what="the AI's reply")
    answered = console.twilio.sent[0]
    console.inbound(ANA, CUSTOMER, "¿y con parqueadero?", OriginalRepliedMessageSid=answered.sid)
    wait_for(lambda: len(console.twilio.sent) == 2, what="the second reply")
    console.sign_in(page, ana)
    page.goto(f"{console.base}/console/c/{_conversation_id(console, ana, CUSTOMER)}")
    quoted = page.locator('[data-author="customer"] [data-testid="quoted"]')
    expect(quoted).to_have_count(1)
    expect(quoted).to_have_text(answered.body)
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "quoted.png"))
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        expect(quoted).to_be_visible()
        page.screenshot(path=str(folder / "quoted-phone.png"), full_page=True)


def test_an_advisor_offers_buttons_from_the_composer_and_a_list_that_breaks_a_limit_is_refused(
    console: Console, page: Page
) -> None:
    ana = _signed_in_with_a_customer_waiting(console, page)
    page.goto(f"{console.base}/console/c/{_conversation_id(console, ana, CUSTOMER)}")
    page.get_by_test_id("reply-text").fill("¿Qué día te queda mejor para la visita?")
    page.get_by_test_id("reply-options-box").locator("summary").click()
    page.get_by_test_id("reply-options").fill("Un día cualquiera que no sea fin de semana\nSábado")
    page.get_by_test_id("reply-options-kind").select_option("quick_reply")
    page.get_by_test_id("reply-send").click()
    expect(page.get_by_test_id("reply-problem")).to_contain_text("20 caracteres")
    assert (
        console.twilio.contents == []
        and console.db.query("SELECT 1 FROM messages WHERE author = 'advisor'") == []
    )
    # What was typed is still there, to be corrected rather than written again.
    expect(page.get_by_test_id("reply-text")).to_have_value("¿Qué día te queda mejor para la visita?")
    expect(page.get_by_test_id("reply-options-kind")).to_have_value("quick_reply")
    page.get_by_test_id("reply-options").fill("Viernes\nSábado\nDomingo")
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "composer-options.png"))
    page.get_by_test_id("reply-send").click()
    sent = wait_for(
        lambda: [m for m in console.twilio.sent if m.content_sid], what="the advisor's choices at Twilio"
    )[0]
    assert len(console.twilio.contents) == 1
    content_sid, created = console.twilio.contents[0]
    assert sent.content_sid == content_sid and sent.from_ == f"whatsapp:{ANA}"
    buttons = created["types"]["twilio/quick-reply"]
    assert sent.content_variables == {"1": "¿Qué día te queda mejor para la visita?"}
    assert [action["title"] for action in buttons["actions"]] == ["Viernes", "Sábado", "Domingo"]
    bubble = page.locator("[data-testid=message][data-author=advisor]")
    expect(bubble).to_contain_text("2. Sábado")
    # The customer's tap comes back naming the message it answers; the console shows that too.
    wait_for(
        lambda: console.db.query("SELECT 1 FROM messages WHERE twilio_sid = %s", (sent.sid,)), what="the SID"
    )
    console.inbound(
        ANA,
        CUSTOMER,
        "Sábado",
        MessageType="button",
        ButtonText="Sábado",
        ButtonPayload="opcion_2",
        OriginalRepliedMessageSid=sent.sid,
    )
    quoted = page.locator('[data-author="customer"] [data-testid="quoted"]')
    expect(quoted).to_contain_text("¿Qué día te queda mejor para la visita?")
    if folder:
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.screenshot(path=str(folder / "composer-options-phone.png"), full_page=True)


def test_a_customers_reaction_shows_the_emoji_on_what_it_reacts_to(console: Console, page: Page) -> None:
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    console.inbound(ANA, CUSTOMER, "Hola")
    answered = wait_for(lambda: console.twilio.sent, what="the AI's reply")[0]
    settle(console.db)
    console.inbound(ANA, CUSTOMER, "👍", MessageType="reaction", OriginalRepliedMessageSid=answered.sid)
    settle(console.db)
    console.sign_in(page, ana)
    page.goto(f"{console.base}/console/c/{_conversation_id(console, ana, CUSTOMER)}")
    reacted = page.locator('[data-author="customer"].reaction')
    expect(reacted.get_by_test_id("reaction")).to_have_text("👍")
    expect(reacted.get_by_test_id("quoted")).to_have_text(answered.body)
    assert len(console.twilio.sent) == 1  # "Respuesta a: Hola" asks nothing: the 👍 is not answered
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "reaction.png"))


def test_on_a_phone_the_inbox_shows_the_whole_number_of_a_customer_with_a_long_name(
    console: Console, page: Page
) -> None:
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    console.inbound(ANA, CUSTOMER, "hola", ProfileName="María Fernanda Restrepo de la Cuesta")
    settle(console.db)
    page.set_viewport_size({"width": 360, "height": 740})
    console.sign_in(page, ana)
    number = page.get_by_test_id("conversation-row").first.get_by_text(CUSTOMER)
    expect(number).to_be_visible()
    assert number.evaluate(
        "n => n.scrollWidth <= n.clientWidth && n.getBoundingClientRect().right <= innerWidth"
    )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "inbox-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_a_desktop_shows_the_inbox_the_conversation_and_the_customer_side_by_side_and_a_phone_one_column(
    console: Console, page: Page
) -> None:
    """Issue 29: three panes on a desktop, the open conversation marked in the list; one on a phone."""
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    console.inbound(ANA, CUSTOMER, "hola", ProfileName="Camila")
    console.inbound(ANA, OTHER, "buenas", ProfileName="Diego")
    settle(console.db)
    page.set_viewport_size({"width": 1440, "height": 900})
    console.sign_in(page, ana)
    page.get_by_test_id("conversation-row").filter(has_text="Camila").click()
    panes = page.get_by_test_id("pane-list")
    expect(panes).to_be_visible()
    expect(panes.get_by_test_id("conversation-row")).to_have_count(2)
    expect(panes.locator("[aria-current=page]")).to_contain_text("Camila")
    expect(page.get_by_test_id("profile")).to_have_attribute("open", "")
    boxes = [page.get_by_test_id(name).first.bounding_box() for name in ("pane-list", "message", "profile")]
    assert all(boxes) and boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # type: ignore[index]
    # The other conversation opens from the list beside it.
    panes.get_by_test_id("conversation-row").filter(has_text="Diego").click()
    expect(page.get_by_test_id("message").first).to_contain_text("buenas")
    expect(page.get_by_test_id("pane-list").locator("[aria-current=page]")).to_contain_text("Diego")
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "conversation-three-panes.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_test_id("pane-list")).to_be_hidden()
    # One column: the customer's panel comes under the conversation's head, before the messages.
    head, profile, first = (
        page.locator(selector).first.bounding_box()
        for selector in ("#conversation-head", "[data-testid=profile]", "[data-testid=message]")
    )
    assert head and profile and first and head["y"] < profile["y"] < first["y"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    if folder:
        page.screenshot(path=str(folder / "conversation-one-column.png"))
    page.set_viewport_size({"width": 1280, "height": 800})


def test_the_inbox_filters_by_a_label_of_the_advisors_own_customers(console: Console, page: Page) -> None:
    """Issue 29: find interested customers by label; another advisor's labels are not offered."""
    ana = console.db.add_advisor("Ana", ANA, phone=ANA_PHONE)
    bruno = console.db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    console.db.add_customer(ana, CUSTOMER, name="Camila", labels=["vip", "plan familiar"])
    console.db.add_customer(ana, OTHER, name="Diego", labels=["frío"])
    console.db.add_customer(bruno, "+573007778899", name="Elena", labels=["solo de Bruno"])
    console.sign_in(page, ana)
    expect(page.get_by_test_id("conversation-row")).to_have_count(2)
    options = page.get_by_test_id("label-filter").locator("option").all_inner_texts()
    assert options == ["Todas las etiquetas", "frío", "plan familiar", "vip"]
    page.get_by_test_id("label-filter").select_option("vip")
    expect(page.get_by_test_id("conversation-row")).to_have_count(1)
    expect(page.get_by_test_id("conversation-row")).to_contain_text("Camila")
    page.wait_for_url("**label=vip**")
    page.reload()  # the filter is in the address, as the others
    expect(page.get_by_test_id("conversation-row")).to_have_count(1)
    if folder := screenshot_dir():
        page.screenshot(path=str(folder / "inbox-label.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(folder / "inbox-label-phone.png"))
        page.set_viewport_size({"width": 1280, "height": 800})
    answer = page.goto(f"{console.base}/console?label=solo+de+Bruno")
    assert answer is not None and answer.status == 200
    expect(page.get_by_test_id("conversation-row")).to_have_count(0)  # Bruno's customer never shows
