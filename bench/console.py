"""The console at scale: page weight, the inbox's first render with 10,000 conversations, and
search over 1,000,000 messages.

Run: `.venv/bin/python -m bench.console` (about 3 minutes). One `advisor-bot serve --no-worker` on
the embedded PostgreSQL. Bulk load: the growth benchmark's 10,000 advisors x 10 conversations x 10
messages (1,000,000 messages), plus one advisor with 10,000 conversations (one message each), whose
inbox is rendered and searched. Times are medians of repeated requests from one client, measured
in one run: the inbox page served (HTTP), and in Debian's Chromium the first contentful paint of
the inbox; search is the inbox request with `q`, for a word in every message, a rare word, and
digits of a phone.
"""

from __future__ import annotations

import gzip
import shutil
import statistics
import tempfile
import time

import httpx
import psycopg
from playwright.sync_api import sync_playwright

from bench.docs import machine_line, measured_at, replace_section
from bench.growth import fill
from bench.server import bench_environment, database_url, running_server

ADMIN = "bench-admin-token-0123456789"
BIG = "+15559999999"
BIG_CONVERSATIONS = 10_000
REPEAT = 20

BIG_FILL = [
    """
    INSERT INTO advisors (name, phone_number, twilio_phone_number, is_active)
    VALUES ('Asesora Grande', '+573109999999', %(big)s, true)
    """,
    """
    INSERT INTO chat_history (advisor_id, phone_number, last_inbound_at, profile_name, updated_at)
    SELECT a.id, '+5731' || lpad(k::text, 8, '0'), now() - interval '1 hour', 'Cliente ' || k,
           now() - k * interval '1 second'
      FROM advisors a CROSS JOIN generate_series(1, %(conversations)s) AS k
     WHERE a.twilio_phone_number = %(big)s
    """,
    """
    INSERT INTO messages (advisor_id, conversation_id, direction, author, body, twilio_sid, status,
                          processed_at)
    SELECT c.advisor_id, c.conversation_id, 'inbound', 'customer',
           CASE WHEN right(c.phone_number, 3) = '777' THEN 'Me interesa el penthouse con terraza'
                ELSE 'Hola, ¿sigue disponible el apartamento?' END,
           'SMbig' || md5(c.conversation_id::text), 'answered', now()
      FROM chat_history c JOIN advisors a ON a.id = c.advisor_id WHERE a.twilio_phone_number = %(big)s
    """,
    "ANALYZE chat_history",
    "ANALYZE messages",
]


def _fill_big(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in BIG_FILL:
            conn.execute(statement, {"big": BIG, "conversations": BIG_CONVERSATIONS})  # type: ignore[arg-type]


def _link(url: str, base: str) -> str:
    import asyncio

    from advisors.console_access import issue_link

    async def make() -> str:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            cursor = await conn.execute("SELECT id FROM advisors WHERE twilio_phone_number = %s", (BIG,))
            row = await cursor.fetchone()
            assert row is not None
            return f"{base}/console/link/{await issue_link(conn=conn, advisor_id=row[0])}"

    return asyncio.run(make())


def _signed_in_client(base: str, link: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get(link)
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    secret = link.rsplit("/", 1)[1]
    answer = client.post("/console/link", data={"csrf": csrf, "link": secret})
    assert answer.status_code == 303, answer.text
    return client


def _median_ms(client: httpx.Client, path: str) -> tuple[float, int]:
    times = []
    size = 0
    for _ in range(REPEAT):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.status_code
        size = len(answer.content)
    return statistics.median(times), size


def _rows(html: str) -> int:
    return html.count('data-testid="conversation-row"')


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="advisor-bot-console-") as folder:
        env = {**bench_environment(folder), "ADMIN_TOKEN": ADMIN}
        url = database_url(folder)
        started = time.monotonic()
        _, stored = fill(url)
        _fill_big(url)
        print("filled", stored, "messages in", round(time.monotonic() - started), "s", flush=True)
        with running_server(folder, env, ["--no-worker"]) as base:
            client = _signed_in_client(base, _link(url, base))
            html = client.get("/console").text
            assets = {
                "HTML (inbox, 50 rows)": html.encode(),
                "console.css": client.get("/console/static/console.css").content,
                "console.js": client.get("/console/static/console.js").content,
                "htmx 2.0.11": client.get("/console/static/vendor/htmx-2.0.11.min.js").content,
            }
            served_ms, _ = _median_ms(client, "/console")
            searches = {
                "a word in every message (apartamento)": "/console?q=apartamento",
                "a rare word (penthouse, 10 conversations)": "/console?q=penthouse",
                "a stemmed form (terrazas finds terraza)": "/console?q=terrazas",
                "digits of a phone (00777)": "/console?q=00777",
            }
            search_results = {}
            for name, path in searches.items():
                ms, _ = _median_ms(client, path)
                search_results[name] = (ms, _rows(client.get(path).text))
                print(name, round(ms, 1), "ms", flush=True)
            paint = _first_paint(base, _link(url, base))
            client.close()
    _write(assets, served_ms, paint, search_results, stored + BIG_CONVERSATIONS)
    return 0


def _first_paint(base: str, link: str) -> float:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    paints = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(link)
        page.wait_for_url(f"{base}/console")
        for _ in range(10):
            page.goto(f"{base}/console")
            page.wait_for_selector("[data-testid=conversation-row]")
            paint = page.evaluate(
                "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? "
                "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
            )
            paints.append(float(paint))
        browser.close()
    return statistics.median(paints)


def _write(
    assets: dict[str, bytes],
    served_ms: float,
    paint_ms: float,
    searches: dict[str, tuple[float, int]],
    messages: int,
) -> None:
    weight = "\n".join(
        f"| {name} | {len(body):,} | {len(gzip.compress(body)):,} |" for name, body in assets.items()
    )
    total = sum(len(body) for body in assets.values())
    total_gz = sum(len(gzip.compress(body)) for body in assets.values())
    search_rows = "\n".join(f"| {name} | {ms:.1f} ms | {rows} |" for name, (ms, rows) in searches.items())
    replace_section(
        "console",
        f"""
## Console at scale

`.venv/bin/python -m bench.console`, {measured_at()}. {machine_line()} One `serve --no-worker`
on the embedded PostgreSQL holding {messages:,} messages (10,000 advisors x 10 conversations x 10
messages, plus one advisor with 10,000 conversations whose inbox is measured). Medians of
{REPEAT} requests from one client.

Page weight of the inbox (what a first visit downloads, nothing from elsewhere; the app sends it
gzipped to browsers, which all ask for it):

| Part | Bytes | Gzipped |
|---|---:|---:|
{weight}
| **Total** | **{total:,}** | **{total_gz:,}** |

Inbox of the advisor with 10,000 conversations (the 50 most recent shown): served in
**{served_ms:.1f} ms**; first contentful paint in Chromium **{paint_ms:.0f} ms** (median of 10 loads).

Search over {messages:,} messages, scoped to that advisor (the inbox request with `q`):

| Search | Time | Conversations found (first 50 shown) |
|---|---:|---:|
{search_rows}
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
