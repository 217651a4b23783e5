"""Owns the `advisor-bot` command line: serve, worker, db, advisors, knowledge, import, console, simulate.

Every failure a user can cause or fix (a bad setting, an unreachable database, a wrong argument)
ends as one `error:` line that says what to fix, and a non-zero exit code; never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import psycopg
from pydantic import ValidationError

from bot.cli.console import fail
from bot.cli.db import upgrade_stopped
from bot.infra.adoption import AdoptionError
from bot.infra.database import DATABASE_UNAVAILABLE, DatabaseSettingError
from bot.logging_setup import configure_logging
from bot.migrations import MigrationError
from bot.settings import Settings

# Settings whose values are never echoed back, even in an error.
_SECRET_HINTS = ("token", "key", "secret", "password", "database_url")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="advisor-bot",
        description="WhatsApp sales bot for many advisors, one Twilio webhook. "
        "Settings come from the environment or .env (see .env.example).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="web server plus an in-process worker")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=_default_port(), help="port to listen on (default $PORT or 8000)"
    )
    serve.add_argument(
        "--no-worker", action="store_true", help="web only, when `advisor-bot worker` runs elsewhere"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="web processes on the port (default 1); limits such as WEBHOOK_RATE_LIMIT hold per process",
    )

    worker = commands.add_parser("worker", help="queue worker only, for scaling out")
    worker.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes on this machine, one per core (default 1); "
        "this one upgrades the schema once, supervises them and serves WORKER_METRICS_PORT",
    )

    db = commands.add_parser("db", help="database schema and seeds")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = db_commands.add_parser(
        "upgrade", help="apply pending migrations (safe to repeat); adopts existing tables first"
    )
    upgrade.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would change (existing tables included), change nothing",
    )
    upgrade.add_argument(
        "--drop-backups", action="store_true", help="drop the <table>_before_advisor_bot copies adoption kept"
    )
    upgrade.add_argument(
        "--legacy-advisor",
        metavar="NUMBER_OR_ID",
        help="the advisor (Twilio number or id) whose are the adopted rows that name no advisor",
    )
    seed = db_commands.add_parser("seed", help="run a seed file (default: the 7 example advisors)")
    seed.add_argument("file", nargs="?", type=Path, help="SQL file; default sql/seed.sql")
    seed.add_argument(
        "--if-empty", action="store_true", help="do nothing when advisors are already registered"
    )

    advisors = commands.add_parser("advisors", help="advisor administration, without writing SQL")
    advisor_commands = advisors.add_subparsers(dest="advisors_command", required=True, metavar="COMMAND")
    advisor_commands.add_parser("list", help="every advisor: id, active, numbers, name")
    add = advisor_commands.add_parser("add", help="register an advisor (active)")
    add.add_argument("--name", required=True, help="the advisor's name, as customers see it")
    add.add_argument("--phone", required=True, help="the advisor's own phone, e.g. +573001112233")
    add.add_argument("--twilio-number", required=True, help="the Twilio WhatsApp number customers write to")
    for verb, text in (
        ("deactivate", "stop answering for an advisor and revoke their API tokens"),
        ("activate", "answer for an advisor again"),
    ):
        toggle = advisor_commands.add_parser(verb, help=text)
        toggle.add_argument("advisor", help="the advisor's id or Twilio number")
    token = advisor_commands.add_parser(
        "token", help="issue an API token for one advisor (printed once, stored as a hash)"
    )
    token.add_argument("advisor", help="the advisor's id or Twilio number")
    token.add_argument("--label", help="what the token is for, shown by `tokens list`")
    tokens = advisor_commands.add_parser("tokens", help="list or revoke API tokens")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True, metavar="COMMAND")
    listed = token_commands.add_parser("list", help="tokens: created, last used, revoked; never the secret")
    listed.add_argument("advisor", nargs="?", help="only this advisor's (id or Twilio number)")
    revoke = token_commands.add_parser("revoke", help="revoke a token (or all of one advisor's)")
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("token_id", nargs="?", type=int, help="the token's id, from `tokens list`")
    target.add_argument("--advisor", help="revoke every token of this advisor (id or Twilio number)")

    knowledge = commands.add_parser("knowledge", help="what the business sells, for the agent to search")
    knowledge_commands = knowledge.add_subparsers(dest="knowledge_command", required=True, metavar="COMMAND")
    knowledge_add = knowledge_commands.add_parser(
        "add", help="add or replace documents (Markdown, text, CSV); a changed file replaces its passages"
    )
    knowledge_add.add_argument(
        "--advisor",
        required=True,
        help="the advisor's id or Twilio number, or `all` to share with every advisor",
    )
    knowledge_add.add_argument("files", nargs="+", type=Path, metavar="FILE")
    knowledge_list = knowledge_commands.add_parser("list", help="documents: id, advisor, passages, source")
    knowledge_list.add_argument("--advisor", help="only what this advisor's agent reads (theirs and shared)")
    knowledge_remove = knowledge_commands.add_parser("remove", help="delete a document and its passages")
    knowledge_remove.add_argument("document_id", type=int, help="the document's id, from `knowledge list`")

    importing = commands.add_parser("import", help="bring an old bot's JSON files into the database")
    import_commands = importing.add_subparsers(dest="import_command", required=True, metavar="COMMAND")
    mappings = import_commands.add_parser(
        "mappings", help="conversation_mappings.json: conversation → HubSpot contact, with prospect data"
    )
    mappings.add_argument("file", type=Path, metavar="FILE")
    profiles = import_commands.add_parser(
        "profiles", help="threads.json and guest_profiles.json, into one advisor's customer profiles"
    )
    profiles.add_argument("--advisor", required=True, help="the advisor's id or Twilio number")
    profiles.add_argument("files", nargs="+", type=Path, metavar="FILE")
    for command in (mappings, profiles):
        command.add_argument(
            "--dry-run", action="store_true", help="read and check everything, report, write nothing"
        )

    evaluation = commands.add_parser(
        "eval", help="run scenario conversations through the real server against a model, and score them"
    )
    evaluation.add_argument(
        "--scenarios", type=Path, help="a scenario file or folder (default: the shipped set)"
    )
    evaluation.add_argument("--model", help="the model to evaluate (default: OPENAI_MODEL)")
    evaluation.add_argument(
        "--base-url", help="an OpenAI-compatible server (default: OPENAI_BASE_URL, else OpenAI)"
    )
    evaluation.add_argument(
        "--only", action="append", default=[], metavar="TAG", help="only scenarios with this tag"
    )
    evaluation.add_argument("--report", type=Path, metavar="PATH.json", help="write the JSON report here")
    evaluation.add_argument("--html", type=Path, metavar="PATH.html", help="write the report as a page too")
    evaluation.add_argument(
        "--fail-under", type=_share, metavar="SCORE", help="exit 1 below this score (0–1)"
    )
    evaluation.add_argument(
        "--repeat", type=_positive, default=1, metavar="N", help="run each scenario N times"
    )
    evaluation.add_argument(
        "--database-url", help="make the run's temporary database on this server (default: embedded)"
    )
    evaluation.add_argument(
        "--memory-tokens",
        type=_memory_tokens,
        default=2000,
        metavar="N",
        help="the AI memory's size during the run (default 2000: long scenarios fold into a summary)",
    )
    evaluation.add_argument(
        "--judge-model", help="grade each conversation with this model (default: no judge)"
    )
    evaluation.add_argument("--judge-base-url", help="the judge's server (default: --base-url)")
    evaluation.add_argument(
        "--judge-weight",
        type=_share,
        default=0.0,
        metavar="W",
        help="the judge's share of the score, 0–1 (default 0: the checks only)",
    )
    evaluation.add_argument(
        "--simulate-customers",
        action="store_true",
        help="run the scenarios whose customer is a persona with a goal, played by a model",
    )
    evaluation.add_argument(
        "--customer-model", help="the model playing simulated customers (default: --model)"
    )

    tokenizer = commands.add_parser("tokenizer", help="the model's tokenizer, for exact prompt budgets")
    tokenizer_commands = tokenizer.add_subparsers(dest="tokenizer_command", required=True, metavar="COMMAND")
    tokenizer_commands.add_parser(
        "fetch", help="download OPENAI_MODEL's vocabulary into tiktoken's cache (TIKTOKEN_CACHE_DIR), once"
    )

    customers = commands.add_parser("customers", help="customer records")
    customer_commands = customers.add_subparsers(dest="customers_command", required=True, metavar="COMMAND")
    erase = customer_commands.add_parser(
        "erase", help="forget one customer of one advisor: messages, profile, AI memory, media, CRM links"
    )
    erase.add_argument("--advisor", required=True, help="the advisor's id or Twilio number")
    erase.add_argument("phone", help="the customer's number, e.g. +573001112233")

    console = commands.add_parser("console", help="the web console")
    console_commands = console.add_subparsers(dest="console_command", required=True, metavar="COMMAND")
    link = console_commands.add_parser(
        "link", help="print a single-use sign-in link for one advisor (valid 15 minutes)"
    )
    link.add_argument("advisor", help="the advisor's id or Twilio number")
    link.add_argument(
        "--base-url",
        help="the server's address as the advisor's browser reaches it; default PUBLIC_BASE_URL, "
        "else the port `advisor-bot serve` listens on here, else http://localhost:$PORT (8000)",
    )

    simulate = commands.add_parser(
        "simulate", help="post a signed Twilio-style message to a running server, print the reply"
    )
    simulate.add_argument("--to", required=True, help="the advisor's Twilio WhatsApp number")
    simulate.add_argument("--from", dest="from_", required=True, help="the customer's number")
    simulate.add_argument("text", help="the customer's message")
    simulate.add_argument(
        "--port",
        type=int,
        help="the server's port (default $PORT, else the port `advisor-bot serve` listens on here, "
        "else 8000)",
    )
    simulate.add_argument(
        "--url",
        help="the server's address, e.g. https://bot.example.com (the webhook path is added); "
        "default http://127.0.0.1:PORT",
    )
    simulate.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a reply")
    return parser


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError("a score is between 0 and 1")
    return share


def _positive(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return int(value)


def _memory_tokens(value: str) -> int:
    tokens = _positive(value)
    if not 256 <= tokens <= 1_000_000:
        raise argparse.ArgumentTypeError("the AI memory is between 256 and 1000000 tokens (AI_MEMORY_TOKENS)")
    return tokens


def _default_port() -> int:
    value = os.environ.get("PORT", "")
    return int(value) if value.isascii() and value.isdigit() else 8000


def settings_errors(error: ValidationError) -> list[str]:
    """One line per bad setting: its environment name, what is wrong, and the value unless secret."""
    lines = []
    for problem in error.errors():
        message = str(problem["msg"]).removeprefix("Value error, ")
        if not problem["loc"]:  # a rule across settings: its message names them
            lines.append(message)
            continue
        name = str(problem["loc"][0])
        shown = "" if any(hint in name for hint in _SECRET_HINTS) else f" (got {problem.get('input')!r})"
        lines.append(f"setting {name.upper()}: {message}{shown}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = _parser().parse_args(argv)
    port = getattr(args, "port", None)
    if port is not None and not 1 <= port <= 65535:  # the OS would bind 99999 modulo 65536
        return fail(f"--port {port} is not a port: use 1 to 65535", 2)
    try:
        settings = Settings()
    except ValidationError as error:
        for line in settings_errors(error):
            fail(line)
        return 2
    configure_logging(settings)
    try:
        return _run(args, settings)
    except DatabaseSettingError as error:
        return fail(str(error), 2)
    except (AdoptionError, MigrationError) as error:  # at the start of serve or worker
        return fail(upgrade_stopped(error))
    except DATABASE_UNAVAILABLE as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return fail(
            f"cannot reach the database: {reason}. Check DATABASE_URL and that PostgreSQL is running."
        )
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as error:
        if args.command == "db":  # never "run db upgrade" to the command that just ran it
            reason = str(error).strip().splitlines()[0]
            return fail(
                f"the database's tables are not advisor-bot's as expected ({reason}); "
                "nothing more was changed"
            )
        return fail(
            "this database lacks advisor-bot's tables, or has older ones: run `advisor-bot db upgrade`"
        )


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli import db, server

    if args.command in ("serve", "worker"):
        from bot.infra.pricing import Pricing, PricingError

        try:  # a rate card or price list that cannot be read stops the start, not the first send
            Pricing.from_settings(settings)
        except PricingError as error:
            return fail(str(error), 2)
    if args.command == "serve":
        return server.serve(
            settings, args.host, args.port, run_worker=not args.no_worker, workers=max(1, args.workers)
        )
    if args.command == "worker":
        if args.processes < 1:
            return fail(f"--processes {args.processes}: at least 1", 2)
        if args.processes > 1:
            from bot.cli.worker_processes import run_processes

            return server.run_on_fast_loop(run_processes(settings, args.processes))
        return server.run_on_fast_loop(server.worker(settings))
    if args.command == "db" and args.db_command == "upgrade":
        return asyncio.run(
            db.db_upgrade(
                settings, dry_run=args.dry_run, drop=args.drop_backups, legacy_advisor=args.legacy_advisor
            )
        )
    if args.command == "db" and args.db_command == "seed":
        return asyncio.run(db.db_seed(settings, args.file, if_empty=args.if_empty))
    if args.command == "advisors":
        return asyncio.run(_advisors(args, settings))
    if args.command == "knowledge":
        from bot.cli import knowledge

        if args.knowledge_command == "add":
            return asyncio.run(knowledge.add(settings, args.advisor, args.files))
        if args.knowledge_command == "list":
            return asyncio.run(knowledge.list_documents(settings, args.advisor))
        return asyncio.run(knowledge.remove(settings, args.document_id))
    if args.command == "import":
        from bot.cli import importing

        if args.import_command == "mappings":
            return asyncio.run(importing.import_mappings(settings, args.file, dry_run=args.dry_run))
        return asyncio.run(
            importing.import_profiles_files(settings, args.advisor, args.files, dry_run=args.dry_run)
        )
    if args.command == "eval":
        from bot.cli.evaluation import EvalRequest, evaluate

        return evaluate(
            settings,
            EvalRequest(
                scenarios_path=args.scenarios,
                model=args.model,
                base_url=args.base_url,
                only=args.only,
                report_path=args.report,
                html_path=args.html,
                fail_under=args.fail_under,
                repeat=args.repeat,
                database_url=args.database_url,
                memory_tokens=args.memory_tokens,
                judge_model=args.judge_model,
                judge_base_url=args.judge_base_url,
                judge_weight=args.judge_weight,
                simulate_customers=args.simulate_customers,
                customer_model=args.customer_model,
            ),
        )
    if args.command == "tokenizer":
        from bot.cli import tokenizer

        return tokenizer.fetch(settings)
    if args.command == "customers":
        from bot.cli import customers

        return asyncio.run(customers.erase(settings, args.advisor, args.phone))
    if args.command == "console":
        from bot.cli import advisors

        return asyncio.run(
            advisors.console_link(
                settings, args.advisor, base_url=args.base_url, default_port=_default_port()
            )
        )
    if args.command == "simulate":
        from bot.cli.simulate import simulate

        port = args.port or (_default_port() if os.environ.get("PORT") else None)
        url = (args.url or (f"http://127.0.0.1:{port}" if port else "")).rstrip("/") or None
        return asyncio.run(
            simulate(settings, to=args.to, from_=args.from_, text=args.text, url=url, timeout=args.timeout)
        )
    return 2


async def _advisors(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli import advisors

    command = args.advisors_command
    if command == "list":
        return await advisors.list_advisors(settings)
    if command == "add":
        return await advisors.add(
            settings, name=args.name, phone=args.phone, twilio_number=args.twilio_number
        )
    if command in ("activate", "deactivate"):
        return await advisors.set_activity(settings, args.advisor, active=command == "activate")
    if command == "token":
        return await advisors.token(settings, args.advisor, label=args.label)
    if args.tokens_command == "list":
        return await advisors.tokens_list(settings, args.advisor)
    return await advisors.tokens_revoke(settings, args.token_id, advisor_ref=args.advisor)
