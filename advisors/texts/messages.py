"""The WhatsApp texts: what customers read from the business, and advisors on their own phone."""

from __future__ import annotations

from advisors.texts.language import Language

MESSAGES: dict[str, dict[Language, str]] = {
    # To customers
    "away.default": {
        "es": "Hola, soy {advisor_name}. Recibí tu mensaje y te responderé personalmente muy pronto.",
        "en": "Hi, this is {advisor_name}. I got your message and will reply personally very soon.",
    },
    "away.back_at": {
        "es": "Ahora estoy fuera de horario; vuelvo {when}.",
        "en": "I'm out of office right now; I'll be back {when}.",
    },
    # To advisors: commands
    "command.help": {
        "es": "Comandos:\n"
        "#lista — clientes esperando a un humano\n"
        "#ia off <tel> / #ia on <tel> — parar o devolver la IA\n"
        "#audio on|off <tel> — respuestas en audio\n"
        "#r <tel> <texto> — responder al cliente\n"
        "#borrador <tel> / #auto <tel> — la IA deja borradores que apruebas, o responde sola\n"
        "#ok / #ok <tel> — enviar el último borrador (de ese cliente)\n"
        "#plantillas — tus plantillas aprobadas\n"
        "#plantilla <tel> <nombre> [variables…] (o #t) — enviar una, también pasadas 24 h\n"
        "#web — enlace para entrar a la consola web\n"
        "#ayuda — esta ayuda",
        "en": "Commands:\n"
        "#lista — customers waiting for a human\n"
        "#ia off <phone> / #ia on <phone> — stop the AI or give it back\n"
        "#audio on|off <phone> — voice replies\n"
        "#r <phone> <text> — reply to the customer\n"
        "#borrador <phone> / #auto <phone> — the AI leaves drafts you approve, or answers alone\n"
        "#ok / #ok <phone> — send the newest draft (of that customer)\n"
        "#plantillas — your approved templates\n"
        "#plantilla <phone> <name> [variables…] (or #t) — send one, also after 24 h\n"
        "#web — sign-in link to the web console\n"
        "#ayuda — this help",
    },
    "command.usage_switch": {
        "es": "Uso: {command} on|off <teléfono>",
        "en": "Usage: {command} on|off <phone>",
    },
    "command.usage_reply": {"es": "Uso: #r <teléfono> <texto>", "en": "Usage: #r <phone> <text>"},
    "command.usage_template": {
        "es": "Uso: #plantilla <teléfono> <nombre> [variables…] "
        "(varias palabras por variable: sepáralas con |)",
        "en": "Usage: #plantilla <phone> <name> [variables…] "
        "(several words per variable: separate them with |)",
    },
    "command.no_templates": {
        "es": "No tienes plantillas aprobadas; el administrador las añade en tus ajustes (templates).",
        "en": "You have no approved templates; the admin adds them to your settings (templates).",
    },
    "command.templates": {"es": "Tus plantillas aprobadas:", "en": "Your approved templates:"},
    "command.unknown_template": {
        "es": "No tienes una plantilla «{name}». Las tuyas: {names}",
        "en": "You have no template «{name}». Yours: {names}",
    },
    "command.template_variables": {
        "es": "La plantilla «{name}» lleva {wanted} variable(s) ({variables}); diste {given}.",
        "en": "The template «{name}» takes {wanted} variable(s) ({variables}); you gave {given}.",
    },
    "command.template_sending": {
        "es": "Enviando a {phone} la plantilla «{name}».",
        "en": "Sending the template «{name}» to {phone}.",
    },
    "command.bad_phone": {
        "es": "No entiendo el teléfono «{phone}».",
        "en": "I do not understand the phone number «{phone}».",
    },
    "command.nobody_waiting": {
        "es": "Nadie espera a un humano ahora mismo.",
        "en": "Nobody is waiting for a human right now.",
    },
    "command.waiting": {
        "es": "Esperando a un humano (más reciente primero):",
        "en": "Waiting for a human (newest first):",
    },
    "command.console_link": {
        "es": "Tu enlace para entrar a la consola (válido 15 minutos, un solo uso):\n{link}",
        "en": "Your link to sign in to the console (valid 15 minutes, once):\n{link}",
    },
    "command.no_conversation": {
        "es": "No tienes ninguna conversación con {phone}.",
        "en": "You have no conversation with {phone}.",
    },
    "command.ai_on": {"es": "La IA vuelve a atender a {phone}.", "en": "The AI answers {phone} again."},
    "command.ai_off": {
        "es": "La IA ya no responde a {phone}. Contesta con #r {phone} <texto>.",
        "en": "The AI no longer answers {phone}. Reply with #r {phone} <text>.",
    },
    "command.audio_on": {
        "es": "{phone} recibirá las respuestas en audio.",
        "en": "{phone} will get voice replies.",
    },
    "command.audio_off": {
        "es": "{phone} recibirá las respuestas solo en texto.",
        "en": "{phone} will get text replies only.",
    },
    "command.sending": {"es": "Enviando a {phone}.", "en": "Sending to {phone}."},
    "command.ai_paused": {
        "es": " La IA queda en pausa para este cliente.",
        "en": " The AI is paused for this customer.",
    },
    "command.usage_mode": {"es": "Uso: {command} <teléfono>", "en": "Usage: {command} <phone>"},
    "command.mode_draft": {
        "es": "La IA deja borradores para {phone}: te los mando y los envías con #ok {phone}.",
        "en": "The AI leaves drafts for {phone}: I send them to you; send one with #ok {phone}.",
    },
    "command.mode_auto": {
        "es": "La IA responde sola a {phone}.",
        "en": "The AI answers {phone} on its own.",
    },
    "command.no_draft": {
        "es": "No hay ningún borrador esperando{whom}.",
        "en": "No draft is waiting{whom}.",
    },
    "command.no_draft_for": {"es": " para {phone}", "en": " for {phone}"},
    "command.draft_sent": {
        "es": "Enviando a {phone} el borrador de la IA.",
        "en": "Sending the AI's draft to {phone}.",
    },
    "command.not_sent": {"es": "No enviado a {phone}: {reason}", "en": "Not sent to {phone}: {reason}"},
    "refusal.opted_out": {
        "es": "el cliente pidió no recibir más mensajes (escribió una palabra de baja).",
        "en": "the customer asked to receive no more messages (wrote an opt-out word).",
    },
    "refusal.window_closed": {
        "es": "pasaron más de 24 h desde su último mensaje; WhatsApp solo permite una plantilla "
        "aprobada (envíala por la API con content_sid).",
        "en": "more than 24 h passed since their last message; WhatsApp only allows an approved "
        "template (send it through the API with content_sid).",
    },
    "refusal.window_closed_phone": {
        "es": "pasaron más de 24 h desde su último mensaje; WhatsApp solo permite una plantilla "
        "aprobada: #plantilla {phone} <nombre> (tus plantillas: #plantillas).",
        "en": "more than 24 h passed since their last message; WhatsApp only allows an approved "
        "template: #plantilla {phone} <name> (your templates: #plantillas).",
    },
    "refusal.empty": {"es": "el mensaje está vacío.", "en": "the message is empty."},
    "refusal.advisor_inactive": {
        "es": "tu cuenta de asesor está desactivada; pide al administrador que la active.",
        "en": "your advisor account is deactivated; ask the admin to activate it.",
    },
    # To advisors: notices
    "notice.handover": {
        "es": "🔔 {customer} necesita atención humana ({kind}): {reason}{said}\n"
        "La IA dejó de responderle. Contesta con: #r {phone} <texto>\n"
        "Devuélvela a la IA con: #ia on {phone}",
        "en": "🔔 {customer} needs a human ({kind}): {reason}{said}\n"
        "The AI stopped answering them. Reply with: #r {phone} <text>\n"
        "Give them back to the AI with: #ia on {phone}",
    },
    "notice.draft": {
        "es": "✍️ Borrador de la IA para {customer}:\n«{body}»\n"
        "Envíalo con: #ok {phone} · o responde tú con: #r {phone} <texto>",
        "en": "✍️ The AI's draft for {customer}:\n“{body}”\n"
        "Send it with: #ok {phone} · or reply yourself with: #r {phone} <text>",
    },
    "notice.draft_kind": {"es": "borrador de la IA", "en": "the AI's draft"},
    "notice.draft_waited": {
        "es": "\nBorrador sin aprobar: «{draft}»",
        "en": "\nUnapproved draft: “{draft}”",
    },
    "handover.draft_timeout": {
        "es": "el borrador de la IA esperó {minutes} min sin que nadie lo aprobara; "
        "el cliente sigue sin respuesta",
        "en": "the AI's draft waited {minutes} min with nobody approving it; the customer has no answer yet",
    },
    "notice.said": {"es": "\nÚltimo mensaje: «{said}»", "en": "\nLast message: “{said}”"},
    "handover.kind.customer_request": {"es": "pidió una persona", "en": "asked for a person"},
    "handover.kind.missing_knowledge": {"es": "falta información", "en": "missing knowledge"},
    "handover.kind.negotiation": {"es": "negociación", "en": "negotiation"},
    "handover.kind.complaint": {"es": "queja", "en": "complaint"},
    "handover.kind.out_of_scope": {"es": "fuera de tema", "en": "out of scope"},
    "handover.kind.after_hours": {"es": "fuera de horario", "en": "after hours"},
    "handover.kind.tool_failure": {"es": "falla de la IA", "en": "AI failure"},
    "handover.kind.loop": {"es": "posible bot", "en": "possible bot"},
    "handover.kind.other": {"es": "traspaso", "en": "hand-over"},
    "handover.no_model": {
        "es": "no hay modelo de IA configurado: el cliente recibió el mensaje de ausencia",
        "en": "no AI model is configured: the customer got the away message",
    },
    "handover.model_failed": {
        "es": "el modelo de IA rechazó la solicitud ({error}): el cliente recibió el mensaje de ausencia",
        "en": "the AI model refused the request ({error}): the customer got the away message",
    },
    "handover.model_unavailable": {
        "es": "el modelo de IA no respondió en {attempts} intentos ({error}): "
        "el cliente no recibió respuesta",
        "en": "the AI model did not answer in {attempts} attempts ({error}): the customer got no answer",
    },
    "handover.ungrounded": {
        "es": "la IA quiso dar cifras que no están en tu información; no se enviaron: confírmale tú",
        "en": "the AI wanted to state figures that are not in your information; they were not sent: "
        "please confirm them yourself",
    },
    "handover.ai_gave_up": {
        "es": "la IA no logró dar una respuesta (llamó herramientas sin parar o respondió vacío)",
        "en": "the AI could not produce an answer (it kept calling tools or answered nothing)",
    },
    "reply.holding": {
        "es": "Déjame confirmarlo con {advisor_name} y te escribo en cuanto lo tenga.",
        "en": "Let me check that with {advisor_name}; I will write to you as soon as I have it.",
    },
    "handover.bot_loop": {
        "es": "la IA respondió {replies} veces en {minutes} min sin un humano: ¿es otro bot?",
        "en": "the AI replied {replies} times in {minutes} min without a human: is it another bot?",
    },
    # Dates, as "{weekday} {day} at {time}" in the texts above
    "when.format": {"es": "el {weekday} a las {time}", "en": "on {weekday} at {time}"},
    "when.today": {"es": "hoy a las {time}", "en": "today at {time}"},
    "when.tomorrow": {"es": "mañana a las {time}", "en": "tomorrow at {time}"},
    "weekday.0": {"es": "lunes", "en": "Monday"},
    "weekday.1": {"es": "martes", "en": "Tuesday"},
    "weekday.2": {"es": "miércoles", "en": "Wednesday"},
    "weekday.3": {"es": "jueves", "en": "Thursday"},
    "weekday.4": {"es": "viernes", "en": "Friday"},
    "weekday.5": {"es": "sábado", "en": "Saturday"},
    "weekday.6": {"es": "domingo", "en": "Sunday"},
}
