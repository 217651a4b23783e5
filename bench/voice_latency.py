"""Voice benchmark: what transcription and synthesis add to a reply, against instant local fakes.

Run: `.venv/bin/python -m bench.voice_latency`. The server (`create_app`, in-process worker, embedded
PostgreSQL in a temporary folder) runs on a loopback port; the fakes of Twilio, its media CDN and
OpenAI answer at once, so the figures are this server's own added work: download, transcription
round trip, synthesis round trip, publishing the file and Twilio fetching it. Each path is timed
from the signed webhook to the reply accepted by the fake Twilio. Results replace the matching
section of docs/benchmarks.md.
"""

from __future__ import annotations

import socket
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from twilio.request_validator import RequestValidator

from bench.docs import machine_line, measured_at, replace_section
from bot.app import create_app
from bot.infra.database import resolve_database
from bot.migrations import upgrade
from bot.settings import Settings
from tests.fakes import start_fake_media_host, start_fake_openai, start_fake_twilio

ROOT = Path(__file__).resolve().parents[1]
VOICE_NOTE = (ROOT / "tests" / "fixtures" / "audio" / "voice-note-es.ogg").read_bytes()
TOKEN = "bench-auth-token-0123456789"
ACCOUNT = "AC" + "1" * 32
ADVISOR = "+14155238886"
ROUNDS = 80


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _hostport(url: str) -> str:
    parts = httpx.URL(url)
    return f"{parts.host}:{parts.port}"


def main() -> int:
    import asyncio

    twilio, cdn, model = start_fake_twilio(), start_fake_media_host(), start_fake_openai()
    twilio.media_redirect, twilio.auth_token = cdn.url, TOKEN
    cdn.files["ME1"] = (VOICE_NOTE, "audio/ogg")
    model.speech_audio = VOICE_NOTE
    with tempfile.TemporaryDirectory(prefix="advisor-bot-voice-bench-") as folder:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            embedded_data_dir=Path(folder) / "pgdata",
            media_dir=Path(folder) / "media",
            public_base_url=base,
            twilio_account_sid=ACCOUNT,
            twilio_auth_token=TOKEN,
            twilio_api_base_url=twilio.url,
            twilio_media_hosts=_hostport(twilio.url),
            media_cdn_hosts=_hostport(cdn.url),
            openai_api_key="sk-bench",
            openai_base_url=model.url,
            openai_model="fake-model",
            debounce_seconds=0,
            log_level="WARNING",
        )
        database = resolve_database(settings)
        asyncio.run(upgrade(database))
        with psycopg.connect(database.conninfo, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO advisors (name, phone_number, twilio_phone_number, settings) "
                "VALUES ('Ana', '+573005550001', %s, '{\"audio_reciprocal\": false}')",
                (ADVISOR,),
            )
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            results = {name: _measure(base, twilio, name, db=database.conninfo) for name in PATHS}
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            for fake in (twilio, cdn, model):
                assert fake.server is not None
                fake.server.close()
    _write(results)
    for name, row in results.items():
        print(name, row)
    return 0


PATHS = {
    "text in, text out": {"voice_in": False, "audio": False},
    "voice note in, text out": {"voice_in": True, "audio": False},
    "text in, voice note out": {"voice_in": False, "audio": True},
    "voice note in, voice note out": {"voice_in": True, "audio": True},
}


def _measure(base: str, twilio: Any, name: str, *, db: str) -> dict[str, float]:
    path = PATHS[name]
    url = base + "/webhooks/twilio"
    validator = RequestValidator(TOKEN)
    timings = []
    for round_number in range(ROUNDS):
        customer = f"+5731{abs(hash(name)) % 1000:03d}{round_number:05d}"
        with psycopg.connect(db, autocommit=True) as conn:  # each round: a fresh customer, audio as asked
            conn.execute(
                "INSERT INTO chat_history (advisor_id, phone_number, audio_available) "
                "SELECT id, %s, %s FROM advisors WHERE twilio_phone_number = %s",
                (customer, path["audio"], ADVISOR),
            )
        sid = "SM" + uuid.uuid4().hex
        form = {
            "AccountSid": ACCOUNT,
            "From": f"whatsapp:{customer}",
            "To": f"whatsapp:{ADVISOR}",
            "MessageSid": sid,
            "NumMedia": "0",
            "Body": "Hola, ¿cuánto cuesta?",
        }
        if path["voice_in"]:
            form.update(
                Body="",
                NumMedia="1",
                MediaContentType0="audio/ogg",
                MediaUrl0=f"{twilio.url}/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media/ME1",
            )
        before = len(twilio.sent)
        started = time.perf_counter()
        response = httpx.post(
            url, data=form, headers={"X-Twilio-Signature": validator.compute_signature(url, form)}
        )
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + 30
        while len(twilio.sent) == before:
            if time.monotonic() > deadline:
                raise SystemExit(f"no reply for {name}")
            time.sleep(0.002)
        timings.append((time.perf_counter() - started) * 1000)
        first = twilio.sent[before]
        if bool(first.media_url) != path["audio"]:  # the path measured must be the path named
            raise SystemExit(f"{name}: expected {'a voice note' if path['audio'] else 'text'} first")
    ordered = sorted(timings)
    return {"median": statistics.median(timings), "p95": ordered[int(0.95 * (len(ordered) - 1))]}


def _write(results: dict[str, dict[str, float]]) -> None:
    baseline = results["text in, text out"]["median"]
    rows = "\n".join(
        f"| {name} | {row['median']:.1f} | {row['p95']:.1f} | {row['median'] - baseline:+.1f} |"
        for name, row in results.items()
    )
    replace_section(
        "voice-latency",
        f"""
## Voice paths: added latency

The advisor's `audio_reciprocal` is off, so each path's voice preference is exactly as set.
From the signed webhook to the reply accepted by the fake Twilio (`DEBOUNCE_SECONDS=0`), {ROUNDS}
rounds per path, each from a new customer. The fakes of Twilio, its media CDN and OpenAI answer
at once, so the differences are this server's own work: media download with the redirect,
transcription and synthesis round trips (a 6 KB OGG/Opus voice note each way), writing the file
and Twilio fetching it from `/media`. A real model's seconds come on top.

Command: `.venv/bin/python -m bench.voice_latency`.
{machine_line()} Measured: {measured_at()}.

| path | median ms | p95 ms | added to text median, ms |
|---|---|---|---|
{rows}

Media folder: voice replies are files in `MEDIA_DIR` named by 32 random characters; links are
signed (HMAC-SHA256 over name and expiry) and expire after `MEDIA_LINK_TTL_SECONDS` (24 h); an
hourly job deletes files older than `MEDIA_RETENTION_HOURS` (48 h), so the folder holds about
two days of voice replies.
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
