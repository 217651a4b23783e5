"""Owns writing imported records in batches: customer profiles of one advisor, and CRM contacts.

A batch is one transaction: copied into a temporary table, then merged with one statement per
table, so a killed import leaves whole batches or none, and rerunning it finishes the job.
Merging is idempotent: importing the same record twice changes nothing (and counts as
unchanged); a record with a newer `updated_at` replaces the one kept, an older one does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from memory.records.models import Conn


@dataclass
class ProfileImport:
    """One customer of one advisor as an old bot's file knew them."""

    phone: str
    source: str  # which file kind: "threads", "guest_profiles"
    record: dict[str, Any]  # the original record, kept in the profile's data
    name: str | None = None
    labels: list[str] = field(default_factory=list)
    first_at: datetime | None = None
    last_at: datetime | None = None
    updated_at: datetime | None = None

    def merge(self, later: ProfileImport) -> None:
        """Fold a later record for the same phone and source into this one."""
        self.name = self.name or later.name
        self.labels += [label for label in later.labels if label not in self.labels]
        self.first_at = _earliest(self.first_at, later.first_at)
        self.last_at = _latest(self.last_at, later.last_at)
        if later.updated_at is None or self.updated_at is None or later.updated_at >= self.updated_at:
            self.record, self.updated_at = later.record, later.updated_at


@dataclass
class ContactImport:
    """One conversation mapping: the old bot's conversation, its CRM contact and prospect data."""

    hubspot_id: str
    source_conversation_id: str
    prospect: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None


@dataclass
class BatchCounts:
    """What a batch did: rows that are new, rows changed, rows already as imported."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: BatchCounts) -> None:
        """Count another batch in."""
        self.imported += other.imported
        self.updated += other.updated
        self.unchanged += other.unchanged


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(a, b) if a and b else a or b


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a and b else a or b


_PROFILE_COLUMNS = "phone, source, record, name, labels, first_at, last_at, updated_at"
_CONTACT_COLUMNS = "hubspot_id, source_conversation_id, prospect, created_at, updated_at"
_PROFILES_TABLE = """
    CREATE TEMP TABLE import_profiles (
        phone text PRIMARY KEY, source text, record jsonb, name text, labels jsonb,
        first_at timestamptz, last_at timestamptz, updated_at timestamptz
    ) ON COMMIT DROP
"""
_NEW_CONVERSATIONS = """
    INSERT INTO chat_history (advisor_id, phone_number, profile_name, created_at, updated_at)
    SELECT %(advisor)s, b.phone, b.name, coalesce(b.first_at, now()), now() FROM import_profiles b
    ON CONFLICT (advisor_id, phone_number) DO NOTHING
"""
# The merged profile is computed against the current row, then written only where it differs.
_MERGE_PROFILES = """
    WITH incoming AS (
        SELECT c.conversation_id, b.*, p.conversation_id IS NOT NULL AS known,
               p.name AS old_name, coalesce(p.labels, '[]'::jsonb) AS old_labels,
               coalesce(p.data, '{}'::jsonb) AS old_data,
               p.first_interaction_at AS old_first, p.last_interaction_at AS old_last
          FROM import_profiles b
          JOIN chat_history c ON c.advisor_id = %(advisor)s AND c.phone_number = b.phone
          LEFT JOIN customer_profiles p ON p.conversation_id = c.conversation_id
    ), merged AS (
        SELECT conversation_id, known,
               coalesce(old_name, left(name, 200)) AS name,
               old_labels || coalesce((
                   SELECT jsonb_agg(l) FROM jsonb_array_elements(labels) l
                    WHERE NOT old_labels @> jsonb_build_array(l)
               ), '[]'::jsonb) AS labels,
               CASE WHEN updated_at IS NULL
                         OR (old_data #>> ARRAY['imported', source, 'updated_at']) IS NULL
                         OR updated_at >= (old_data #>> ARRAY['imported', source, 'updated_at'])::timestamptz
                    THEN old_data || jsonb_build_object('imported',
                         coalesce(old_data -> 'imported', '{}'::jsonb) || jsonb_build_object(
                             source, jsonb_build_object('record', record, 'updated_at', updated_at)))
                    ELSE old_data END AS data,
               CASE WHEN old_first IS NULL THEN first_at ELSE least(old_first, first_at) END AS first_at,
               CASE WHEN old_last IS NULL THEN last_at ELSE greatest(old_last, last_at) END AS last_at,
               old_name, old_labels, old_data, old_first, old_last
          FROM incoming
    ), changed AS (
        SELECT * FROM merged
         WHERE NOT known OR (name, labels, data, first_at, last_at) IS DISTINCT FROM
               (old_name, old_labels, old_data, old_first, old_last)
    ), written AS (
        INSERT INTO customer_profiles AS p
            (conversation_id, advisor_id, name, labels, data, first_interaction_at, last_interaction_at)
        SELECT conversation_id, %(advisor)s, name, labels, data, first_at, last_at FROM changed
        ON CONFLICT (conversation_id) DO UPDATE SET
            name = excluded.name, labels = excluded.labels, data = excluded.data,
            first_interaction_at = excluded.first_interaction_at,
            last_interaction_at = excluded.last_interaction_at, updated_at = now()
        RETURNING p.conversation_id
    ), touched AS (
        UPDATE chat_history SET profile_updated_at = now()
         WHERE conversation_id IN (SELECT conversation_id FROM written)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM changed WHERE NOT known) AS imported,
           (SELECT count(*) FROM changed WHERE known) AS updated,
           (SELECT count(*) FROM merged) AS seen,
           (SELECT count(*) FROM touched) AS touched
"""


async def import_profiles(*, conn: Conn, advisor_id: UUID, batch: list[ProfileImport]) -> BatchCounts:
    """Merge one batch (distinct phones) into the advisor's customers. Call inside a transaction."""
    await conn.execute("SET LOCAL advisor_bot.bulk = 'on'")
    await conn.execute(_PROFILES_TABLE)
    await _copy(
        conn,
        "import_profiles",
        _PROFILE_COLUMNS,
        [
            (
                row.phone,
                row.source,
                json.dumps(row.record, ensure_ascii=False, default=str),
                row.name,
                json.dumps(row.labels, ensure_ascii=False),
                row.first_at,
                row.last_at,
                row.updated_at,
            )
            for row in batch
        ],
    )
    await conn.execute(_NEW_CONVERSATIONS, {"advisor": advisor_id})
    cursor = await conn.execute(_MERGE_PROFILES, {"advisor": advisor_id})
    counts = await cursor.fetchone()
    assert counts is not None
    imported, updated = int(counts["imported"]), int(counts["updated"])
    return BatchCounts(imported=imported, updated=updated, unchanged=int(counts["seen"]) - imported - updated)


_MAPPINGS_TABLE = """
    CREATE TEMP TABLE import_contacts (
        source_conversation_id text PRIMARY KEY, hubspot_id text, prospect jsonb,
        created_at timestamptz, updated_at timestamptz
    ) ON COMMIT DROP
"""
# A record replaces what is stored for its conversation unless the stored one is dated later;
# the contact (crm_contacts, what a profile reads) is each HubSpot id's newest mapping.
_NEWER = """
    (stored.source_updated_at IS NULL OR excluded.source_updated_at IS NULL
     OR excluded.source_updated_at >= stored.source_updated_at)
"""
_MERGE_MAPPINGS = f"""
    WITH written AS (
        INSERT INTO conversation_mappings AS stored
            (conversation_id, hubspot_id, prospect, source_created_at, source_updated_at)
        SELECT source_conversation_id, hubspot_id, prospect, created_at, updated_at FROM import_contacts
        ON CONFLICT (conversation_id) DO UPDATE SET
            hubspot_id = excluded.hubspot_id, prospect = excluded.prospect,
            source_created_at = excluded.source_created_at,
            source_updated_at = excluded.source_updated_at, updated_at = now()
        WHERE {_NEWER}
          AND (stored.hubspot_id, stored.prospect, stored.source_created_at, stored.source_updated_at)
              IS DISTINCT FROM (excluded.hubspot_id, excluded.prospect,
                                excluded.source_created_at, excluded.source_updated_at)
        RETURNING (xmax = 0) AS inserted
    ), contacts AS (
        INSERT INTO crm_contacts AS stored
            (hubspot_id, source_conversation_id, prospect, source_created_at, source_updated_at)
        SELECT DISTINCT ON (hubspot_id) hubspot_id, source_conversation_id, prospect, created_at, updated_at
          FROM import_contacts ORDER BY hubspot_id, updated_at DESC NULLS LAST
        ON CONFLICT (hubspot_id) DO UPDATE SET
            source_conversation_id = excluded.source_conversation_id, prospect = excluded.prospect,
            source_created_at = excluded.source_created_at,
            source_updated_at = excluded.source_updated_at, updated_at = now()
        WHERE {_NEWER}
          AND (stored.source_conversation_id, stored.prospect, stored.source_created_at,
               stored.source_updated_at)
              IS DISTINCT FROM (excluded.source_conversation_id, excluded.prospect,
                                excluded.source_created_at, excluded.source_updated_at)
    )
    SELECT count(*) FILTER (WHERE inserted) AS imported, count(*) FILTER (WHERE NOT inserted) AS updated
      FROM written
"""


async def import_mappings(*, conn: Conn, batch: list[ContactImport]) -> BatchCounts:
    """Merge one batch (distinct conversation ids) into the mappings and CRM contacts.

    Counted per conversation, as the file keys its records. Call inside a transaction.
    """
    await conn.execute(_MAPPINGS_TABLE)
    await _copy(
        conn,
        "import_contacts",
        _CONTACT_COLUMNS,
        [
            (
                row.hubspot_id,
                row.source_conversation_id,
                json.dumps(row.prospect, ensure_ascii=False, default=str),
                row.created_at,
                row.updated_at,
            )
            for row in batch
        ],
    )
    cursor = await conn.execute(_MERGE_MAPPINGS)
    counts = await cursor.fetchone()
    assert counts is not None
    imported, updated = int(counts["imported"]), int(counts["updated"])
    return BatchCounts(imported=imported, updated=updated, unchanged=len(batch) - imported - updated)


async def _copy(conn: Conn, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    """Rows into one of the batch's temporary tables, by COPY: one round trip for the batch."""
    async with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            await copy.write_row(row)
