"""Owns keeping Supabase's public roles out of every table the product creates, whenever it does.

Supabase exposes every table in `public` over its REST API to the `anon` and `authenticated`
roles, with default privileges on new tables. Row-level security without a policy blocks them;
revoking their privileges closes the door twice. Migrations run this after every upgrade; code
that creates a table at start (the embeddings table, made only when a model is configured) runs
it right after, in the same transaction, so no table is ever readable in between.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

LOCK_DOWN_TABLES = """
DO $$
DECLARE
    t record;
    r text;
BEGIN
    FOR t IN
        SELECT c.oid::regclass AS name, c.relrowsecurity AS rls
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
    LOOP
        IF NOT t.rls THEN
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.name);
        END IF;
        FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
                EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', t.name, r);
            END IF;
        END LOOP;
    END LOOP;
END
$$;
"""


async def lock_down_tables(conn: AsyncConnection[Any]) -> None:
    """Enable row-level security on every table of the schema and revoke the public roles' grants."""
    await conn.execute(LOCK_DOWN_TABLES)
