"""Owns reading what an existing table looks like: its columns, keys and rows, before it is adopted.

Adoption decides from the database's own catalogue, never from a guess about which old system made
the table, so each plan names exactly the columns and constraints it will touch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[Any]

# How the product writes a phone number ('+digits'), as SQL over a column: the same rule as
# sql/0001_core.sql's advisor_bot_normalize_phone, which does not exist before the first migration.
PHONE_SQL = "('+' || regexp_replace(regexp_replace({column}, '^\\s*whatsapp:', '', 'i'), '[^0-9]', '', 'g'))"
INTEGER_TYPES = ("smallint", "integer", "bigint")


@dataclass(frozen=True)
class Column:
    """One column of an existing table, as the catalogue describes it."""

    name: str
    data_type: str
    nullable: bool
    has_default: bool
    is_identity: bool


def phone_sql(column: str) -> str:
    """SQL that writes `column` as the product stores phone numbers ('+digits')."""
    return PHONE_SQL.format(column=column)


async def exists(conn: Conn, table: str) -> bool:
    """Whether a table of that name is in the current schema."""
    cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (table,))
    row = await cursor.fetchone()
    return bool(row and row["found"])


async def columns(conn: Conn, table: str) -> dict[str, Column]:
    """The table's columns by name."""
    cursor = await conn.execute(
        "SELECT column_name, data_type, is_nullable = 'YES' AS nullable, "
        "column_default IS NOT NULL AS has_default, is_identity = 'YES' AS is_identity "
        "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    )
    return {
        row["column_name"]: Column(
            name=row["column_name"],
            data_type=row["data_type"],
            nullable=row["nullable"],
            has_default=row["has_default"],
            is_identity=row["is_identity"],
        )
        for row in await cursor.fetchall()
    }


async def primary_key(conn: Conn, table: str) -> tuple[str, list[str]] | None:
    """The table's primary key as (constraint name, its columns), or None."""
    cursor = await conn.execute(
        "SELECT c.conname AS name, array_agg(a.attname ORDER BY k.ord) AS columns "
        "FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
        "WHERE c.conrelid = to_regclass(%s) AND c.contype = 'p' GROUP BY c.conname",
        (table,),
    )
    row = await cursor.fetchone()
    return (row["name"], list(row["columns"])) if row else None


async def foreign_keys(conn: Conn, table: str) -> list[tuple[str, str]]:
    """Foreign keys that leave `table` or point at it, as (table holding it, constraint name)."""
    cursor = await conn.execute(
        "SELECT conrelid::regclass::text AS holder, conname AS name FROM pg_constraint "
        "WHERE contype = 'f' AND (conrelid = to_regclass(%s) OR confrelid = to_regclass(%s)) "
        "ORDER BY 1, 2",
        (table, table),
    )
    return [(row["holder"], row["name"]) for row in await cursor.fetchall()]


@dataclass(frozen=True)
class UniqueIndex:
    """A unique index other than the primary key; `constraint` names the UNIQUE constraint behind it."""

    index: str
    constraint: str | None
    columns: tuple[str, ...]


async def unique_indexes(conn: Conn, table: str) -> list[UniqueIndex]:
    """The table's unique indexes other than its primary key (expression columns come as '')."""
    cursor = await conn.execute(
        "SELECT i.indexrelid::regclass::text AS index, c.conname AS constraint, "
        "array_agg(coalesce(a.attname, '') ORDER BY k.ord) AS columns "
        "FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
        "LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'u' "
        "WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND NOT i.indisprimary "
        "GROUP BY 1, 2 ORDER BY 1",
        (table,),
    )
    return [
        UniqueIndex(index=row["index"], constraint=row["constraint"], columns=tuple(row["columns"]))
        for row in await cursor.fetchall()
    ]


async def value(conn: Conn, query: str, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the first row of a query (None when it returns no row)."""
    cursor = await conn.execute(query, params)
    row = await cursor.fetchone()
    return next(iter(row.values())) if row else None


async def rows(conn: Conn, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Every row of a query."""
    cursor = await conn.execute(query, params)
    return list(await cursor.fetchall())


@cache
def product_index_names() -> frozenset[str]:
    """The index names the product's migrations create with IF NOT EXISTS.

    An old index of the same name (seed 004 names its own idx_messages_advisor_id) would make
    the product's silently skipped, and its queries slow.
    """
    pattern = re.compile(r"CREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?IF NOT EXISTS (\w+)", re.IGNORECASE)
    return frozenset(
        name
        for entry in resources.files("sql").iterdir()
        if entry.name.endswith(".sql")
        for name in pattern.findall(entry.read_text(encoding="utf-8"))
    )


async def colliding_indexes(conn: Conn, table: str) -> list[str]:
    """The table's indexes (not backing a constraint) that bear a name the product's migrations use."""
    cursor = await conn.execute(
        "SELECT i.indexrelid::regclass::text AS name FROM pg_index i "
        "WHERE i.indrelid = to_regclass(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        (table,),
    )
    return [row["name"] for row in await cursor.fetchall() if row["name"] in product_index_names()]
