"""Moving the old bot's database onto advisor-bot: how long `db upgrade` takes, and its memory.

Run: `.venv/bin/python -m bench.adoption` (BENCH_ADOPTION_CUSTOMERS, default 50,000;
BENCH_ADOPTION_MESSAGES per old row, default 8). A fresh embedded PostgreSQL gets the old bot's
tables (tests/fixtures/legacy) with two `chat_history` rows per customer (one phone written as
Twilio sent it, one without '+') and their messages, then seed 004's blocks; then
`advisor-bot db upgrade --dry-run` and `db upgrade --legacy-advisor`, as a business runs them.
Peak memory is the upgrading process's own high-water mark (VmHWM); the work is SQL in the
database.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.docs import DOC, machine_line, measured_at, replace_section
from bench.server import ROOT
from bot.infra.database import resolve_database
from bot.settings import Settings
from tests.live import CLI_REPORTING_PEAK, peak_kb

DATA = DOC.parent / "data" / "adoption.json"
LEGACY = ROOT / "tests" / "fixtures" / "legacy"
ADVISOR = "+14155238886"  # the one advisor of seed 004's block

_OLD_ROWS = """
INSERT INTO chat_history (phone_number, ai_attention, audio_available, created_at)
SELECT CASE WHEN r = 1 THEN 'whatsapp:+' ELSE '' END || (573000000000 + c)::text, (c + r) %% 5 <> 0,
       c %% 7 = 0, now() - r * interval '10 days' - c * interval '1 second'
  FROM generate_series(1, %(customers)s) c, generate_series(1, 2) r
"""
_OLD_MESSAGES = """
INSERT INTO messages (conversation_id, role, content, created_at)
SELECT h.conversation_id, CASE WHEN k %% 2 = 1 THEN 'user' ELSE 'assistant' END,
       'Mensaje ' || k || ': el apartamento de dos alcobas en Chapinero, ¿sigue disponible?',
       h.created_at + k * interval '1 minute'
  FROM chat_history h, generate_series(1, %(messages)s) k
"""


def _counts(conninfo: str) -> dict[str, int]:
    with psycopg.connect(conninfo) as conn:
        return {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]  # noqa: S608
            for table in ("chat_history", "messages")
        }


def _cli(folder: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [*CLI_REPORTING_PEAK, "db", "upgrade", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=3_600,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"db upgrade {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return {"seconds": round(seconds, 1), "peak_mb": round(peak_kb(done.stderr) / 1024, 1)}


def run(customers: int, messages: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="advisor-bot-adoption-") as folder:
        settings = Settings(_env_file=None, embedded_data_dir=Path(folder) / "pgdata")  # type: ignore[call-arg]
        database = resolve_database(settings)
        with psycopg.connect(database.conninfo, autocommit=True) as conn:
            conn.execute((LEGACY / "old_bot_tables.sql").read_text())
            conn.execute(_OLD_ROWS, {"customers": customers})
            conn.execute(_OLD_MESSAGES, {"messages": messages})
            conn.execute((LEGACY / "seed_004_advisors.sql").read_text())
            conn.execute((LEGACY / "seed_004_advisor_ids.sql").read_text())
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
        before = _counts(database.conninfo)
        env = {**os.environ, "DATABASE_URL": database.conninfo, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "ERROR"}
        dry = _cli(folder, env, "--dry-run", "--legacy-advisor", ADVISOR)
        print(json.dumps({"dry_run": dry}), flush=True)
        upgrade = _cli(folder, env, "--legacy-advisor", ADVISOR)
        print(json.dumps({"upgrade": upgrade}), flush=True)
        after = _counts(database.conninfo)
        with psycopg.connect(database.conninfo) as conn:
            backups = conn.execute(
                "SELECT pg_total_relation_size('chat_history_before_advisor_bot') "
                "+ pg_total_relation_size('messages_before_advisor_bot')"
            ).fetchone()[0]  # type: ignore[index]
        if database.keepalive is not None:
            database.keepalive.cleanup()
        return {
            "customers": customers,
            "messages_per_row": messages,
            "database_mb": round(size / 1e6, 1),
            "backups_mb": round(backups / 1e6, 1),
            "before": before,
            "after": after,
            "dry_run": dry,
            "upgrade": upgrade,
        }


def main() -> int:
    customers = int(os.environ.get("BENCH_ADOPTION_CUSTOMERS", "50000"))
    messages = int(os.environ.get("BENCH_ADOPTION_MESSAGES", "8"))
    result = run(customers, messages)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(result, indent=1))
    write(result)
    return 0


def write(result: dict[str, Any]) -> None:
    """The section of docs/benchmarks.md, from the figures of one run."""
    before, after, upgrade = result["before"], result["after"], result["upgrade"]
    rate = before["messages"] / upgrade["seconds"]
    replace_section(
        "adoption",
        f"""
## 3f. Moving the old bot's database onto advisor-bot

Command: `.venv/bin/python -m bench.adoption`. {machine_line()}
Measured: {measured_at()}. Raw figures: `docs/data/adoption.json`.
The old bot's tables with {result["customers"]:,} customers, two `chat_history` rows each and
{result["messages_per_row"]} messages per row ({result["database_mb"]:,} MB), seed 004's blocks run,
then `db upgrade --dry-run --legacy-advisor …` and `db upgrade --legacy-advisor …` (adoption, then
every migration) on the embedded PostgreSQL.

| step | seconds | peak memory (VmHWM) |
|---|---|---|
| dry run | {result["dry_run"]["seconds"]:,} | {result["dry_run"]["peak_mb"]} MB |
| upgrade | **{upgrade["seconds"]:,}** ({rate:,.0f} messages/s) | **{upgrade["peak_mb"]} MB** |

Rows: `chat_history` {before["chat_history"]:,} → {after["chat_history"]:,} conversations (the
rows of one customer merged; every row is in `chat_history_before_advisor_bot`), `messages`
{before["messages"]:,} → {after["messages"]:,}. The copies take {result["backups_mb"]:,} MB until
`db upgrade --drop-backups`. The upgrade's time includes every migration building its indexes over
the adopted rows (the messages' full-text index among them); the process itself holds no rows: the
work is SQL in the database.
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
