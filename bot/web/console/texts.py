"""Owns every fixed text of the console, in Spanish (the default: the advisors are Colombian) and English.

Templates and handlers name a text by key; a key missing in one language is a test failure
(tests/bot/web/console/test_texts.py), never an empty label on a page.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["es", "en"]
LANGUAGES: tuple[Language, ...] = ("es", "en")
DEFAULT_LANGUAGE: Language = "es"

CATALOGUE: dict[str, dict[Language, str]] = {
    "app.title": {"es": "Consola de asesores", "en": "Advisor console"},
    "nav.inbox": {"es": "Conversaciones", "en": "Conversations"},
    "nav.advisors": {"es": "Asesores", "en": "Advisors"},
    "nav.dashboard": {"es": "Panel", "en": "Dashboard"},
    "nav.sign_out": {"es": "Salir", "en": "Sign out"},
    "nav.language": {"es": "English", "en": "Español"},
    "login.title": {"es": "Entrar", "en": "Sign in"},
    "login.intro": {
        "es": "Abre el enlace que te dio el administrador o el comando #web en WhatsApp, "
        "o pega tu token de acceso.",
        "en": "Open the link your admin gave you or the #web command sent you on WhatsApp, "
        "or paste your access token.",
    },
    "login.token": {"es": "Token de acceso", "en": "Access token"},
    "login.submit": {"es": "Entrar", "en": "Sign in"},
    "login.bad_token": {"es": "Ese token no es válido.", "en": "That token is not valid."},
    "login.bad_link": {
        "es": "Este enlace ya se usó, venció o no es válido. Pide uno nuevo con #web.",
        "en": "This link was already used, has expired or is not valid. Ask for a new one with #web.",
    },
    "login.throttled": {
        "es": "Demasiados intentos. Espera un momento y vuelve a intentarlo.",
        "en": "Too many attempts. Wait a moment and try again.",
    },
    "login.expired": {
        "es": "Tu sesión terminó. Vuelve a entrar.",
        "en": "Your session has ended. Please sign in again.",
    },
    "inbox.title": {"es": "Conversaciones", "en": "Conversations"},
    "inbox.filter.waiting": {"es": "Te esperan", "en": "Waiting for you"},
    "inbox.filter.ai": {"es": "Atiende la IA", "en": "AI answering"},
    "inbox.filter.all": {"es": "Todas", "en": "All"},
    "inbox.search": {"es": "Buscar nombre, teléfono o texto", "en": "Search name, phone or text"},
    "inbox.empty": {"es": "No hay conversaciones aquí.", "en": "No conversations here."},
    "inbox.more": {"es": "Ver más", "en": "Show more"},
    "inbox.advisor": {"es": "Asesor", "en": "Advisor"},
    "inbox.all_advisors": {"es": "Todos los asesores", "en": "All advisors"},
    "badge.waiting": {"es": "Te espera", "en": "Waiting for you"},
    "badge.unanswered": {"es": "sin responder", "en": "unanswered"},
    "badge.opted_out": {"es": "Se dio de baja", "en": "Opted out"},
    "badge.window_closed": {"es": "Fuera de 24 h", "en": "Outside 24 h"},
    "badge.media": {"es": "[adjunto]", "en": "[attachment]"},
    "author.customer": {"es": "Cliente", "en": "Customer"},
    "author.ai": {"es": "IA", "en": "AI"},
    "author.advisor": {"es": "Asesor", "en": "Advisor"},
    "author.system": {"es": "Sistema", "en": "System"},
    "author.note": {"es": "Nota interna", "en": "Internal note"},
    "conversation.back": {"es": "← Conversaciones", "en": "← Conversations"},
    "conversation.ai_on": {"es": "IA activa", "en": "AI on"},
    "conversation.ai_off": {"es": "IA en pausa", "en": "AI paused"},
    "conversation.audio_on": {"es": "Respuestas en audio", "en": "Voice replies"},
    "conversation.audio_off": {"es": "Respuestas en texto", "en": "Text replies"},
    "conversation.handover": {"es": "Pasada al asesor", "en": "Handed over"},
    "conversation.transcript": {"es": "Transcripción", "en": "Transcript"},
    "conversation.media_error": {
        "es": "No se pudo leer el adjunto",
        "en": "The attachment could not be read",
    },
    "conversation.reply": {"es": "Escribe tu respuesta", "en": "Write your reply"},
    "conversation.send": {"es": "Enviar", "en": "Send"},
    "conversation.window_closed": {
        "es": "Pasaron más de 24 h desde el último mensaje del cliente: WhatsApp solo permite "
        "una plantilla aprobada.",
        "en": "More than 24 h since the customer's last message: WhatsApp allows only an approved template.",
    },
    "conversation.template": {"es": "Plantilla", "en": "Template"},
    "conversation.template_sid": {"es": "Content SID (HX…)", "en": "Content SID (HX…)"},
    "conversation.template_variables": {"es": "Variables", "en": "Variables"},
    "conversation.send_template": {"es": "Enviar plantilla", "en": "Send template"},
    "conversation.note": {"es": "Nota interna (el cliente no la ve)", "en": "Internal note (never sent)"},
    "conversation.note_save": {"es": "Guardar nota", "en": "Save note"},
    "conversation.opted_out": {
        "es": "El cliente pidió no recibir más mensajes.",
        "en": "The customer asked to receive no more messages.",
    },
    "conversation.refused": {"es": "No se envió", "en": "Not sent"},
    "conversation.older": {"es": "Mensajes anteriores no mostrados", "en": "Older messages not shown"},
    "profile.title": {"es": "Perfil del cliente", "en": "Customer profile"},
    "profile.name": {"es": "Nombre", "en": "Name"},
    "profile.stage": {"es": "Etapa", "en": "Stage"},
    "profile.labels": {"es": "Etiquetas (separadas por comas)", "en": "Labels (comma separated)"},
    "profile.notes": {"es": "Notas (la IA las lee)", "en": "Notes (the AI reads them)"},
    "profile.consent": {"es": "Acepta mensajes de marketing", "en": "Accepts marketing messages"},
    "profile.save": {"es": "Guardar perfil", "en": "Save profile"},
    "stage.new": {"es": "Nuevo", "en": "New"},
    "stage.interested": {"es": "Interesado", "en": "Interested"},
    "stage.booked": {"es": "Agendado", "en": "Booked"},
    "stage.inactive": {"es": "Inactivo", "en": "Inactive"},
    "status.pending": {"es": "Pendiente", "en": "Pending"},
    "status.sending": {"es": "Enviando", "en": "Sending"},
    "status.queued": {"es": "Enviado a Twilio", "en": "Queued"},
    "status.accepted": {"es": "Enviado a Twilio", "en": "Queued"},
    "status.sent": {"es": "Enviado", "en": "Sent"},
    "status.delivered": {"es": "Entregado", "en": "Delivered"},
    "status.read": {"es": "Leído", "en": "Read"},
    "status.failed": {"es": "Falló", "en": "Failed"},
    "status.undelivered": {"es": "No entregado", "en": "Undelivered"},
    "status.dry_run": {"es": "Simulado", "en": "Dry run"},
    "admin.advisors": {"es": "Asesores", "en": "Advisors"},
    "admin.add": {"es": "Añadir asesor", "en": "Add advisor"},
    "admin.name": {"es": "Nombre", "en": "Name"},
    "admin.phone": {"es": "Teléfono personal", "en": "Personal phone"},
    "admin.twilio_number": {"es": "Número de Twilio", "en": "Twilio number"},
    "admin.active": {"es": "Activo", "en": "Active"},
    "admin.inactive": {"es": "Inactivo", "en": "Inactive"},
    "admin.edit": {"es": "Editar", "en": "Edit"},
    "admin.save": {"es": "Guardar", "en": "Save"},
    "admin.deactivate": {"es": "Desactivar", "en": "Deactivate"},
    "admin.activate": {"es": "Activar", "en": "Activate"},
    "admin.system_prompt": {"es": "Instrucciones de la IA", "en": "AI instructions"},
    "admin.away_message": {"es": "Mensaje de ausencia", "en": "Away message"},
    "admin.language": {"es": "Idioma de respuesta", "en": "Reply language"},
    "admin.voice": {"es": "Voz", "en": "Voice"},
    "admin.tokens": {"es": "Tokens de acceso", "en": "Access tokens"},
    "admin.token_label": {"es": "Para qué es", "en": "What it is for"},
    "admin.issue_token": {"es": "Crear token", "en": "Issue token"},
    "admin.revoke": {"es": "Revocar", "en": "Revoke"},
    "admin.revoked": {"es": "Revocado", "en": "Revoked"},
    "admin.created": {"es": "Creado", "en": "Created"},
    "admin.last_used": {"es": "Último uso", "en": "Last used"},
    "admin.link": {"es": "Crear enlace de entrada", "en": "Create sign-in link"},
    "admin.shown_once": {
        "es": "Cópialo ahora: no se volverá a mostrar.",
        "en": "Copy it now: it will not be shown again.",
    },
    "admin.link_valid": {"es": "Válido 15 minutos, un solo uso.", "en": "Valid 15 minutes, single use."},
    "admin.error": {"es": "No se guardó", "en": "Not saved"},
    "admin.saved": {"es": "Guardado", "en": "Saved"},
    "dashboard.title": {"es": "Panel del equipo", "en": "Team dashboard"},
    "dashboard.days": {"es": "Días", "en": "Days"},
    "dashboard.conversations": {"es": "Conversaciones", "en": "Conversations"},
    "dashboard.inbound": {"es": "Mensajes recibidos", "en": "Inbound messages"},
    "dashboard.ai_replies": {"es": "Respuestas de la IA", "en": "AI replies"},
    "dashboard.human_replies": {"es": "Respuestas humanas", "en": "Human replies"},
    "dashboard.handovers": {"es": "Pases al asesor", "en": "Handovers"},
    "dashboard.first_response": {
        "es": "Mediana de primera respuesta humana",
        "en": "Median first human response",
    },
    "dashboard.total": {"es": "Total", "en": "Total"},
    "dashboard.export_stats": {"es": "Exportar estadísticas (CSV)", "en": "Export statistics (CSV)"},
    "dashboard.export_conversations": {
        "es": "Exportar conversaciones (CSV)",
        "en": "Export conversations (CSV)",
    },
    "dashboard.from": {"es": "Desde", "en": "From"},
    "dashboard.to": {"es": "Hasta", "en": "To"},
    "error.not_found": {"es": "No existe o no es tuya.", "en": "Not found."},
    "error.forbidden": {"es": "Solo el administrador puede hacer esto.", "en": "Only the admin may do this."},
    "error.csrf": {
        "es": "La página caducó; recárgala y vuelve a intentarlo.",
        "en": "The page expired; reload it and try again.",
    },
}


def text(key: str, language: Language) -> str:
    """The text for `key` in `language`; an unknown key shows itself, so a test can catch it."""
    entry = CATALOGUE.get(key)
    if entry is None:
        return key
    return entry.get(language) or entry[DEFAULT_LANGUAGE]


def pick_language(requested: str | None) -> Language:
    """The language asked for (cookie or `?lang=`), or Spanish."""
    for language in LANGUAGES:
        if requested == language:
            return language
    return DEFAULT_LANGUAGE
