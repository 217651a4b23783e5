"""Owns the notices an advisor gets on their personal phone (from their own Twilio number).

WhatsApp takes free text from the advisor's Twilio number only within 24 hours of the advisor's
own last message to it (error 63016 otherwise), and an advisor who lets the AI work may not
write for days: then the hand-over notice goes as an approved utility template
(`notice_content_sid` of the advisor, else NOTICE_CONTENT_SID). With no template it is not
attempted: the row says `undeliverable`, the console shows it, the log says once per advisor
what to configure, and a `notice.undeliverable` event goes out. Transient Twilio errors raise,
so the job queue retries them.
"""

from __future__ import annotations

import logging
from uuid import UUID

from advisors.models import Advisor
from advisors.repository import get_advisor
from advisors.texts import Language, text
from bot.twilio.sender import PermanentSendError
from bot.worker.billing import billing_for
from bot.worker.parts import Outcome, WorkerParts
from memory.records import advisor_channel
from memory.records.handover_briefs import HANDOVER_CATEGORIES, HandoverBrief

logger = logging.getLogger(__name__)

DRAFT_NOTICE_CHARS = 1200  # the draft as the advisor's phone shows it: one WhatsApp message
VARIABLE_CHARS = 300  # a template variable is one line; WhatsApp refuses long or multi-line ones
_told_to_configure: set[UUID] = set()  # advisors whose missing template was logged by this process


def kind_label(category: str | None, language: Language) -> str:
    """The hand-over's kind as the advisor reads it ("pidió una persona")."""
    known = category in HANDOVER_CATEGORIES
    return text(f"handover.kind.{category}" if known else "handover.kind.other", language)


def handover_notice(phone: str, brief: HandoverBrief, language: Language) -> str:
    """The WhatsApp text that tells an advisor a customer is waiting for them (the brief's short form)."""
    said = text("notice.said", language, said=brief.customer_said[:160]) if brief.customer_said else ""
    if brief.waiting_draft:
        said += text("notice.draft_waited", language, draft=brief.waiting_draft[:300])
    customer = f"{brief.customer_name} ({phone})" if brief.customer_name else phone
    return text(
        "notice.handover",
        language,
        customer=customer,
        kind=kind_label(brief.category, language),
        reason=brief.wants,
        said=said,
        phone=phone,
    )


def notice_variables(phone: str, brief: HandoverBrief, language: Language) -> dict[str, str]:
    """The template's variables: {{1}} customer name, {{2}} phone, {{3}} kind and reason."""
    reason = f"{kind_label(brief.category, language)}: {brief.wants}"
    return {"1": _one_line(brief.customer_name or phone), "2": phone, "3": _one_line(reason)}


def draft_notice(
    phone: str, customer_name: str | None, body: str, language: Language
) -> tuple[str, dict[str, str]]:
    """The text and the template variables that bring the AI's draft to the advisor's phone."""
    customer = f"{customer_name} ({phone})" if customer_name else phone
    shown = body if len(body) <= DRAFT_NOTICE_CHARS else body[: DRAFT_NOTICE_CHARS - 1] + "…"
    notice = text("notice.draft", language, customer=customer, body=shown, phone=phone)
    kind = f"{text('notice.draft_kind', language)}: {body}"
    return notice, {"1": _one_line(customer_name or phone), "2": phone, "3": _one_line(kind)}


def _one_line(value: str) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= VARIABLE_CHARS else flat[: VARIABLE_CHARS - 1] + "…"


def notice_template(parts: WorkerParts, advisor: Advisor) -> str | None:
    """The approved template hand-over notices go as: the advisor's own, else the global one."""
    return advisor.settings.notice_content_sid or parts.settings.notice_content_sid


async def send_notice(parts: WorkerParts, *, advisor_id: UUID, notice_id: int) -> Outcome:
    """Send one recorded notice to the advisor's personal phone, as text or as its template.

    A refusal is stored, not retried; a transient error raises, for the queue to retry.
    """
    async with parts.pool.connection() as conn:
        advisor = await get_advisor(conn=conn, advisor_id=str(advisor_id))
        notice = await advisor_channel.get_advisor_notice(
            conn=conn, advisor_id=advisor_id, notice_id=notice_id
        )
        window_open = await advisor_channel.advisor_window_open(conn=conn, advisor_id=advisor_id)
    if advisor is None or notice is None or notice["status"] != "pending":
        return Outcome("nothing_pending")
    template = notice_template(parts, advisor)
    as_template = template is not None and (parts.settings.notice_template_always or not window_open)
    if not as_template and not window_open:
        return await _undeliverable(parts, advisor, notice)
    try:
        result = await parts.sender.send(
            from_number=advisor.twilio_phone_number,
            to_number=advisor.phone_number,
            body=notice["body"],
            content_sid=template if as_template else None,
            content_variables=(notice["template_variables"] or {}) if as_template else None,
        )
    except PermanentSendError as error:
        async with parts.pool.connection() as conn:
            await advisor_channel.mark_advisor_notice(
                conn=conn,
                advisor_id=advisor_id,
                notice_id=notice_id,
                status="failed",
                error_code=error.code,
                error_message=str(error)[:1000],
            )
        return Outcome("failed")
    async with parts.pool.connection() as conn:
        await advisor_channel.mark_advisor_notice(
            conn=conn,
            advisor_id=advisor_id,
            notice_id=notice_id,
            status=result.status,
            twilio_sid=result.sid,
            billing=billing_for(
                parts.pricing,
                advisor,
                "utility" if as_template else "service",
                advisor.phone_number,
                result.sid,
            ),
        )
    return Outcome("notified_by_template" if as_template else "notified", 1)


async def _undeliverable(parts: WorkerParts, advisor: Advisor, notice: dict[str, object]) -> Outcome:
    """Keep a notice WhatsApp would refuse: visible in the console, logged once, an event out."""
    notice_id = int(str(notice["id"]))
    async with parts.pool.connection() as conn, conn.transaction():
        await advisor_channel.mark_advisor_notice(
            conn=conn,
            advisor_id=advisor.id,
            notice_id=notice_id,
            status="undeliverable",
            error_message="the advisor's 24 h window is closed and no notice template is configured",
        )
        await parts.events.publish(
            conn,
            "notice.undeliverable",
            {
                "advisor_id": str(advisor.id),
                "notice_id": notice_id,
                "handover_id": notice.get("handover_id"),
                "body": notice["body"],
                "configure": "NOTICE_CONTENT_SID, or notice_content_sid in the advisor's settings",
            },
        )
    if advisor.id not in _told_to_configure:
        _told_to_configure.add(advisor.id)
        logger.warning(
            "hand-over notice not sent: the advisor has not written to their Twilio number in 24 h, "
            "so WhatsApp would refuse free text; set NOTICE_CONTENT_SID (an approved utility template "
            "with variables 1 customer name, 2 phone, 3 reason) or the advisor's notice_content_sid",
            extra={"advisor": str(advisor.id), "notice": notice_id},
        )
    return Outcome("undeliverable")
