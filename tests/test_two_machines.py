"""Web and worker as on two machines: separate processes, separate working directories, one
PostgreSQL. A voice reply the worker made is served by the web process; a text reply arrives.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.cli.simulate import signed_form
from bot.settings import Settings
from tests.conftest import AUTH_TOKEN, Db, wait_for
from tests.fakes import FakeOpenAI, FakeTwilio
from tests.live import ROOT, free_port, process_environment

VOICE_NOTE = (ROOT / "tests" / "fixtures" / "audio" / "voice-note-es.ogg").read_bytes()
VOICE_ADVISOR, TEXT_ADVISOR = "+14155238886", "+14155238887"


@pytest.fixture
def machines(
    make_settings: Callable[..., Settings], tmp_path: Path, fake_openai: FakeOpenAI
) -> Iterator[str]:
    """`serve --no-worker` in one directory, `worker` in another; yields the web's address."""
    fake_openai.speech_audio = VOICE_NOTE
    port = free_port()
    processes = []
    for name, command in (("web", ["serve", "--no-worker", "--port", str(port)]), ("worker", ["worker"])):
        folder = tmp_path / name
        folder.mkdir()
        log = (folder / "log").open("w")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *command],
                cwd=folder,
                env=process_environment(make_settings(), folder, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}"),
                stdout=log,
                stderr=log,
            )
        )
    base = f"http://127.0.0.1:{port}"

    def web_ready() -> bool:
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(web_ready, timeout=60, what="the web process")
        yield base
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _post(base: str, to: str, customer: str, text: str) -> None:
    url = f"{base}/webhooks/twilio"
    form, signature = signed_form(url=url, auth_token=AUTH_TOKEN, to=to, from_=customer, text=text)
    response = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert response.status_code == 200, response.text


def test_a_voice_reply_made_by_the_worker_is_served_by_the_web_process_on_another_machine(
    db: Db, fake_twilio: FakeTwilio, machines: str
) -> None:
    db.add_advisor("Ana", VOICE_ADVISOR, settings='{"audio_default": true}', phone="+573009990001")
    db.add_advisor("Bruno", TEXT_ADVISOR, phone="+573009990002")
    _post(machines, VOICE_ADVISOR, "+573001112233", "Hola, ¿cómo va?")
    _post(machines, TEXT_ADVISOR, "+573001112244", "Hola Bruno")
    wait_for(lambda: fake_twilio.media_fetches, timeout=60, what="Twilio fetching the voice note")
    url, status, data = fake_twilio.media_fetches[0]
    assert url.startswith(machines + "/media/") and status == 200 and data == VOICE_NOTE
    wait_for(lambda: fake_twilio.bodies_to("+573001112244"), timeout=60, what="the text reply")
    assert fake_twilio.bodies_to("+573001112244") == ["Respuesta a: Hola Bruno"]
    stored = db.query("SELECT count(*) AS n FROM media_files")[0]["n"]
    assert stored == 1
