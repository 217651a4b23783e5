"""Owns what an adoption step is: what it says it will do, the SQL that does it, the tables it copies."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from psycopg import sql

from bot.infra.adoption.catalog import (
    Column,
    Conn,
    UniqueIndex,
    colliding_indexes,
    foreign_keys,
    primary_key,
    unique_indexes,
)

Query = str | sql.Composed
BACKUP_SUFFIX = "_before_advisor_bot"

# The order a step's statements run in, whichever table's module added them: the old keys go
# first (an old ON DELETE CASCADE must not follow the merge), the product's keys come once the
# rows satisfy them.
PHASES = ("unbind", "prepare", "map", "follow", "merge", "bind", "date", "loosen")


class AdoptionError(RuntimeError):
    """The existing tables cannot be adopted as they are; the message says what to do, in one line.

    `changed`: earlier steps were carried out before this one failed (the message names them).
    """

    def __init__(self, message: str, *, changed: bool = False) -> None:
        super().__init__(message)
        self.changed = changed


@dataclass
class AdoptionStep:
    """What will be done to existing tables, in words and in SQL: one transaction, after a copy of each.

    `says` is what the user reads before anything changes (all of it, in a dry run); a statement
    without words of its own is a detail of the line before it.
    """

    tables: tuple[str, ...]
    says: list[str] = field(default_factory=list)
    phases: dict[str, list[Query]] = field(default_factory=lambda: {phase: [] for phase in PHASES})
    unbound: set[tuple[str, str]] = field(default_factory=set)

    def add(self, said: str | None, *statements: Query, phase: str = "prepare") -> None:
        """Add statements, and the line that tells the user about them (None: told already)."""
        if said:
            self.says.append(said)
        self.phases[phase].extend(statements)

    def unbind(self, holder: str, constraint: str) -> bool:
        """Drop a constraint of the old system first thing; False when this step drops it already."""
        if (holder, constraint) in self.unbound:
            return False
        self.unbound.add((holder, constraint))
        self.phases["unbind"].append(f'ALTER TABLE {holder} DROP CONSTRAINT "{constraint}"')
        return True

    def told(self) -> list[str]:
        """What the user reads about this step: its changes, then the copies it keeps."""
        return [
            *self.says,
            *(
                f"{table}: a copy as it was kept in {table}{BACKUP_SUFFIX} (until db upgrade --drop-backups)"
                for table in self.tables
            ),
        ]

    @property
    def statements(self) -> list[Query]:
        """Every statement, phase by phase."""
        return [statement for phase in PHASES for statement in self.phases[phase]]


def loosen_unknown_columns(
    step: AdoptionStep,
    table: str,
    found: dict[str, Column],
    known: Iterable[str],
    renamed: dict[str, str] | None = None,
) -> None:
    """Let the product's inserts leave out the columns it does not know, which stay as they are.

    A column of the old system that is NOT NULL with no default (its `content`, its `role`)
    would make every row the product writes fail.
    """
    names, renamed = set(known), renamed or {}
    for column in found.values():
        name = renamed.get(column.name, column.name)
        if (name not in names or column.name in renamed) and not column.nullable and not column.has_default:
            step.add(
                f"{table}: column {name} is kept but no longer required (advisor-bot does not fill it)",
                f'ALTER TABLE {table} ALTER COLUMN "{name}" DROP NOT NULL',
                phase="loosen",
            )


def drop_unique_sql(table: str, index: UniqueIndex) -> str:
    """The statement that drops a unique index, through its constraint when it has one."""
    if index.constraint:
        return f'ALTER TABLE {table} DROP CONSTRAINT "{index.constraint}"'
    return f"DROP INDEX {index.index}"


async def drop_colliding_indexes(conn: Conn, step: AdoptionStep, table: str) -> None:
    """Drop the old indexes that bear a name of the product's, which then makes its own."""
    names = await colliding_indexes(conn, table)
    if names:
        step.add(
            f"{table}: drop index {', '.join(names)} (advisor-bot creates its own under that name)",
            *(f"DROP INDEX {name}" for name in names),
            phase="unbind",
        )


async def unbind_old_keys(
    conn: Conn,
    step: AdoptionStep,
    table: str,
    *,
    product_columns: Iterable[str],
    keep_primary: Callable[[list[str]], bool],
    keep_unique: tuple[tuple[str, ...], ...] = (),
) -> None:
    """Drop the old system's keys on `table` first thing, saying which: the product's replace them.

    Every foreign key leaving or reaching the table (an old ON DELETE CASCADE must not follow a
    merge), its primary key unless `keep_primary` says it is the product's, and each unique index
    over the product's columns that lacks `advisor_id` (a unique phone, from one advisor's days,
    would refuse the same customer writing to a second advisor) unless listed in `keep_unique`.
    """
    dropped: list[str] = []
    for holder, name in await foreign_keys(conn, table):
        if step.unbind(holder, name):
            dropped.append(f"{holder}.{name}")
    primary = await primary_key(conn, table)
    if primary is not None and not keep_primary(primary[1]):
        step.unbind(table, primary[0])
        dropped.append(f"primary key {primary[0]} ({', '.join(primary[1])})")
    known = set(product_columns)
    for index in await unique_indexes(conn, table):
        if (
            set(index.columns) <= known
            and "advisor_id" not in index.columns
            and index.columns not in keep_unique
        ):
            step.add(None, drop_unique_sql(table, index), phase="unbind")
            dropped.append(f"unique {index.index} ({', '.join(index.columns)})")
    await drop_colliding_indexes(conn, step, table)
    if dropped:
        step.add(f"{table}: drop the old keys " + ", ".join(dropped) + " (advisor-bot's replace them)")
