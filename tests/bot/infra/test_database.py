"""psycopg caches the conversion of the worker's long turn statements (bot.infra.database)."""

from __future__ import annotations

import re

from psycopg import _queries
from psycopg.adapt import Transformer

from bot.infra.database import LONGEST_CACHED_STATEMENT, cache_long_statements
from bot.worker.answer import _CHECKPOINT_READ
from memory.records import turn_end, turn_start


def test_the_worker_turn_statements_fit_the_query_cache_psycopg_reads() -> None:
    cache_long_statements()
    assert _queries.MAX_CACHED_STATEMENT_LENGTH >= LONGEST_CACHED_STATEMENT, (
        "psycopg no longer reads MAX_CACHED_STATEMENT_LENGTH: see bot/infra/database.py"
    )
    statements = [turn_start._read_with(_CHECKPOINT_READ), turn_end._RECORD]
    assert max(len(sql) for sql in statements) <= LONGEST_CACHED_STATEMENT
    # What the limit guards: the second conversion of the same text is a cache hit.
    query = statements[0].encode()
    names = dict.fromkeys(re.findall(r"%\((\w+)\)s", statements[0]))
    before = _queries._query2pg.cache_info().hits
    for _ in range(2):
        _queries.PostgresQuery(Transformer()).convert(query, names)
    assert _queries._query2pg.cache_info().hits >= before + 1
