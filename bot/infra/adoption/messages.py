"""Owns adopting the old bot's `messages`: every row kept, in order, as its conversation's history.

The old rows say who wrote in `role` (or `sender`) and what in `content`; the product reads
`direction`, `author` and `body`, and orders a conversation by `id`. The old columns stay as they
are; the product's are added and filled from them, so the agent's memory of a returning customer
(read from `messages`, bot.worker.answer) starts from what they said before the move. Every old
message is marked processed: none of them is a turn waiting for an answer.
"""

from __future__ import annotations

from bot.infra.adoption.catalog import (
    INTEGER_TYPES,
    Column,
    Conn,
    columns,
    rows,
    value,
)
from bot.infra.adoption.conversations import MAP_TABLE, ConversationsPlan
from bot.infra.adoption.steps import AdoptionError, AdoptionStep, loosen_unknown_columns, unbind_old_keys

# What the old systems wrote for who spoke, as (direction, author). "agent" is left out on
# purpose: some mean the AI by it, some a person; such rows stop the move until the user says.
ROLES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("user", "human", "customer", "client", "cliente", "usuario"), ("inbound", "customer")),
    **dict.fromkeys(("assistant", "ai", "bot", "ia", "model"), ("outbound", "ai")),
    **dict.fromkeys(("advisor", "asesor", "human_agent", "operator", "operador"), ("outbound", "advisor")),
    "system": ("outbound", "system"),
}
# sql/0001_core.sql's columns that a legacy table may lack, each as it is added.
ADDED_COLUMNS: dict[str, str] = {
    "media": "jsonb NOT NULL DEFAULT '[]'::jsonb",
    "payload": "jsonb",
    "twilio_sid": "varchar(64)",
    "error_code": "text",
    "error_message": "text",
    "reply_to": "bigint",
    "part": "smallint",
    "created_at": "timestamptz NOT NULL DEFAULT now()",
    "updated_at": "timestamptz NOT NULL DEFAULT now()",
}
PRODUCT_COLUMNS = (
    "id",
    "advisor_id",
    "conversation_id",
    "direction",
    "author",
    "body",
    "status",
    "processed_at",
    *ADDED_COLUMNS,
)


def _role_sql(column: str) -> tuple[str, str]:
    """SQL of the direction and the author a row's old role stands for."""
    cases = {
        part: "CASE lower(btrim("
        + column
        + ")) "
        + " ".join(f"WHEN '{role}' THEN '{pair[index]}'" for role, pair in ROLES.items())
        + " END"
        for index, part in enumerate(("direction", "author"))
    }
    return cases["direction"], cases["author"]


async def plan_messages(conn: Conn, step: AdoptionStep, conversations: ConversationsPlan) -> None:
    """Add to `step` what brings `messages` to the product's; stop before changing anything.

    Raises:
        AdoptionError: rows the product cannot place as they are (the message says what to do).
    """
    found = await columns(conn, "messages")
    role = next((name for name in ("role", "sender") if name in found), None)
    text = next((name for name in ("body", "content") if name in found), None)
    if role is None or text is None or "conversation_id" not in found:
        lacking = [name for name, have in (("role or sender", role), ("content", text)) if have is None]
        lacking += [] if "conversation_id" in found else ["conversation_id"]
        raise AdoptionError(
            f"the existing table messages lacks {', '.join(lacking)}: it is not one advisor-bot can adopt; "
            "rename it (ALTER TABLE messages RENAME TO messages_legacy) to start without its history"
        )
    unknown = await rows(
        conn,
        f"SELECT {role}::text AS role, count(*) AS n FROM messages "  # noqa: S608 - ours
        f"WHERE lower(btrim({role}::text)) <> ALL(%s) OR {role} IS NULL GROUP BY 1 ORDER BY 2 DESC",
        (list(ROLES),),
    )
    if unknown:
        listed = ", ".join(f"{row['role']!r} ({row['n']} rows)" for row in unknown[:5])
        raise AdoptionError(
            f"messages.{role} has values advisor-bot cannot place: {listed}; write each as user, assistant "
            f"or advisor first (UPDATE messages SET {role} = … WHERE {role} = …)"
        )
    if conversations.old_key is None:
        raise AdoptionError(
            "chat_history has no conversation_id, so its messages cannot be matched to their customers"
        )
    key = "conversation_id::text"  # chat_history's old id, not renamed yet while planning
    orphans = await rows(
        conn,
        f"SELECT m.conversation_id::text AS id, count(*) AS n FROM messages m WHERE NOT EXISTS "  # noqa: S608
        f"(SELECT 1 FROM chat_history c WHERE c.{key} = m.conversation_id::text) GROUP BY 1 ORDER BY 2 DESC",
    )
    if orphans:
        total = sum(int(row["n"]) for row in orphans)
        raise AdoptionError(
            f"messages has {total} rows whose conversation_id is on no chat_history row (such as "
            f"{orphans[0]['id']!r}): add those conversations to chat_history or delete the rows"
        )
    if "advisor_id" in found:
        crossed = await value(
            conn,
            f"SELECT count(*) FROM messages m JOIN chat_history c ON c.{key} = m.conversation_id::text "  # noqa: S608
            "WHERE m.advisor_id IS NOT NULL AND c.advisor_id IS NOT NULL AND m.advisor_id <> c.advisor_id",
        )
        if crossed:
            raise AdoptionError(
                f"messages has {crossed} rows whose advisor_id differs from their conversation's "
                "in chat_history"
            )
    total = int(await value(conn, "SELECT count(*) FROM messages"))
    step.add(f"messages: keep all {total} rows, in order, as their conversations' history")
    renamed = await _ids(conn, step, found)
    renamed |= _conversations(step, found)
    _content(step, found, role, text)
    for name, definition in ADDED_COLUMNS.items():
        if name not in found:
            step.add(None, f"ALTER TABLE messages ADD COLUMN {name} {definition}")
    for name in ("created_at", "updated_at"):
        if name in found:
            step.add(
                None,
                f"UPDATE messages SET {name} = now() WHERE {name} IS NULL",  # noqa: S608
                f"ALTER TABLE messages ALTER COLUMN {name} SET DEFAULT now(), "
                f"ALTER COLUMN {name} SET NOT NULL",
            )
    await _keys(conn, step)
    step.add(
        None,
        # What the customer last wrote opens their 24 h window as it did before the move.
        "UPDATE chat_history c SET last_inbound_at = m.inbound, "
        "updated_at = greatest(c.updated_at, m.newest) "
        "FROM (SELECT conversation_id, max(created_at) FILTER (WHERE direction = 'inbound') AS inbound, "
        "max(created_at) AS newest FROM messages GROUP BY 1) m WHERE m.conversation_id = c.conversation_id",
        phase="date",
    )
    loosen_unknown_columns(step, "messages", found, PRODUCT_COLUMNS, renamed)


async def _ids(conn: Conn, step: AdoptionStep, found: dict[str, Column]) -> dict[str, str]:
    """Number the rows as the product does (bigint, from an identity); say which column was renamed."""
    column = found.get("id")
    if column is not None and column.data_type in INTEGER_TYPES:
        if column.data_type != "bigint":
            step.add(None, "ALTER TABLE messages ALTER COLUMN id TYPE bigint")
        if not column.is_identity:
            serial = await value(conn, "SELECT pg_get_serial_sequence('messages', 'id')")
            step.add(
                "messages: id keeps its values; new rows are numbered after the highest",
                "ALTER TABLE messages ALTER COLUMN id DROP DEFAULT",
                *([f"DROP SEQUENCE {serial}"] if serial else []),
                "ALTER TABLE messages ALTER COLUMN id SET NOT NULL",
                "ALTER TABLE messages ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY",
            )
        step.add(None, _restart_ids(), phase="date")
        return {}
    renamed: dict[str, str] = {}
    if column is not None:
        step.add(
            f"messages: keep id ({column.data_type}) as legacy_id; number the rows by created_at",
            "ALTER TABLE messages RENAME COLUMN id TO legacy_id",
        )
        renamed["id"] = "legacy_id"
    else:
        step.add("messages: number the rows by created_at (a new id column)")
    order = (
        "created_at NULLS FIRST" + (", legacy_id" if column is not None else "")
        if "created_at" in found
        else ("legacy_id" if column is not None else "ctid")
    )
    step.add(
        None,
        "ALTER TABLE messages ADD COLUMN id bigint",
        f"UPDATE messages m SET id = n.id FROM (SELECT ctid AS row, "  # noqa: S608
        f"row_number() OVER (ORDER BY {order}) AS id "
        "FROM messages) n WHERE m.ctid = n.row",
        "ALTER TABLE messages ALTER COLUMN id SET NOT NULL",
        "ALTER TABLE messages ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY",
    )
    step.add(None, _restart_ids(), phase="date")
    return renamed


def _restart_ids() -> str:
    """Continue the identity after the highest id kept."""
    return (
        "SELECT setval(pg_get_serial_sequence('messages', 'id'), "
        "coalesce((SELECT max(id) FROM messages), 0) + 1, false)"
    )


def _conversations(step: AdoptionStep, found: dict[str, Column]) -> dict[str, str]:
    """Point every row at its customer's one conversation, with that conversation's advisor."""
    renamed: dict[str, str] = {}
    if "advisor_id" not in found:
        step.add(None, "ALTER TABLE messages ADD COLUMN advisor_id uuid")
    old = "conversation_id"
    if found["conversation_id"].data_type != "uuid":
        step.add(
            f"messages: keep conversation_id ({found['conversation_id'].data_type}) "
            "as legacy_conversation_id",
            "ALTER TABLE messages RENAME COLUMN conversation_id TO legacy_conversation_id",
            "ALTER TABLE messages ADD COLUMN conversation_id uuid",
        )
        old, renamed["conversation_id"] = "legacy_conversation_id", "legacy_conversation_id"
    step.add(
        None,
        f"UPDATE messages m SET conversation_id = a.conversation_id, advisor_id = a.advisor_id "  # noqa: S608
        f"FROM (SELECT DISTINCT old_key, conversation_id, advisor_id FROM {MAP_TABLE}) a "
        f"WHERE m.{old}::text = a.old_key",
        phase="follow",
    )
    return renamed


def _content(step: AdoptionStep, found: dict[str, Column], role: str, text: str) -> None:
    """Who wrote each row and what, in the product's columns; the old ones stay as they were."""
    direction, author = _role_sql(f"{role}::text")
    statements = []
    if text != "body":
        statements += [
            "ALTER TABLE messages ADD COLUMN body text",
            f"UPDATE messages SET body = {text}::text",
        ]
    if "status" in found:  # its meaning is the old system's: kept aside, not trusted
        statements.append("ALTER TABLE messages RENAME COLUMN status TO legacy_status")
    statements += [
        "ALTER TABLE messages ADD COLUMN direction text, ADD COLUMN author text, ADD COLUMN status text, "
        "ADD COLUMN processed_at timestamptz",
        f"UPDATE messages SET direction = {direction}, author = {author}",  # noqa: S608 - ours
        "UPDATE messages SET status = CASE direction WHEN 'inbound' THEN 'received' ELSE 'sent' END, "
        "processed_at = coalesce(created_at, now()), body = coalesce(body, '')",
        "ALTER TABLE messages ALTER COLUMN body SET DEFAULT '', ALTER COLUMN body SET NOT NULL, "
        "ALTER COLUMN direction SET NOT NULL, ALTER COLUMN author SET NOT NULL, "
        "ALTER COLUMN status SET NOT NULL",
    ]
    step.add(
        f"messages: add direction, author and status from {role}, body from {text}, and mark every old "
        "message processed",
        *statements,
    )


async def _keys(conn: Conn, step: AdoptionStep) -> None:
    """Replace the old keys with the product's: dropped first, made once every row is placed."""
    # The primary key goes even when it is on an integer id: an id of another type is renamed.
    await unbind_old_keys(
        conn,
        step,
        "messages",
        product_columns=PRODUCT_COLUMNS,
        keep_primary=lambda columns: False,
        keep_unique=(("id",), ("twilio_sid",)),
    )
    step.add(
        None,
        "ALTER TABLE messages ALTER COLUMN advisor_id SET NOT NULL, "
        "ALTER COLUMN conversation_id SET NOT NULL",
        "ALTER TABLE messages ADD CONSTRAINT messages_pkey PRIMARY KEY (id)",
        "ALTER TABLE messages ADD CONSTRAINT messages_direction_check "
        "CHECK (direction IN ('inbound', 'outbound'))",
        "ALTER TABLE messages ADD CONSTRAINT messages_author_check "
        "CHECK (author IN ('customer', 'ai', 'advisor', 'system'))",
        "ALTER TABLE messages ADD CONSTRAINT messages_twilio_sid_key UNIQUE (twilio_sid)",
        "ALTER TABLE messages ADD CONSTRAINT messages_reply_to_fkey FOREIGN KEY (reply_to) "
        "REFERENCES messages (id) ON DELETE SET NULL",
        "ALTER TABLE messages ADD CONSTRAINT messages_conversation_id_advisor_id_fkey "
        "FOREIGN KEY (conversation_id, advisor_id) REFERENCES chat_history (conversation_id, advisor_id) "
        "ON DELETE CASCADE",
        phase="bind",
    )
