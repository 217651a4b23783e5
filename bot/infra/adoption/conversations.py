"""Owns adopting the old bot's `chat_history` (its conversations and their flags).

The old one-advisor bot kept possibly several rows per phone (it read the newest by
`created_at`), phones as Twilio wrote them ('whatsapp:+57…') or without '+', and, after seed 004,
an `advisor_id` that is NULL on everything from before the move. The product keeps one row per
advisor and phone: the rows of one customer become one conversation carrying the newest row's
`ai_attention` and `audio_available`, with the old rows in the step's copy of the table.
`advisor_bot_adopted`, a table of the step's transaction only, says which old conversation id
became which conversation, so `messages` (bot.infra.adoption.messages) follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from psycopg import sql

from bot.infra.adoption.catalog import (
    Column,
    Conn,
    columns,
    exists,
    phone_sql,
    primary_key,
    value,
)
from bot.infra.adoption.steps import AdoptionError, AdoptionStep, loosen_unknown_columns, unbind_old_keys

# sql/0001_core.sql's columns that a legacy table may lack, each as it is added.
ADDED_COLUMNS: dict[str, str] = {
    "ai_attention": "boolean NOT NULL DEFAULT true",
    "audio_available": "boolean NOT NULL DEFAULT false",
    "ai_attention_changed_at": "timestamptz",
    "ai_attention_changed_by": "text",
    "handover_reason": "text",
    "last_inbound_at": "timestamptz",
    "created_at": "timestamptz NOT NULL DEFAULT now()",
    "updated_at": "timestamptz NOT NULL DEFAULT now()",
}
FLAG_DEFAULTS = {"ai_attention": "true", "audio_available": "false"}
PRODUCT_COLUMNS = ("conversation_id", "advisor_id", "phone_number", "legacy_conversation_ids", *ADDED_COLUMNS)
MAP_TABLE = "advisor_bot_adopted"


@dataclass(frozen=True)
class ConversationsPlan:
    """What the messages step needs to know of how the conversations were adopted."""

    old_key: str | None  # SQL of the old conversation id as text, None when the table had none
    conversations: int


async def legacy_advisor_id(conn: Conn, ref: str) -> UUID:
    """The advisor named by `--legacy-advisor`: their id, or their Twilio number in any form.

    Raises:
        AdoptionError: no such advisor is registered.
    """
    if not await exists(conn, "advisors"):
        raise AdoptionError(
            f"--legacy-advisor {ref}: this database has no advisors table yet; create it and "
            "register that advisor first (seed 004's advisors block does)"
        )
    try:
        query, param = "SELECT id FROM advisors WHERE id = %s", str(UUID(ref))
    except ValueError:
        query = f"SELECT id FROM advisors WHERE {phone_sql('twilio_phone_number')} = {phone_sql('%s')}"  # noqa: S608
        param = ref
    found = await value(conn, query, (param,))
    if found is None:
        raise AdoptionError(f"--legacy-advisor {ref}: no registered advisor has that id or Twilio number")
    return UUID(str(found))


async def plan_conversations(conn: Conn, step: AdoptionStep, legacy_advisor: str | None) -> ConversationsPlan:
    """Add to `step` what brings `chat_history` to the product's; stop before changing anything.

    Raises:
        AdoptionError: rows the product cannot place as they are (the message says what to do).
    """
    found = await columns(conn, "chat_history")
    if "phone_number" not in found:
        raise AdoptionError(
            "the existing table chat_history has no phone_number column: it is not one advisor-bot can "
            "adopt; rename it (ALTER TABLE chat_history RENAME TO chat_history_legacy) to start empty"
        )
    if "advisor_id" in found and found["advisor_id"].data_type != "uuid":
        raise AdoptionError(
            f"chat_history.advisor_id is {found['advisor_id'].data_type}, not uuid (seed 004 adds a uuid)"
        )
    total = int(await value(conn, "SELECT count(*) FROM chat_history"))
    advisor = "advisor_id" if "advisor_id" in found else "NULL::uuid"
    unowned = int(await value(conn, f"SELECT count(*) FROM chat_history WHERE {advisor} IS NULL"))  # noqa: S608
    owner: UUID | None = None
    if unowned and legacy_advisor is None:
        raise AdoptionError(
            f"chat_history has {unowned} rows with no advisor (from the one-advisor days): say whose they "
            "are with db upgrade --legacy-advisor <their twilio number or advisor id>"
        )
    if unowned and legacy_advisor is not None:
        owner = await legacy_advisor_id(conn, legacy_advisor)
    if advisor != "NULL::uuid":
        strangers = await value(
            conn,
            "SELECT count(*) FROM chat_history c WHERE advisor_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM advisors a WHERE a.id = c.advisor_id)",
        )
        if strangers:
            raise AdoptionError(
                f"chat_history has {strangers} rows whose advisor_id names no registered advisor"
            )
    phone = phone_sql("phone_number")
    phoneless = int(
        await value(conn, f"SELECT count(*) FROM chat_history WHERE phone_number IS NULL OR {phone} = '+'")  # noqa: S608
    )
    if phoneless:
        raise AdoptionError(
            f"chat_history has {phoneless} rows without a phone number: delete them or fill phone_number"
        )
    owner_sql = sql.Literal(str(owner)).as_string() + "::uuid" if owner else "NULL::uuid"
    who = f"coalesce({advisor}, {owner_sql})"
    old_key = None
    if "conversation_id" in found:
        old_key = (
            "conversation_id::text"
            if found["conversation_id"].data_type == "uuid"
            else ("legacy_conversation_id::text")
        )
        shared = await value(
            conn,
            f"SELECT conversation_id::text FROM chat_history WHERE conversation_id IS NOT NULL "  # noqa: S608
            f"GROUP BY 1 HAVING count(DISTINCT ({who}, {phone})) > 1 LIMIT 1",
        )
        if shared is not None:
            raise AdoptionError(
                f"chat_history.conversation_id {shared!r} is on rows of different customers: give each "
                "customer's rows their own conversation_id first"
            )
    conversations = int(
        await value(conn, f"SELECT count(DISTINCT ({who}, {phone})) FROM chat_history")  # noqa: S608
    )

    if "advisor_id" not in found:
        step.add("chat_history: add column advisor_id", "ALTER TABLE chat_history ADD COLUMN advisor_id uuid")
    if owner is not None:
        step.add(
            f"chat_history: {unowned} rows without an advisor become {legacy_advisor}'s",
            sql.SQL("UPDATE chat_history SET advisor_id = {} WHERE advisor_id IS NULL").format(
                sql.Literal(str(owner))
            ),
        )
    misspelt = int(await value(conn, f"SELECT count(*) FROM chat_history WHERE phone_number <> {phone}"))  # noqa: S608
    if misspelt:
        step.add(
            f"chat_history: write {misspelt} phone numbers as +digits (without 'whatsapp:')",
            f"UPDATE chat_history SET phone_number = {phone} WHERE phone_number <> {phone}",  # noqa: S608
        )
    _conversation_ids(step, found)
    if "legacy_conversation_ids" not in found:  # sql/0027 declares it for every database
        step.add(
            "chat_history: add column legacy_conversation_ids (the old bot's ids of each conversation)",
            "ALTER TABLE chat_history ADD COLUMN legacy_conversation_ids text[] NOT NULL DEFAULT '{}'",
        )
    for name, definition in ADDED_COLUMNS.items():
        if name not in found:
            step.add(
                f"chat_history: add column {name} ({definition})",
                f"ALTER TABLE chat_history ADD COLUMN {name} {definition}",
            )
    for name, default in FLAG_DEFAULTS.items():
        if name in found:
            step.add(
                None,
                f"UPDATE chat_history SET {name} = {default} WHERE {name} IS NULL",  # noqa: S608
                f"ALTER TABLE chat_history ALTER COLUMN {name} SET DEFAULT {default}, "
                f"ALTER COLUMN {name} SET NOT NULL",
            )
    for name in ("created_at", "updated_at"):
        if name in found:  # after the merge: an undated row is not the newest of its customer's
            step.add(
                None,
                f"UPDATE chat_history SET {name} = now() WHERE {name} IS NULL",  # noqa: S608
                f"ALTER TABLE chat_history ALTER COLUMN {name} SET DEFAULT now(), "
                f"ALTER COLUMN {name} SET NOT NULL",
                phase="bind",
            )
    if conversations < total:
        step.add(
            f"chat_history: merge {total} rows into {conversations} conversations, one per advisor and "
            "phone, each with the flags of its newest row (every row stays in the copy)"
        )
    step.add(
        None,
        f"CREATE TEMP TABLE {MAP_TABLE} ON COMMIT DROP AS SELECT "  # noqa: S608 - ours
        f"{old_key or 'NULL::text'} AS old_key, ctid AS row, advisor_id, "
        "first_value(conversation_id) OVER newest AS conversation_id, row_number() OVER newest AS rank, "
        "min(created_at) OVER customer AS first_at FROM chat_history "
        "WINDOW customer AS (PARTITION BY advisor_id, phone_number), "
        "newest AS (customer ORDER BY created_at DESC NULLS LAST, ctid DESC)",
        phase="map",
    )
    step.add(
        None,
        f"DELETE FROM chat_history c USING {MAP_TABLE} m WHERE c.ctid = m.row AND m.rank > 1",  # noqa: S608
        f"UPDATE chat_history c SET created_at = m.first_at FROM {MAP_TABLE} m "  # noqa: S608
        "WHERE c.ctid = m.row AND m.rank = 1 AND m.first_at < c.created_at",
        # The old ids stay findable: seed 000's mappings and the old bot's API name them.
        f"UPDATE chat_history c SET legacy_conversation_ids = m.old FROM (SELECT conversation_id, "  # noqa: S608
        f"array_agg(DISTINCT old_key) FILTER (WHERE old_key IS NOT NULL) AS old FROM {MAP_TABLE} "
        "GROUP BY 1) m WHERE c.conversation_id = m.conversation_id AND m.old IS NOT NULL",
        phase="merge",
    )
    await _keys(conn, step)
    renamed = (
        {"conversation_id": "legacy_conversation_id"} if old_key == "legacy_conversation_id::text" else {}
    )
    loosen_unknown_columns(step, "chat_history", found, PRODUCT_COLUMNS, renamed)
    return ConversationsPlan(old_key=old_key, conversations=conversations)


def _conversation_ids(step: AdoptionStep, found: dict[str, Column]) -> None:
    """Give every row a uuid conversation id; an old id of another type is kept beside it."""
    column = found.get("conversation_id")
    if column is None:
        step.add(
            "chat_history: add column conversation_id (a new id for each row)",
            "ALTER TABLE chat_history ADD COLUMN conversation_id uuid DEFAULT gen_random_uuid()",
        )
        return
    if column.data_type != "uuid":
        step.add(
            f"chat_history: keep conversation_id ({column.data_type}) as legacy_conversation_id and "
            "add a uuid conversation_id",
            "ALTER TABLE chat_history RENAME COLUMN conversation_id TO legacy_conversation_id",
            "ALTER TABLE chat_history ADD COLUMN conversation_id uuid DEFAULT gen_random_uuid()",
        )
        return
    step.add(
        None,
        "UPDATE chat_history SET conversation_id = gen_random_uuid() WHERE conversation_id IS NULL",
        "ALTER TABLE chat_history ALTER COLUMN conversation_id SET DEFAULT gen_random_uuid()",
    )


async def _keys(conn: Conn, step: AdoptionStep) -> None:
    """Replace the old keys with the product's: dropped first, made once the rows are merged."""
    primary = await primary_key(conn, "chat_history")
    await unbind_old_keys(
        conn,
        step,
        "chat_history",
        product_columns=PRODUCT_COLUMNS,
        keep_primary=lambda columns: columns == ["conversation_id"],
    )
    step.add(
        "chat_history: one row per advisor and phone, keyed by conversation_id, advisor_id required",
        *(
            []
            if primary is not None and primary[1] == ["conversation_id"]
            else ["ALTER TABLE chat_history ADD CONSTRAINT chat_history_pkey PRIMARY KEY (conversation_id)"]
        ),
        "ALTER TABLE chat_history ALTER COLUMN advisor_id SET NOT NULL, "
        "ALTER COLUMN phone_number SET NOT NULL",
        "ALTER TABLE chat_history ADD CONSTRAINT chat_history_advisor_phone_key "
        "UNIQUE (advisor_id, phone_number)",
        "ALTER TABLE chat_history ADD CONSTRAINT chat_history_conversation_advisor_key "
        "UNIQUE (conversation_id, advisor_id)",
        "ALTER TABLE chat_history ADD CONSTRAINT chat_history_advisor_id_fkey FOREIGN KEY (advisor_id) "
        "REFERENCES advisors (id) ON DELETE CASCADE",
        phase="bind",
    )
