"""Crash safety: `advisor-bot worker` processes are SIGKILLed at random points while they answer.

Two real worker processes share the queue, as in a scaled-out deployment. Customer messages keep
arriving through the signed webhook while, KILLS times, one worker is killed at a random moment
and replaced. The fake model and the fake Twilio both answer slowly, so kills land in every
window: before the model answers, after it answered but before the reply is recorded, and after
Twilio accepted a message but before its SID is stored. Afterwards every accepted customer
message has been answered, and no customer received anything twice.

ADVISOR_BOT_LONG_TESTS=1 kills 200 times instead of 50.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO

import psycopg
from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import LONG_TESTS, Db, inbound_form, signed_post, wait_for, wait_until_all_answered
from tests.fakes import FakeOpenAI, FakeTwilio
from tests.live import process_environment

KILLS = 200 if LONG_TESTS else 50
ADVISOR_NUMBER = "+14155238886"


def _worker_environment(settings: Settings, folder: Path) -> dict[str, str]:
    """The worker's settings as a deployment passes them, with quick heartbeats and retries."""
    return process_environment(
        settings,
        folder,
        TWILIO_TIMEOUT_SECONDS="5",
        JOB_RETRY_BASE_SECONDS="0",
        WORKER_HEARTBEAT_SECONDS="0.2",
        STALLED_WORKER_SECONDS="1",
        MEDIA_DIR=str(folder / "media"),
    )


class Worker:
    """One `advisor-bot worker` process; `ready` once it says it is running."""

    def __init__(self, env: dict[str, str], folder: Path, number: int) -> None:
        self.log: IO[str] = open(folder / f"worker-{number}.log", "w")  # noqa: SIM115 - closed in kill()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker"],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "worker running" in line, f"worker did not start: {line!r}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()


def _send(client: TestClient, customer: str, text: str) -> None:
    response = signed_post(client, inbound_form(ADVISOR_NUMBER, customer, text))
    assert response.status_code == 200, response.text


def test_every_accepted_message_is_answered_once_across_random_sigkills(
    db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI, make_settings, tmp_path: Path
) -> None:
    advisor_id = db.add_advisor("Ana", ADVISOR_NUMBER)
    settings = make_settings()
    env = _worker_environment(settings, tmp_path)
    fake_openai.latency = 0.15
    fake_twilio.latency = 0.1
    chooser = random.Random(os.environ.get("ADVISOR_BOT_KILL_SEED", str(time.time_ns())))
    sent_texts: dict[str, list[str]] = {}
    counter = 0
    with TestClient(create_app(settings, run_worker=False)) as client:
        workers = [Worker(env, tmp_path, n) for n in range(2)]
        for worker in workers:
            worker.wait_ready()
        for kill in range(KILLS):
            # New conversations and follow-ups in old ones arrive between the kills.
            for _ in range(2):
                counter += 1
                customer = f"+5730010{chooser.randrange(40):05d}"
                text = f"mensaje {counter}"
                _send(client, customer, text)
                sent_texts.setdefault(customer, []).append(text)
            time.sleep(chooser.uniform(0.0, 0.5))
            victim = chooser.randrange(2)
            workers[victim].kill()
            workers[victim] = Worker(env, tmp_path, 2 + kill)
            workers[victim].wait_ready()
        # Let the survivors finish: every accepted message must get its reply.
        wait_until_all_answered(db, timeout=120, what="every message to be answered after the last kill")
        for worker in workers:
            worker.kill()

    inbound = db.query("SELECT * FROM messages WHERE direction = 'inbound' ORDER BY id")
    assert len(inbound) == counter
    assert {row["status"] for row in inbound} == {"answered"}
    outbound = db.outbound(advisor_id)
    # Twilio's own answer: `queued` when we stored its reply, `sent` when a retry found it listed.
    assert outbound and {row["status"] for row in outbound} <= {"queued", "sent"}
    assert len({row["twilio_sid"] for row in outbound}) == len(outbound)

    # What the customers received: no message twice, and every text they wrote answered once.
    with fake_twilio.lock:
        deliveries = [(message.to, message.body) for message in fake_twilio.sent]
    assert len(deliveries) == len(outbound)
    duplicates = [item for item, seen in Counter(deliveries).items() if seen > 1]
    assert duplicates == []
    for customer, texts in sent_texts.items():
        answered = " | ".join(fake_twilio.bodies_to(customer))
        for text in texts:
            mentions = re.findall(rf"{re.escape(text)}(?!\d)", answered)
            assert len(mentions) == 1, (customer, text, answered)
    logs = "".join(path.read_text() for path in tmp_path.glob("worker-*.log"))
    sys.stdout.write(  # the figures quoted in docs/benchmarks.md; visible with `pytest -s`
        f"\nkill test: {KILLS} SIGKILLs, {counter} customer messages, {len(outbound)} replies sent, "
        f"{logs.count('requeued stalled jobs')} stalled-job sweeps that requeued work, "
        f"{fake_twilio.list_requests} Twilio message-list look-ups before a resend, "
        f"{len(fake_openai.requests)} model calls\n"
    )


def test_a_reply_the_model_wrote_but_a_killed_worker_never_recorded_is_written_afresh(
    db: Db, fake_twilio: FakeTwilio, fake_openai: FakeOpenAI, make_settings, tmp_path: Path, database_url: str
) -> None:
    """The window between the AI's memory saving an answer and the database recording it.

    The test holds the conversation's row lock, so the worker blocks right after the model
    answered (its checkpoint written) and before the reply is recorded; there it is killed. The
    next worker must not show the model its own unsent answer as if the customer had read it.
    """
    db.add_advisor("Ana", ADVISOR_NUMBER)
    settings = make_settings()
    env = _worker_environment(settings, tmp_path)
    customer = "+573001234567"
    with TestClient(create_app(settings, run_worker=False)) as client:
        worker = Worker(env, tmp_path, 0)
        worker.wait_ready()
        fake_openai.latency = 0.5
        _send(client, customer, "hola, busco apartamento")
        # Locked while the model thinks: taken earlier, the turn's start would be what waits.
        wait_for(lambda: fake_openai.in_flight > 0, what="the model to be asked")
        with psycopg.connect(database_url) as holder:
            holder.execute(
                "SELECT 1 FROM chat_history WHERE phone_number = %s FOR UPDATE", (customer,)
            ).fetchall()
            wait_for(
                lambda: db.waiting_for_locks() > 0,
                what="the worker to wait for the conversation lock after the model answered",
            )
            worker.kill()
            holder.rollback()
        assert len(fake_openai.requests) == 1 and fake_twilio.sent == []
        fake_openai.latency = 0.0
        worker = Worker(env, tmp_path, 1)
        worker.wait_ready()
        wait_for(lambda: fake_twilio.bodies_to(customer), timeout=30, what="the reply after the restart")
        worker.kill()

    assert fake_twilio.bodies_to(customer) == ["Respuesta a: hola, busco apartamento"]
    retried = fake_openai.requests[-1]["messages"]
    assert [message["role"] for message in retried][-1] == "user"
    assert not any(message["role"] == "assistant" for message in retried)
