"""Cost per message, counted: database statements, CPU milliseconds and answered messages per
second, for this tree and (with BENCH_BASELINE=<git revision>) the code before a change, in one run.

Run: `.venv/bin/python -m bench.cost`, or `BENCH_BASELINE=4504ef7 .venv/bin/python -m bench.cost`
to measure that revision first, on the same machine, in the same run (its source is exported to a
temporary folder and run with this virtual environment). Each measurement starts web
(`advisor-bot serve --no-worker`) and worker (`advisor-bot worker`) as separate processes, as in
production, on a fresh embedded PostgreSQL, with the local fake model (answers at once) and fake
Twilio.

1. Statements and CPU: 200 messages from 200 customers at 20/s, each answered. PostgreSQL logs
   every statement (log_statement=all) with the connection's application_name ("advisor-bot app"
   for the webhook; "advisor-bot worker" / "checkpointer" / "queue" for the worker): statements are
   counted in that log, not estimated. CPU is read from /proc (psutil) for the web process, the
   worker process and the PostgreSQL backends of each side, before and after.
2. Answered per second: with the worker stopped, BENCH_BACKLOG messages (default 3,000) from as
   many customers are accepted; then the worker starts and drains them. The rate is counted between
   the first and the last reply that the fake Twilio receives; the worker's CPU seconds over the
   same span give the answers per second per core (what one core answers when busy).
3. For this tree, the same drain once more with `advisor-bot worker --processes BENCH_PROCESSES`
   (default 2, one per core here), its children's CPU added up.
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg

from bench.docs import machine_line, measured_at, replace_section
from bench.server import (
    ADVISORS,
    ROOT,
    bench_environment,
    compared_trees,
    database_url,
    running_server,
    running_worker,
)
from bench.services import Services, local_services
from bench.wrk import run_wrk, write_requests

MESSAGES = 200
BACKLOG = int(os.environ.get("BENCH_BACKLOG", "3000"))
BASELINE = os.environ.get("BENCH_BASELINE", "")
PROCESSES = int(os.environ.get("BENCH_PROCESSES", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ENTRY = re.compile(r"^\d{4}-\d\d-\d\d ")
LINE = re.compile(r"app=(?P<app>.*?) LOG:  (?:statement|execute [^:]*): (?P<sql>.*)", re.DOTALL)
WEB_APPS = ("advisor-bot app",)
WORKER_APPS = ("advisor-bot worker", "advisor-bot checkpointer", "advisor-bot queue")


@dataclass(frozen=True)
class _Drain:
    rate: float  # answered per second
    per_core: float  # answered per CPU second of the worker processes
    cpu_ms: float  # CPU milliseconds per answer


@dataclass
class Cost:
    """What one source tree cost: statements by side, CPU seconds by side, and the drain rate."""

    label: str
    statements: list[tuple[str, str]] = field(default_factory=list)
    replies: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    drains: list[_Drain] = field(default_factory=list)  # one worker, one per round
    processes: list[_Drain] = field(default_factory=list)  # `worker --processes PROCESSES`, per round
    drained: int = 0
    rss_mib: dict[str, float] = field(default_factory=dict)

    def median(self, what: str, of: str = "drains") -> float:
        return float(statistics.median(getattr(drain, what) for drain in getattr(self, of)))

    def spread(self, what: str, of: str = "drains") -> str:
        values = [getattr(drain, what) for drain in getattr(self, of)]
        return f"{min(values):.1f}–{max(values):.1f}" if len(values) > 1 else ""

    def web(self) -> list[str]:
        return [sql for app, sql in self.statements if app in WEB_APPS]

    def worker(self) -> list[str]:
        """The reply path's statements: worker, checkpointer and queue bookkeeping, polls excluded."""
        return [sql for app, sql in self.statements if app in WORKER_APPS and not _is_poll(sql)]

    def polls(self) -> int:
        return sum(1 for app, sql in self.statements if app in WORKER_APPS and _is_poll(sql))


def _is_poll(sql: str) -> bool:
    """A fetch of due jobs: procrastinate's own, or the worker's batch of them (sql/0033)."""
    return "procrastinate_fetch_job" in sql or "advisor_bot_fetch_jobs" in sql


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
        "procrastinate_defer",
        "procrastinate_finish_job",
        "advisor_bot_finish_and_fetch",
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


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _backend_cpu(conn: psycopg.Connection[Any]) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each PostgreSQL backend serving the server, by pid, with its side."""
    rows = conn.execute(
        "SELECT pid, application_name FROM pg_stat_activity WHERE backend_type = 'client backend'"
    ).fetchall()
    found: dict[int, tuple[str, float]] = {}
    for pid, app in rows:
        side = "web" if app in WEB_APPS else "worker" if app in WORKER_APPS else None
        if side is None:
            continue
        try:
            found[pid] = (side, _cpu_seconds(psutil.Process(pid)))
        except psutil.NoSuchProcess:
            continue
    return found


@dataclass
class _CpuMeter:
    """CPU used between `start` and `stop` by the web and worker processes and their backends."""

    conn: psycopg.Connection[Any]
    web: psutil.Process
    worker: psutil.Process
    before: dict[str, float] = field(default_factory=dict)
    backends: dict[int, tuple[str, float]] = field(default_factory=dict)

    def start(self) -> None:
        self.before = {"web": _cpu_seconds(self.web), "worker": _cpu_seconds(self.worker)}
        self.backends = _backend_cpu(self.conn)

    def stop(self) -> dict[str, float]:
        used = {
            "web process": _cpu_seconds(self.web) - self.before["web"],
            "worker process": _cpu_seconds(self.worker) - self.before["worker"],
            "web PostgreSQL": 0.0,
            "worker PostgreSQL": 0.0,
        }
        for pid, (side, seconds) in _backend_cpu(self.conn).items():
            used[f"{side} PostgreSQL"] += seconds - self.backends.get(pid, (side, 0.0))[1]
        return used


def _wait_for_inbound(conn: psycopg.Connection[Any], count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stored = conn.execute("SELECT count(*) FROM messages WHERE direction = 'inbound'").fetchone()
        if stored and stored[0] >= count:
            return
        time.sleep(0.2)
    raise SystemExit(f"fewer than {count} messages accepted within {timeout:.0f} s")


def _worker_cpu(worker: psutil.Process) -> float:
    """CPU seconds of a worker and its children (`worker --processes N` answers in children)."""
    total = _cpu_seconds(worker)
    for child in worker.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += _cpu_seconds(child)
    return total


def _drain(
    services: Services, conn: psycopg.Connection[Any], worker: psutil.Process, before: int, count: int
) -> _Drain:
    """Answered per second between the first and the last of `count` new replies, and their CPU.

    The CPU is read once the first reply has arrived (start-up and imports are not answering)
    and again after the last; the answers between the two readings are counted.
    """
    deadline = time.monotonic() + 900
    while len(services.twilio.sent) <= before and time.monotonic() < deadline:
        time.sleep(0.02)
    first_cpu, first_count = _worker_cpu(worker), len(services.twilio.sent)
    services.wait_for_replies(conn, before + count, timeout=900, poll=0.05)
    cpu = _worker_cpu(worker) - first_cpu
    answered = before + count - first_count
    times = services.twilio.attempt_times[before : before + count]
    return _Drain(
        rate=(len(times) - 1) / (times[-1] - times[0]),
        per_core=answered / cpu,
        cpu_ms=1000 * cpu / answered,
    )


def _backlog(
    folder: str, services: Services, conn: psycopg.Connection[Any], webhook: str, name: str, total: int
) -> None:
    """With no worker running, BACKLOG new customers each write once (accepted, not answered)."""
    backlog = write_requests(Path(folder) / f"{name}.txt", webhook, BACKLOG, customers=BACKLOG)
    run_wrk(webhook, backlog, rate=250, seconds=BACKLOG / 250 + 2, connections=16)  # repeats: duplicates
    _wait_for_inbound(conn, total, timeout=60)


def measure(code: Path, label: str) -> Cost:
    """Statements, CPU and the drain rate of the source tree `code`."""
    cost = Cost(label)
    with tempfile.TemporaryDirectory(prefix="advisor-bot-cost-") as folder, local_services() as services:
        env = {**bench_environment(folder, code), **services.environment()}
        url = database_url(folder)
        log = Path(folder).resolve() / "pgdata" / "log"
        with (
            running_server(folder, env, ["--no-worker"]) as base,
            psycopg.connect(url, autocommit=True, application_name="bench") as conn,
        ):
            web = psutil.Process(int(Path(folder, "server.pid").read_text()))
            webhook = base + "/webhooks/twilio"
            with running_worker(folder, env) as worker_process:
                worker = psutil.Process(worker_process.pid)
                time.sleep(4)  # both started and idle
                _logging(url, True)
                time.sleep(1)
                meter = _CpuMeter(conn, web, worker)
                offset = log.stat().st_size
                meter.start()
                requests = write_requests(
                    Path(folder) / "requests.txt", webhook, MESSAGES, customers=MESSAGES
                )
                run_wrk(webhook, requests, rate=20, seconds=MESSAGES / 20, connections=4)
                services.wait_for_replies(conn, MESSAGES, timeout=120, poll=0.2)
                cost.cpu = meter.stop()
                time.sleep(1)
                _logging(url, False)
                with log.open() as handle:
                    handle.seek(offset)
                    cost.statements = _entries(handle.readlines())
                cost.replies = len(services.twilio.sent)
    print(label, f"{len(cost.web()) / MESSAGES:.2f}", f"{len(cost.worker()) / cost.replies:.2f}", flush=True)
    print(label, cost.cpu, flush=True)
    return cost


def drain_round(code: Path, label: str, cost: Cost) -> None:
    """One round of drains on a fresh database: one worker, then (this tree) `--processes`.

    With the worker stopped, BACKLOG new customers each write once; then a worker starts and
    answers them all.
    """
    with tempfile.TemporaryDirectory(prefix="advisor-bot-drain-") as folder, local_services() as services:
        env = {**bench_environment(folder, code), **services.environment()}
        with (
            running_server(folder, env, ["--no-worker"]) as base,
            psycopg.connect(database_url(folder), autocommit=True, application_name="bench") as conn,
        ):
            webhook = base + "/webhooks/twilio"
            _backlog(folder, services, conn, webhook, "backlog", BACKLOG)
            with running_worker(folder, env) as worker_process:
                worker = psutil.Process(worker_process.pid)
                cost.drains.append(_drain(services, conn, worker, 0, BACKLOG))
                web = psutil.Process(int(Path(folder, "server.pid").read_text()))
                cost.rss_mib = {
                    "web": web.memory_info().rss / 2**20,
                    "worker": worker.memory_info().rss / 2**20,
                }
            if code == ROOT and PROCESSES > 1:  # the option is this tree's: the baseline has none
                _backlog(folder, services, conn, webhook, "backlog2", 2 * BACKLOG)
                with running_worker(folder, env, ["--processes", str(PROCESSES)]) as worker_process:
                    process = psutil.Process(worker_process.pid)
                    cost.processes.append(_drain(services, conn, process, BACKLOG, BACKLOG))
    last = cost.drains[-1]
    print(label, f"drain {last.rate:.1f}/s, {last.per_core:.1f}/core-s, {last.cpu_ms:.2f} ms", flush=True)


def main() -> int:
    with compared_trees(BASELINE) as trees:
        costs = [measure(code, label) for code, label in trees]
        for _ in range(ROUNDS):  # interleaved, so a slow minute of the machine hits both trees
            for (code, label), cost in zip(trees, costs, strict=True):
                drain_round(code, label, cost)
    _write(costs)
    return 0


def _columns(costs: list[Cost], value: Any) -> str:
    return " | ".join(value(cost) for cost in costs)


def _kinds_table(costs: list[Cost], statements: Any, per: Any, limit: int) -> str:
    counts = [Counter(_kind(sql) for sql in statements(cost)) for cost in costs]
    union = Counter[str]()
    for count in counts:
        union.update(count)
    return "\n".join(
        f"| {kind} | "
        + " | ".join(f"{count[kind] / per(cost):.2f}" for count, cost in zip(counts, costs, strict=True))
        + " |"
        for kind, _ in union.most_common(limit)
    )


def _pairs(costs: list[Cost]) -> str:
    """Per core, this tree over the earlier one, round by round (the rounds ran back to back)."""
    if len(costs) != 2:
        return ""
    before, after = costs
    ratios = [late.per_core / early.per_core for early, late in zip(before.drains, after.drains, strict=True)]
    listed = ", ".join(f"{ratio:.2f} ×" for ratio in ratios)
    median = statistics.median(ratios)
    return f"Per core, round by round ({after.label} over {before.label}): {listed}; median {median:.2f} ×.\n"


def _write(costs: list[Cost]) -> None:
    header = "| | " + _columns(costs, lambda c: c.label) + " |\n|---|" + "---|" * len(costs)

    def row(name: str, value: Any) -> str:
        return f"| {name} | {_columns(costs, value)} |"

    def cpu_ms(cost: Cost, side: str, per: int) -> str:
        return f"{1000 * cost.cpu[side] / per:.2f}"

    summary = "\n".join(
        [
            header,
            row("statements per inbound message (webhook)", lambda c: f"**{len(c.web()) / MESSAGES:.2f}**"),
            row(
                "statements per reply (worker, checkpointer, queue)",
                lambda c: f"**{len(c.worker()) / c.replies:.2f}**",
            ),
            row("queue polls per reply (not counted above)", lambda c: f"{c.polls() / c.replies:.2f}"),
            row("CPU ms per inbound: web process", lambda c: cpu_ms(c, "web process", MESSAGES)),
            row(
                "CPU ms per inbound: its PostgreSQL backends", lambda c: cpu_ms(c, "web PostgreSQL", MESSAGES)
            ),
            row("CPU ms per reply: worker process", lambda c: cpu_ms(c, "worker process", c.replies)),
            row(
                "CPU ms per reply: its PostgreSQL backends",
                lambda c: cpu_ms(c, "worker PostgreSQL", c.replies),
            ),
            row(
                f"answered per second, one worker draining {BACKLOG:,} (median of {ROUNDS}; range)",
                lambda c: f"**{c.median('rate'):.1f}** ({c.spread('rate')})",
            ),
            row(
                "answered per CPU second of the worker (per core), same drains",
                lambda c: f"**{c.median('per_core'):.1f}** ({c.spread('per_core')})",
            ),
            row("worker CPU ms per answer, same drains", lambda c: f"{c.median('cpu_ms'):.2f}"),
            row(
                f"answered per second / per core, `worker --processes {PROCESSES}` draining {BACKLOG:,}",
                lambda c: (
                    "(no such option)"
                    if not c.processes
                    else f"**{c.median('rate', 'processes'):.1f}** / {c.median('per_core', 'processes'):.1f}"
                ),
            ),
            row(
                "advisor look-ups from the database (of 200)",
                lambda c: str(
                    sum(1 for s in c.web() if s.startswith("SELECT") and "FROM advisors WHERE" in s)
                ),
            ),
            row(
                "resident memory after the last drain, web / worker (MiB)",
                lambda c: f"{c.rss_mib['web']:.0f} / {c.rss_mib['worker']:.0f}",
            ),
        ]
    )
    labels = " | ".join(cost.label for cost in costs)
    divider = "|---|" + "---|" * len(costs)
    command = (
        f"BENCH_BASELINE={BASELINE} .venv/bin/python -m bench.cost"
        if BASELINE
        else ".venv/bin/python -m bench.cost"
    )
    replace_section(
        "cost",
        f"""
## 4. Cost per message, counted

Command: `{command}` (part of `make bench`; with `BENCH_BASELINE=<git revision>` it measures that
revision first, in the same run). {machine_line()} Measured: {measured_at()}. Web
(`advisor-bot serve --no-worker`) and worker (`advisor-bot worker`) as separate processes on a fresh
embedded PostgreSQL, fake model answering at once, fake Twilio. {MESSAGES} messages from {MESSAGES}
customers to the {len(ADVISORS)} seeded advisors at 20/s, each answered by the AI: every statement
PostgreSQL received was logged (`log_statement=all`) with its connection's `application_name` and
counted; CPU is the processes' and their PostgreSQL backends' user + system time over that phase
(idle polling included). Then {ROUNDS} rounds, the trees taking turns, each on a fresh database:
with no worker running, {BACKLOG:,} new customers each write once, and one worker
(`WORKER_CONCURRENCY` default) drains the backlog. Answered per second is counted between the
first and the last reply Twilio receives; per core is the answers over that span divided by the
worker's CPU seconds over it (what one busy core answers a second). For this tree each round
drains a second backlog with `advisor-bot worker --processes {PROCESSES}` (its children's CPU
added up; the earlier tree has no such option). Medians of the rounds, with their range.

{summary}

{_pairs(costs)}
Webhook statements per inbound message, by kind:

| statement | {labels} |
{divider}
{_kinds_table(costs, Cost.web, lambda c: MESSAGES, 12)}

Worker statements per reply, by kind (queue polls not included; several statements sent as one
query string, as the turn's end is, are logged and counted as one):

| statement | {labels} |
{divider}
{_kinds_table(costs, Cost.worker, lambda c: c.replies, 16)}
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
