"""Owns where the database is: the embedded PostgreSQL default, or DATABASE_URL, and the pools."""

from __future__ import annotations

import contextlib
import logging
import select
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import procrastinate.exceptions
import psycopg
import psycopg_pool
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from bot.settings import Settings, strip_pgbouncer_flag

logger = logging.getLogger(__name__)

SUPABASE_TRANSACTION_POOLER_PORT = 6543

# The database is unreachable, restarting or saturated: the caller answers "retry later".
DATABASE_UNAVAILABLE = (
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    procrastinate.exceptions.ConnectorException,
)


class DatabaseSettingError(RuntimeError):
    """The configuration names no usable database; the text says what to set."""


@dataclass(frozen=True)
class Database:
    """A resolved connection target; `keepalive` holds the embedded server open while referenced."""

    conninfo: str
    transaction_pooler: bool
    keepalive: Any = None


def uses_transaction_pooler(url: str) -> bool:
    """Tell whether `url` targets a transaction pooler (Supabase's port 6543, or `pgbouncer=true`).

    Such poolers hand each transaction to any server connection, so server-side prepared
    statements and LISTEN/NOTIFY cannot be relied on there.
    """
    parsed = urlparse(url)
    query = {key.lower(): values for key, values in parse_qs(parsed.query).items()}
    flagged = any(value.lower() == "true" for value in query.get("pgbouncer", []))
    try:
        port = parsed.port
    except ValueError:
        port = None
    return flagged or port == SUPABASE_TRANSACTION_POOLER_PORT


def resolve_database(settings: Settings) -> Database:
    """Return the database to use, starting the embedded PostgreSQL when no URL is configured."""
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        return Database(conninfo=strip_pgbouncer_flag(url), transaction_pooler=uses_transaction_pooler(url))
    if settings.environment == "production":
        # A deploy's disk is thrown away: conversations and AI memory would vanish with it.
        raise DatabaseSettingError(
            "ENVIRONMENT=production needs DATABASE_URL: the embedded PostgreSQL keeps its data on "
            "this machine's disk, which a deploy throws away"
        )
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
        warnings.simplefilter("ignore")
        try:
            from pgserver.postgres_server import get_server  # lazily: only the embedded default needs it
        except ImportError:
            raise DatabaseSettingError(
                "no DATABASE_URL, and the embedded PostgreSQL is not installed: set DATABASE_URL, or "
                "install the `embedded` extra (pip install 'advisor-bot[embedded]'; make run does)"
            ) from None

        logging.getLogger("pgserver").setLevel(logging.WARNING)
        data_dir = settings.embedded_data_dir.resolve()
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = get_server(data_dir, cleanup_mode="stop")
    logger.info("embedded PostgreSQL ready", extra={"data_dir": str(data_dir)})
    return Database(conninfo=server.get_uri(), transaction_pooler=False, keepalive=server)


def connection_kwargs(database: Database, *, autocommit: bool = False) -> dict[str, Any]:
    """Return psycopg connection options; no server-side prepared statements behind a pooler."""
    kwargs: dict[str, Any] = {"autocommit": autocommit, "row_factory": dict_row}
    if database.transaction_pooler:
        kwargs["prepare_threshold"] = None
    return kwargs


# psycopg converts a statement's placeholders once per statement text, but caches that only for
# texts up to 4 KB (`psycopg._queries.MAX_CACHED_STATEMENT_LENGTH`, no public setting): a longer
# one is parsed again at every execution. The worker's turn statements (memory.records.turn_start,
# turn_end) are 4-6 KB and run on every answer. tests/bot/infra/test_database.py checks that
# psycopg still reads this limit and that every such statement fits.
LONGEST_CACHED_STATEMENT = 16_384


def cache_long_statements() -> None:
    """Let psycopg keep the conversion of statements up to LONGEST_CACHED_STATEMENT characters."""
    from psycopg import _queries

    if getattr(_queries, "MAX_CACHED_STATEMENT_LENGTH", LONGEST_CACHED_STATEMENT) < LONGEST_CACHED_STATEMENT:
        _queries.MAX_CACHED_STATEMENT_LENGTH = LONGEST_CACHED_STATEMENT


async def open_pool(
    database: Database,
    *,
    settings: Settings,
    name: str,
    autocommit: bool = False,
    max_size: int | None = None,
) -> AsyncConnectionPool:
    """Open an async pool and wait until its first connection works."""
    cache_long_statements()
    pool = AsyncConnectionPool(
        database.conninfo,
        min_size=1,
        max_size=max_size or settings.database_pool_size,
        # Named in pg_stat_activity and the server log: which part of which process it is.
        kwargs={
            **connection_kwargs(database, autocommit=autocommit),
            "application_name": f"advisor-bot {name}",
        },
        timeout=settings.database_timeout_seconds,
        open=False,
        name=name,
        # A connection broken by a database restart is replaced instead of failing a request.
        check=check_quietly,
    )
    await pool.open(wait=True, timeout=max(settings.database_timeout_seconds, 30.0))
    return pool


def _has_input(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether anything arrived on an idle connection's socket (a poll, not a round trip)."""
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


async def check_quietly(conn: psycopg.AsyncConnection[Any]) -> None:
    """Check a connection before lending it, with a query only when something looks wrong.

    An idle connection has nothing to read: no query is outstanding. A server that restarted,
    failed over or dropped it (idle timeout, a pooler recycling it) leaves its end readable,
    with an error message or the end of the stream; only then is psycopg's empty query run,
    which raises, and the pool replaces the connection. A healthy connection costs one poll()
    system call instead of a round trip per checkout.
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    if _has_input(conn):
        await AsyncConnectionPool.check_connection(conn)


def pool_checking_quietly(**kwargs: Any) -> AsyncConnectionPool:
    """An AsyncConnectionPool whose check is `check_quietly`, for libraries that build their own."""
    kwargs["check"] = check_quietly
    return AsyncConnectionPool(**kwargs)


@contextlib.asynccontextmanager
async def single_statements(pool: AsyncConnectionPool) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """Lend a connection in autocommit: each statement is its own transaction, one round trip.

    For a block that runs one statement (or several that need no common transaction): the
    pool's other users keep their implicit transactions, as the connection goes back as it came.
    """
    async with pool.connection() as conn:
        lent_as = conn.autocommit
        await conn.set_autocommit(True)
        try:
            yield conn
        finally:
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                await conn.set_autocommit(lent_as)


def maybe_transaction(
    conn: psycopg.AsyncConnection[Any], needed: bool
) -> contextlib.AbstractAsyncContextManager[Any]:
    """`conn.transaction()` when `needed`, else nothing.

    On an autocommit connection a lone statement is atomic by itself; BEGIN and COMMIT around it
    would be two more round trips.
    """
    return conn.transaction() if needed else contextlib.nullcontext()
