"""Cost per message, counted: database statements per inbound message and per reply, advisor
look-ups served from the cache against the database, and the server's memory after 10,000
conversations.

Run: `.venv/bin/python -m bench.cost`. `advisor-bot serve` (web + in-process worker) on the
embedded PostgreSQL, with the local fake model (answers at once) and fake Twilio. PostgreSQL logs
every statement (log_statement=all) with the connection's application_name, which the server sets
per pool ("advisor-bot app" for the webhook, "advisor-bot worker" / "checkpointer" / "queue" for
the worker): the statements are counted in that log, not estimated. Then logging is switched off
and 10,000 customers each write once; the server's resident memory is read before and after.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
import psycopg

from bench.docs import machine_line, measured_at, replace_section
from bench.server import ADVISORS, bench_environment, database_url, running_server
from bench.services import local_services
from bench.wrk import run_wrk, write_requests

MESSAGES = 200
CONVERSATIONS = int(os.environ.get("BENCH_CONVERSATIONS", "10000"))
ENTRY = re.compile(r"^\d{4}-\d\d-\d\d ")
LINE = re.compile(r"app=(?P<app>.*?) LOG:  (?:statement|execute [^:]*): (?P<sql>.*)", re.DOTALL)


def _entries(lines: list[str]) -> list[tuple[str, str]]:
    """(application, statement) for each statement logged; statements may span several lines."""
    joined: list[str] = []
    for line in lines:
        if ENTRY.match(line) or not joined:
            joined.append(line)
        else:
            joined[-1] += " " + line.strip()
    found = (LINE.search(entry) for entry in joined)
    return [(match["app"], " ".join(match["sql"].split())) for match in found if match]


def _logging(url: str, on: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if on:
            conn.execute("ALTER SYSTEM SET log_statement = 'all'")
            conn.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] app=%a '")
        else:
            conn.execute("ALTER SYSTEM RESET log_statement")
        conn.execute("SELECT pg_reload_conf()")


def _kind(sql: str) -> str:
    if not sql.strip():
        return "(empty query: the pool's check of a connection before lending it)"
    words = sql.strip().split()
    head = " ".join(words[:2]).upper() if words else ""
    for table in (
        "procrastinate_fetch_job",
        "procrastinate_defer",
        "procrastinate_finish_job",
        "advisors",
        "chat_history",
        "messages",
        "checkpoint",
        "pg_advisory",
        "procrastinate",
    ):
        if table in sql:
            return f"{words[0].upper()} … {table}"
    return head


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="advisor-bot-cost-") as folder, local_services() as services:
        env = {**bench_environment(folder), **services.environment()}
        url = database_url(folder)
        _logging(url, True)
        log = Path(folder).resolve() / "pgdata" / "log"
        with (
            running_server(folder, env, []) as base,
            psycopg.connect(url, autocommit=True, application_name="bench") as conn,
        ):
            server = psutil.Process(int(Path(folder, "server.pid").read_text()))
            webhook = base + "/webhooks/twilio"
            rss_start = server.memory_info().rss
            time.sleep(2)
            offset = log.stat().st_size
            requests = write_requests(Path(folder) / "requests.txt", webhook, MESSAGES)
            run_wrk(webhook, requests, rate=20, seconds=MESSAGES / 20, connections=4)
            services.wait_for_replies(conn, MESSAGES, timeout=120, poll=0.2)
            time.sleep(1)
            with log.open() as handle:
                handle.seek(offset)
                statements = _entries(handle.readlines())
            _logging(url, False)
            replies = len(services.twilio.sent)
            rss_before = server.memory_info().rss
            # Every request from a customer of its own: 10,000 new conversations, each answered.
            many = write_requests(Path(folder) / "many.txt", webhook, CONVERSATIONS, customers=CONVERSATIONS)
            run_wrk(webhook, many, rate=200, seconds=CONVERSATIONS / 200, connections=32)
            drain = services.wait_for_replies(conn, replies + CONVERSATIONS, timeout=600, poll=0.2)
            rss_after = server.memory_info().rss
            ready = httpx.get(base + "/readyz").json()
    _write(statements, replies, rss_start, rss_before, rss_after, drain, ready)
    return 0


def _write(
    statements: list[tuple[str, str]],
    replies: int,
    rss_start: int,
    rss_before: int,
    rss_after: int,
    drain: float,
    ready: dict[str, object],
) -> None:
    by_app = Counter(app for app, _ in statements)
    web = [sql for app, sql in statements if app == "advisor-bot app"]
    worker = [sql for app, sql in statements if app in ("advisor-bot worker", "advisor-bot checkpointer")]
    queue = [sql for app, sql in statements if app == "advisor-bot queue"]
    polls = sum(1 for sql in queue if "procrastinate_fetch_job" in sql)
    lookups = sum(1 for sql in web if "FROM advisors WHERE twilio_phone_number" in sql)
    kinds = Counter(_kind(sql) for sql in web)
    worker_kinds = Counter(_kind(sql) for sql in worker + queue)
    web_table = "\n".join(f"| {kind} | {count / MESSAGES:.2f} |" for kind, count in kinds.most_common())
    worker_table = "\n".join(
        f"| {kind} | {count / replies:.2f} |" for kind, count in worker_kinds.most_common(14)
    )
    others = {
        app or "(unnamed)": n
        for app, n in by_app.items()
        if not app.startswith("advisor-bot") and app != "bench"
    }
    mib = 1024 * 1024
    replace_section(
        "cost",
        f"""
## 4. Cost per message, counted

Command: `.venv/bin/python -m bench.cost` (part of `make bench`). {machine_line()}
Measured: {measured_at()}. `advisor-bot serve` (web + in-process worker), fake model answering at
once, fake Twilio; {MESSAGES} customer messages from {MESSAGES} customers to the {len(ADVISORS)} seeded
advisors, each answered by the AI. Every statement PostgreSQL received was logged
(`log_statement=all`) with its connection's `application_name` and counted.

- **Per inbound message (webhook): {len(web) / MESSAGES:.2f} statements** ({len(web)} for {MESSAGES}
  messages), one transaction, BEGIN and COMMIT included.
- **Per reply (worker): {(len(worker) + len(queue) - polls) / replies:.2f} statements** besides the
  queue's polling ({len(worker)} worker and checkpointer, {len(queue) - polls} queue bookkeeping, for
  {replies} replies); the queue also polled {polls} times ({polls / replies:.2f} per reply while busy;
  it listens for NOTIFY and polls every 0.5 s, which costs statements even when idle).
- **Advisor look-ups: {MESSAGES - lookups} of {MESSAGES} served from the cache, {lookups} from the
  database** ({len(ADVISORS)} advisors: one miss each; the 24 h TTL cache holds them after that).
- Other connections: {others or "none"}.
- **Resident memory of the server process**: {rss_start / mib:.0f} MiB after start,
  {rss_before / mib:.0f} MiB after the {MESSAGES} conversations, **{rss_after / mib:.0f} MiB after
  {CONVERSATIONS:,} more conversations** (each a new customer answered by the AI; the whole backlog
  drained {drain:.0f} s after the last request was sent). Readiness afterwards: `{ready}`.

Webhook statements per inbound message, by kind:

| statement | per message |
|---|---|
{web_table}

Worker statements per reply, by kind (queue polling included):

| statement | per reply |
|---|---|
{worker_table}
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
