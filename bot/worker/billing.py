"""Owns what an outbound WhatsApp message is billed as, and its cost once Twilio accepted it.

A free-form message (text, media, buttons and lists) inside the 24 h window is `service`; a
template is its own category (the advisor's `templates[].category`, `utility` when unknown);
a campaign's template is `marketing` unless the advisor's list says otherwise. The cost is
Meta's charge for that category and the recipient's country plus Twilio's fee
(bot.infra.pricing), counted in /metrics by advisor and kind.
"""

from __future__ import annotations

from advisors.models import Advisor
from bot.infra.metrics import COSTS
from bot.infra.pricing import Category, Pricing
from memory.records.messages import Billing
from memory.records.models import Message


def billing_category(payload: dict[str, object] | None, advisor: Advisor) -> Category:
    """The category a message with this payload is billed as."""
    fields = payload or {}
    content_sid = fields.get("content_sid")
    if not content_sid or fields.get("choices"):
        return "service"
    template = next((t for t in advisor.settings.templates if t.content_sid == content_sid), None)
    if template is not None:
        return template.category
    return "marketing" if fields.get("campaign_id") is not None else "utility"


def billing_for(
    pricing: Pricing | None, advisor: Advisor, category: Category, to_number: str, twilio_sid: str | None
) -> Billing | None:
    """What an accepted message cost (nothing for a dry run, which Twilio never saw)."""
    if pricing is None or twilio_sid is None:
        return None
    country, whatsapp, twilio = pricing.message_cost(category, to_number)
    COSTS.labels(str(advisor.id), f"whatsapp_{category}").inc(float(whatsapp))
    COSTS.labels(str(advisor.id), "twilio").inc(float(twilio))
    return Billing(category=category, country=country, whatsapp_usd=whatsapp, twilio_usd=twilio)


def message_billing(
    pricing: Pricing | None, advisor: Advisor, message: Message, to_number: str, twilio_sid: str | None
) -> Billing | None:
    """`billing_for` one of a conversation's outbound messages."""
    return billing_for(pricing, advisor, billing_category(message.payload, advisor), to_number, twilio_sid)
