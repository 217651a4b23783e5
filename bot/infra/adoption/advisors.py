"""Owns adopting an existing `advisors` table (seed 004's: the contract columns, no `settings`)."""

from __future__ import annotations

from bot.infra.adoption.catalog import Conn, columns, exists, phone_sql, value
from bot.infra.adoption.steps import AdoptionError, AdoptionStep, loosen_unknown_columns

# The product's columns of `advisors` a legacy table may lack, with what an added one holds.
ADVISOR_COLUMNS: dict[str, str] = {
    "is_active": "boolean DEFAULT true",
    "created_at": "timestamptz DEFAULT now()",
    "settings": "jsonb NOT NULL DEFAULT '{}'::jsonb",
}
# Columns without which a table is not one this step can bring to the product's shape.
ADVISOR_REQUIRED = ("id", "name", "phone_number", "twilio_phone_number")
PRODUCT_COLUMNS = (*ADVISOR_REQUIRED, *ADVISOR_COLUMNS)


async def advisors_step(conn: Conn) -> AdoptionStep | None:
    """What brings an existing `advisors` table to the product's; None when there is none to adopt.

    Raises:
        AdoptionError: the table lacks a column the product cannot make up (its id, name or numbers).
    """
    if not await exists(conn, "advisors"):
        return None
    found = await columns(conn, "advisors")
    lacking = [name for name in ADVISOR_REQUIRED if name not in found]
    if lacking:
        raise AdoptionError(
            f"the existing table advisors lacks {', '.join(lacking)}: it is not one advisor-bot "
            "can adopt; rename it (ALTER TABLE advisors RENAME TO …) and run db upgrade again"
        )
    step = AdoptionStep(tables=("advisors",))
    for name in ADVISOR_COLUMNS:
        if name not in found:
            step.add(
                f"advisors: add column {name} ({ADVISOR_COLUMNS[name]})",
                f"ALTER TABLE advisors ADD COLUMN {name} {ADVISOR_COLUMNS[name]}",
            )
    # The webhook finds an advisor by the '+digits' form of Twilio's To; 'whatsapp:+1415…' or
    # '+1 415 …' written by the old seed would never match.
    numbers = " OR ".join(
        f"{column} IS DISTINCT FROM {phone_sql(column)}" for column in ("phone_number", "twilio_phone_number")
    )
    unwritten = int(await value(conn, f"SELECT count(*) FROM advisors WHERE {numbers}"))  # noqa: S608
    if unwritten:
        step.add(
            f"advisors: write {unwritten} rows' numbers as +digits",
            f"UPDATE advisors SET phone_number = {phone_sql('phone_number')}, "  # noqa: S608 - ours
            f"twilio_phone_number = {phone_sql('twilio_phone_number')} WHERE {numbers}",
        )
    loosen_unknown_columns(step, "advisors", found, PRODUCT_COLUMNS)
    return step if step.statements else None
