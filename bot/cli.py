"""Owns the `advisor-bot` command line: serve, worker, db upgrade / seed, simulate."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import uuid
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import psycopg

from bot.database import connection_kwargs, resolve_database
from bot.logging_setup import configure_logging
from bot.migrations import MigrationError, upgrade
from bot.settings import Settings


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="advisor-bot", description="WhatsApp sales bot for many advisors, one Twilio webhook."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="web server plus an in-process worker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--no-worker", action="store_true", help="web only, when `advisor-bot worker` runs elsewhere"
    )

    commands.add_parser("worker", help="queue worker only, for scaling out")

    db = commands.add_parser("db", help="database schema and seeds")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations (safe to repeat)")
    seed = db_commands.add_parser("seed", help="run a seed file (default: the 7 example advisors)")
    seed.add_argument("file", nargs="?", type=Path, help="SQL file; default sql/seed.sql")
    seed.add_argument(
        "--if-empty", action="store_true", help="do nothing when advisors are already registered"
    )

    advisors = commands.add_parser("advisors", help="advisor administration")
    advisor_commands = advisors.add_subparsers(dest="advisors_command", required=True)
    token = advisor_commands.add_parser(
        "token", help="issue an API token for one advisor (printed once, stored as a hash)"
    )
    token.add_argument("advisor", help="the advisor's id or Twilio number")

    simulate = commands.add_parser(
        "simulate", help="post a signed Twilio-style message to a running server, print the reply"
    )
    simulate.add_argument("--to", required=True, help="the advisor's Twilio WhatsApp number")
    simulate.add_argument("--from", dest="from_", required=True, help="the customer's number")
    simulate.add_argument("text", help="the customer's message")
    simulate.add_argument("--url", default="http://127.0.0.1:8000/webhooks/twilio")
    simulate.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a reply")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings)
    if args.command == "serve":
        return _serve(settings, args.host, args.port, run_worker=not args.no_worker)
    if args.command == "worker":
        return asyncio.run(_worker(settings))
    if args.command == "db" and args.db_command == "upgrade":
        return asyncio.run(_db_upgrade(settings))
    if args.command == "db" and args.db_command == "seed":
        return asyncio.run(_db_seed(settings, args.file, if_empty=args.if_empty))
    if args.command == "advisors" and args.advisors_command == "token":
        return asyncio.run(_advisor_token(settings, args.advisor))
    if args.command == "simulate":
        from bot.simulate import simulate

        return asyncio.run(
            simulate(
                settings,
                to=args.to,
                from_=args.from_,
                text=args.text,
                url=args.url,
                timeout=args.timeout,
                say=_say,
            )
        )
    return 2


def _serve(settings: Settings, host: str, port: int, *, run_worker: bool) -> int:
    import uvicorn

    from bot.app import create_app

    uvicorn.run(
        create_app(settings, run_worker=run_worker),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
    )
    return 0


async def _worker(settings: Settings) -> int:
    from bot.runtime import open_runtime

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with open_runtime(settings, worker=True) as runtime:
        assert runtime.worker_task is not None
        _say("worker running; Ctrl+C to stop")
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, runtime.worker_task}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
    return 0


async def _db_upgrade(settings: Settings) -> int:
    try:
        report = await upgrade(resolve_database(settings))
    except MigrationError as error:
        _say(f"error: {error}")
        return 1
    if report.applied:
        _say("applied: " + ", ".join(report.applied))
    else:
        _say("schema is up to date; nothing to apply")
    return 0


async def _db_seed(settings: Settings, file: Path | None, *, if_empty: bool) -> int:
    if file is None:
        sql = resources.files("sql").joinpath("seed.sql").read_text(encoding="utf-8")
        name = "sql/seed.sql"
    else:
        if not file.is_file():
            _say(f"error: no such file: {file}")
            return 1
        sql, name = file.read_text(encoding="utf-8"), str(file)
    database = resolve_database(settings)
    await upgrade(database)
    async with await psycopg.AsyncConnection.connect(
        database.conninfo, **connection_kwargs(database)
    ) as conn:
        cursor = await conn.execute("SELECT count(*) AS n FROM advisors")
        row = await cursor.fetchone()
        before = int(row["n"]) if row else 0
        if if_empty and before > 0:
            _say(f"{before} advisors already registered; seed skipped")
            return 0
        try:
            async with conn.transaction():
                await conn.execute(sql)  # an admin's own seed file
        except psycopg.Error as error:
            _say(f"error: {name} was not applied, nothing changed: {error}".strip())
            return 1
        cursor = await conn.execute("SELECT count(*) AS n FROM advisors")
        row = await cursor.fetchone()
        after = int(row["n"]) if row else 0
    _say(f"seeded {name}: {after - before} advisors added, {after} registered")
    return 0


async def _advisor_token(settings: Settings, advisor_ref: str) -> int:
    from advisors.numbers import InvalidNumberError, normalize_whatsapp_address
    from advisors.tokens import issue_token

    database = resolve_database(settings)
    async with await psycopg.AsyncConnection.connect(
        database.conninfo, **connection_kwargs(database)
    ) as conn:
        try:
            advisor_id = uuid.UUID(advisor_ref)
            cursor = await conn.execute("SELECT id, name FROM advisors WHERE id = %s", (advisor_id,))
        except ValueError:
            try:
                number = normalize_whatsapp_address(advisor_ref)
            except InvalidNumberError:
                _say(f"error: {advisor_ref!r} is neither an advisor id nor a phone number")
                return 1
            cursor = await conn.execute(
                "SELECT id, name FROM advisors WHERE twilio_phone_number = %s", (number,)
            )
        row = await cursor.fetchone()
        if row is None:
            _say(f"error: no advisor {advisor_ref}")
            return 1
        async with conn.transaction():
            token = await issue_token(conn=conn, advisor_id=row["id"])
    _say(f"API token for {row['name']} ({row['id']}); it is shown only now:")
    _say(token)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
