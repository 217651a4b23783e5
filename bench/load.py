"""Load generator, run in its own process: posts pre-signed Twilio webhooks, prints latencies as JSON.

Usage: python -m bench.load --url URL --token TOKEN --advisors N1,N2 --requests 1000 --concurrency 8
Bounded by --requests and --max-seconds; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from urllib.parse import urlparse

import httpx

from bot.simulate import signed_form


def _forms(
    url: str, token: str, advisors: list[str], count: int, run_id: str
) -> list[tuple[dict[str, str], str]]:
    return [
        signed_form(
            url=url,
            auth_token=token,
            to=advisors[index % len(advisors)],
            from_=f"+5730{index % 500:08d}",
            text=f"Hola, mensaje {index}",
            sid=f"SM{run_id}{index:024d}",
        )
        for index in range(count)
    ]


async def _run(
    url: str, prepared: list[tuple[dict[str, str], str]], concurrency: int, max_seconds: float
) -> dict:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    queue: asyncio.Queue[tuple[dict[str, str], str]] = asyncio.Queue()
    for item in prepared:
        queue.put_nowait(item)
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty() and time.monotonic() < deadline:
                form, signature = queue.get_nowait()
                started = time.perf_counter()
                try:
                    response = await client.post(url, data=form, headers={"X-Twilio-Signature": signature})
                    key = str(response.status_code)
                except httpx.HTTPError as error:
                    key = type(error).__name__
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[key] = statuses.get(key, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {"latencies_ms": latencies, "statuses": statuses, "elapsed_s": elapsed}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--advisors", required=True)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    args = parser.parse_args()
    host = urlparse(args.url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise SystemExit("the load generator only targets loopback addresses")
    prepared = _forms(args.url, args.token, args.advisors.split(","), args.requests, uuid.uuid4().hex[:8])
    result = asyncio.run(_run(args.url, prepared, args.concurrency, args.max_seconds))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
