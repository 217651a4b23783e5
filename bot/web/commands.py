"""Owns advisor commands over WhatsApp: `#ia`, `#audio`, `#r`, `#lista`, `#web`, `#ayuda`.

An advisor writes from their personal number to their own Twilio number; such a message is a
command for that advisor and acts only on that advisor's conversations. Each command is answered
in the webhook's own TwiML response, so the confirmation needs no extra API call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
import procrastinate

from advisors.console_access import issue_link
from advisors.models import Advisor
from advisors.numbers import InvalidNumberError, normalize_whatsapp_address
from bot.infra.events import EventPublisher, attention_event
from bot.settings import Settings
from bot.web.advisor_replies import ManualReplyRefusedError, queue_manual_reply
from memory.records import conversations
from memory.records.models import Conn

HELP_TEXT = (
    "Comandos:\n"
    "#lista — clientes esperando a un humano\n"
    "#ia off <tel> / #ia on <tel> — parar o devolver la IA\n"
    "#audio on|off <tel> — respuestas en audio\n"
    "#r <tel> <texto> — responder al cliente\n"
    "#web — enlace para entrar a la consola web\n"
    "#ayuda — esta ayuda"
)
_PHONE_TOKEN = re.compile(r"^[+\d().\-]+$")


@dataclass(frozen=True)
class Command:
    """A parsed command; `phone` is E.164, `text` only for relays."""

    name: str
    phone: str | None = None
    enabled: bool | None = None
    text: str | None = None
    problem: str | None = None


def default_region(advisor: Advisor) -> str | None:
    """The country assumed for numbers typed without a prefix: the advisor's own, or their setting."""
    if advisor.settings.default_region:
        return advisor.settings.default_region.upper()
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(advisor.phone_number))
    except phonenumbers.NumberParseException:
        return None


def _phone(raw: str, region: str | None) -> str:
    candidate = raw.strip()
    if not candidate.startswith("+") and region is None:
        raise InvalidNumberError(raw)
    return normalize_whatsapp_address(candidate, default_region=None if candidate.startswith("+") else region)


def _split_phone_and_text(rest: str, region: str | None) -> tuple[str, str] | None:
    """Split `+57 300 111 2233 texto` into the longest leading valid number and the text after it."""
    tokens = rest.split()
    phone_like = 0
    while phone_like < len(tokens) and _PHONE_TOKEN.match(tokens[phone_like]):
        phone_like += 1
    for end in range(min(phone_like, len(tokens) - 1), 0, -1):
        try:
            number = _phone(" ".join(tokens[:end]), region)
        except InvalidNumberError:
            continue
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number, " ".join(tokens[end:])
    return None


def parse_command(text: str, *, region: str | None) -> Command:
    """Read one advisor message as a command; anything not understood asks for help."""
    words = text.strip().split(maxsplit=1)
    if not words or not words[0].startswith("#"):
        return Command("help")
    head, rest = words[0].lower(), (words[1] if len(words) > 1 else "").strip()
    if head == "#lista":
        return Command("list")
    if head == "#web":
        return Command("web")
    if head in {"#ia", "#audio"}:
        switch, _, target = rest.partition(" ")
        if switch.lower() not in {"on", "off"} or not target.strip():
            return Command("help", problem=f"Uso: {head} on|off <teléfono>")
        try:
            phone = _phone(target, region)
        except InvalidNumberError:
            return Command("help", problem=f"No entiendo el teléfono «{target.strip()}».")
        return Command("ai" if head == "#ia" else "audio", phone=phone, enabled=switch.lower() == "on")
    if head == "#r":
        split = _split_phone_and_text(rest, region)
        if split is None:
            return Command("help", problem="Uso: #r <teléfono> <texto>")
        return Command("relay", phone=split[0], text=split[1])
    return Command("help")


async def run_command(
    command: Command,
    *,
    conn: Conn,
    advisor: Advisor,
    queue: procrastinate.App,
    settings: Settings,
    events: EventPublisher,
    console_base: str = "",
) -> str:
    """Carry out a command inside the caller's transaction; return the confirmation to send back.

    `console_base` is the server's public address, for the sign-in link `#web` answers with.
    """
    if command.name == "list":
        waiting = await conversations.waiting_conversations(conn=conn, advisor_id=advisor.id)
        if not waiting:
            return "Nadie espera a un humano ahora mismo."
        lines = [
            f"• {c.phone_number}" + (f" — {c.handover_reason}" if c.handover_reason else "") for c in waiting
        ]
        return "Esperando a un humano (más reciente primero):\n" + "\n".join(lines)
    if command.name == "web":
        secret = await issue_link(conn=conn, advisor_id=advisor.id)
        return (
            "Tu enlace para entrar a la consola (válido 15 minutos, un solo uso):\n"
            f"{console_base}/console/link/{secret}"
        )
    if command.name == "help" or command.phone is None:
        return f"{command.problem}\n\n{HELP_TEXT}" if command.problem else HELP_TEXT
    conversation = await conversations.find_conversation(
        conn=conn, advisor_id=advisor.id, phone=command.phone
    )
    if conversation is None:
        return f"No tienes ninguna conversación con {command.phone}."
    if command.name == "ai":
        assert command.enabled is not None
        await conversations.set_ai_attention(
            conn=conn,
            advisor_id=advisor.id,
            phone=command.phone,
            enabled=command.enabled,
            changed_by="advisor",
        )
        if conversation.ai_attention != command.enabled:
            await events.publish(
                conn, "ai_attention.changed", attention_event(conversation, command.enabled, "advisor")
            )
        return (
            f"La IA vuelve a atender a {command.phone}."
            if command.enabled
            else f"La IA ya no responde a {command.phone}. Contesta con #r {command.phone} <texto>."
        )
    if command.name == "audio":
        assert command.enabled is not None
        await conversations.set_audio_available(
            conn=conn, advisor_id=advisor.id, phone=command.phone, enabled=command.enabled
        )
        state = "en audio" if command.enabled else "solo en texto"
        return f"{command.phone} recibirá las respuestas {state}."
    try:
        await queue_manual_reply(
            conn=conn,
            queue=queue,
            settings=settings,
            advisor=advisor,
            conversation=conversation,
            text=command.text,
            events=events,
        )
    except ManualReplyRefusedError as error:
        return f"No enviado a {command.phone}: {_REFUSALS.get(error.reason, str(error))}"
    paused = " La IA queda en pausa para este cliente." if settings.ai_pause_on_manual_reply else ""
    return f"Enviando a {command.phone}.{paused}"


_REFUSALS = {
    "opted_out": "el cliente pidió no recibir más mensajes (escribió una palabra de baja).",
    "window_closed": "pasaron más de 24 h desde su último mensaje; WhatsApp solo permite una "
    "plantilla aprobada (envíala por la API con content_sid).",
    "empty": "el mensaje está vacío.",
}
