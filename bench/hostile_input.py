"""Hostile input, before and after issue 23: what a PDF bomb, a huge body and media views cost the server.

Run: `BENCH_BASELINE=612a883 .venv/bin/python -m bench.hostile_input` (without BENCH_BASELINE:
this tree only). Each tree runs `advisor-bot serve --no-worker` as users run it, on its own
embedded PostgreSQL, against local fakes of Twilio and its media CDN, one tree after the other
in one run. Three measures, each bounded in requests and time:

1. webhooks during a knowledge upload of a PDF bomb (a few KB, one 8 MB compressed content
   stream): the slowest of the signed webhooks sent every 100 ms while the upload runs, and
   what the upload answered and when;
2. an anonymous 50 MB body to `/api/conversations` (with its Content-Length): the answer, how
   long it took, and how much the server's resident memory grew;
3. twelve console views (four at a time) of a customer's 16 MB video: how much the server's
   resident memory grew at the peak and after, and how many times the file came from the CDN.

Results replace the `hostile-input` section of docs/benchmarks.md.
"""

from __future__ import annotations

import base64
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.docs import machine_line, measured_at, replace_section
from bench.server import TOKEN, bench_environment, compared_trees, database_url, running_server
from bench.services import Services, local_services
from bot.twilio.simulated import signed_form
from tests.fixtures.pdf import pdf_bomb

ADMIN = "bench-admin-token-0123456789abcdef"
ADVISOR = "+14155238886"  # Ana, of the seed
VIDEO = bytes(range(256)) * (16 * 4096)  # 16 MiB
VIEWS = 12
AT_ONCE = 4
BASELINE = os.environ.get("BENCH_BASELINE")


def _rss_mb(folder: str) -> float:
    pid = Path(folder, "server.pid").read_text().strip()
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _webhook(base: str, n: int, **extra: str) -> httpx.Response:
    url = f"{base}/webhooks/twilio"
    form, signature = signed_form(
        url=url, auth_token=TOKEN, to=ADVISOR, from_=f"+5730077{n:05d}", text="hola", extra=extra
    )
    return httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=60)


def _pdf_bomb_during_webhooks(base: str) -> dict[str, Any]:
    bomb = pdf_bomb(8 * 1024 * 1024)
    answer: dict[str, Any] = {}

    def upload() -> None:
        started = time.monotonic()
        response = httpx.post(
            f"{base}/api/knowledge",
            json={"source": "bomba.pdf", "content_base64": base64.b64encode(bomb).decode(), "shared": True},
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=180,
        )
        answer.update(status=response.status_code, seconds=time.monotonic() - started)

    thread = threading.Thread(target=upload)
    thread.start()
    latencies = []
    n = 0
    while thread.is_alive() and n < 1_500:
        n += 1
        begun = time.monotonic()
        _webhook(base, n)
        latencies.append(time.monotonic() - begun)
        time.sleep(0.1)
    thread.join(timeout=180)
    return {
        "pdf_bytes": len(bomb),
        "upload_status": answer.get("status"),
        "upload_seconds": answer.get("seconds"),
        "webhooks": len(latencies),
        "slowest_webhook_s": max(latencies, default=0.0),
    }


def _huge_body(base: str, folder: str) -> dict[str, Any]:
    before = _rss_mb(folder)
    started = time.monotonic()
    chunk = b" " * (1024 * 1024)

    def body() -> Any:
        for _ in range(50):
            yield chunk

    try:
        response = httpx.post(
            f"{base}/api/conversations/x/messages",
            content=body(),
            headers={"Content-Type": "application/json", "Content-Length": str(50 * 1024 * 1024)},
            timeout=120,
        )
        status: int | str = response.status_code
    except httpx.HTTPError as error:  # the server answered and closed before the body was sent
        status = f"closed ({type(error).__name__})"
    return {
        "status": status,
        "seconds": time.monotonic() - started,
        "rss_growth_mb": _rss_mb(folder) - before,
    }


def _console_cookies(base: str) -> dict[str, str]:
    with httpx.Client(base_url=base, timeout=30) as browser:
        page = browser.get("/console/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        browser.post("/console/login", data={"csrf": csrf, "token": ADMIN})
        return dict(browser.cookies)


def _media_views(base: str, folder: str, services: Services) -> dict[str, Any]:
    services.media.files["MEvideo"] = (VIDEO, "video/mp4")
    _webhook(
        base, 99_999, NumMedia="1", MediaContentType0="video/mp4", MediaUrl0=services.media_url("MEvideo")
    )
    with psycopg.connect(database_url(folder)) as conn:
        row = conn.execute(
            "SELECT conversation_id, id FROM messages WHERE media IS NOT NULL AND media <> '[]'::jsonb "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    url = f"{base}/console/c/{row[0]}/media/{row[1]}/0"
    cookies = _console_cookies(base)
    fetched_before = sum(1 for r in services.media.requests if "MEvideo" in (r["path"] or ""))
    before = _rss_mb(folder)
    sizes: list[int] = []
    peak = before

    def view() -> None:
        with httpx.stream("GET", url, cookies=cookies, timeout=60) as response:
            sizes.append(sum(len(part) for part in response.iter_bytes()))

    for _ in range(VIEWS // AT_ONCE):  # tabs of one office opening it together
        viewers = [threading.Thread(target=view) for _ in range(AT_ONCE)]
        for viewer in viewers:
            viewer.start()
        while any(viewer.is_alive() for viewer in viewers):
            peak = max(peak, _rss_mb(folder))
            time.sleep(0.01)
    return {
        "peak_growth_mb": peak - before,
        "views": VIEWS,
        "bytes_each": sizes[0] if sizes else 0,
        "rss_growth_mb": _rss_mb(folder) - before,
        "cdn_fetches": sum(1 for r in services.media.requests if "MEvideo" in (r["path"] or ""))
        - fetched_before,
    }


def measure(code: Path) -> dict[str, Any]:
    """The three measures for one source tree."""
    with local_services() as services, tempfile.TemporaryDirectory(prefix="advisor-bot-hostile-") as folder:
        env = {
            **bench_environment(folder, code),
            **services.environment(),
            "ADMIN_TOKEN": ADMIN,
            "API_RATE_LIMIT": "0",
            "DOCUMENT_READ_SECONDS": "5",
        }
        with running_server(folder, env, ["--no-worker"]) as base:
            return {
                "pdf": _pdf_bomb_during_webhooks(base),
                "body": _huge_body(base, folder),
                "media": _media_views(base, folder, services),
            }


def main() -> int:
    results = []
    with compared_trees(BASELINE) as trees:
        for code, label in trees:
            print(f"measuring {label}", flush=True)
            results.append((label, measure(code)))
    rows = []
    for label, r in results:
        pdf, body, media = r["pdf"], r["body"], r["media"]
        rows.append(
            f"| {label} | {pdf['upload_status']} after {pdf['upload_seconds']:.1f} s | "
            f"{pdf['slowest_webhook_s']:.2f} s (of {pdf['webhooks']}) | {body['status']} after "
            f"{body['seconds']:.2f} s, RSS {body['rss_growth_mb']:+.0f} MB | "
            f"peak RSS {media['peak_growth_mb']:+.0f} MB, {media['rss_growth_mb']:+.0f} MB after, "
            f"{media['cdn_fetches']} CDN fetches |"
        )
    command = (
        "BENCH_BASELINE=" + BASELINE + " " if BASELINE else ""
    ) + ".venv/bin/python -m bench.hostile_input"
    replace_section(
        "hostile-input",
        f"""## 6. Hostile input: a PDF bomb, a huge body, repeated media views

`{command}` ({measured_at()}). {machine_line()} `serve --no-worker` on its own embedded
PostgreSQL per tree, local fakes of Twilio and its CDN. The PDF bomb is {results[0][1]["pdf"]["pdf_bytes"]:,}
bytes (one page, one 8 MB compressed content stream); signed webhooks go every 100 ms while it is
uploaded (`DOCUMENT_READ_SECONDS=5`). The body is 50 MB, anonymous, with its Content-Length. The
media is a 16 MiB video viewed {VIEWS} times from the console, {AT_ONCE} views at a time.

| tree | PDF bomb upload | slowest webhook meanwhile | anonymous 50 MB body | {VIEWS} views of 16 MiB |
|---|---|---|---|---|
{chr(10).join(rows)}

Twilio gives a webhook 15 s; before issue 23 the upload ran pypdf on the event loop, so every
webhook of the process waited for it (here pypdf's own decompression limit finally raised an
error the old code did not catch: a 500 after the stall). Now the document is read in a limited
child process and refused with its reason, and the webhooks are answered as if nothing happened.
The anonymous body is refused on its Content-Length before a byte is read. The media figures
count the server's resident memory during and after the views; the file is fetched once and
served from the disk cache (`CONSOLE_MEDIA_CACHE_BYTES`), never held whole per view.
""",
    )
    for label, r in results:
        print(label, r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
