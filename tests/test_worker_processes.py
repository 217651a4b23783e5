"""`advisor-bot worker --processes 2` end to end: two children answer, the parent alone serves the
added-up metrics and upgraded the schema, a signal stops them all, and a child that dies is replaced."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import Db, inbound_form, signed_post, wait_for
from tests.fakes import FakeTwilio
from tests.live import free_port, process_environment

ADVISOR = "+14155238886"


def _children(parent: psutil.Process) -> list[psutil.Process]:
    """The parent's live worker children (one just killed may linger as a zombie until reaped)."""
    found = []
    for child in parent.children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "bot.cli" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _answered_jobs(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("advisor_bot_jobs_total{") and 'task="answer_conversation"' in line
    )


def test_two_worker_processes_answer_report_as_one_and_stop_together(
    make_settings: Callable[..., Settings], db: Db, fake_twilio: FakeTwilio, tmp_path: Path
) -> None:
    db.add_advisor("Ana", ADVISOR, phone="+573009990001")
    settings = make_settings()
    port = free_port()
    log = (tmp_path / "worker.log").open("w")
    parent = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker", "--processes", "2"],
        cwd=tmp_path,
        env=process_environment(settings, tmp_path, WORKER_METRICS_PORT=str(port)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        supervisor = psutil.Process(parent.pid)
        wait_for(lambda: len(_children(supervisor)) == 2, timeout=60, what="two worker processes")
        children = _children(supervisor)
        for child in children:
            assert child.environ()["ADVISOR_BOT_WORKER_PARENT"] == str(parent.pid)
            assert "WORKER_METRICS_PORT" not in child.environ()  # only the parent serves metrics
        # Both children are up: each registered its two queue workers (answers, events).
        wait_for(
            lambda: db.query("SELECT count(*) AS n FROM procrastinate_workers")[0]["n"] >= 4,
            timeout=60,
            what="both children's queue workers",
        )
        customers = [f"+5730011100{n:02d}" for n in range(20)]
        with TestClient(create_app(settings, run_worker=False)) as web:
            for customer in customers:
                assert signed_post(web, inbound_form(ADVISOR, customer, "Hola")).status_code == 200
            wait_for(
                lambda: all(fake_twilio.bodies_to(customer) for customer in customers),
                timeout=90,
                what="every customer answered",
            )

        def scraped() -> str | None:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            return text if _answered_jobs(text) >= len(customers) else None

        metrics = wait_for(scraped, timeout=30, what="the parent's metrics adding up both children's jobs")
        assert _answered_jobs(metrics) >= len(customers)
        # A child that dies is replaced; the others keep answering.
        children[0].kill()
        wait_for(
            lambda: (
                len(_children(supervisor)) == 2
                and children[0].pid not in {c.pid for c in _children(supervisor)}
            ),
            timeout=60,
            what="a new child in place of the killed one",
        )
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=60) == 0
        assert not any(
            child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children[1:]
        )
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
    output = (tmp_path / "worker.log").read_text()
    assert output.count("worker running; Ctrl+C") >= 2  # each child said so
    assert "2 worker processes running" in output
    assert "a worker process stopped by itself; starting another" in output


def test_children_stop_when_their_parent_is_killed(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """A parent killed without passing a signal on leaves no worker answering unseen."""
    parent = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker", "--processes", "2"],
        cwd=tmp_path,
        env=process_environment(make_settings(), tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        supervisor = psutil.Process(parent.pid)
        wait_for(lambda: len(_children(supervisor)) == 2, timeout=60, what="two worker processes")
        children = _children(supervisor)
    finally:
        parent.kill()
        parent.wait(timeout=10)
    wait_for(
        lambda: not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children),
        timeout=30,
        what="the orphaned children stopping",
    )
