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
    url: str, token: str, advisors: list[str], count: int, run_id: str, *, customers: int = 500
) -> list[tuple[dict[str, str], str]]:
    return [
        signed_form(
            url=url,
            auth_token=token,
            to=advisors[index % len(advisors)],
            from_=f"+5730{index % customers:08d}",
            text=f"Hola, mensaje {index}",
            sid=f"SM{run_id}{index:024d}",
        )
        for index in range(count)
    ]


async def _timed(
    client: httpx.AsyncClient,
    url: str,
    form: dict[str, str],
    signature: str,
    method: str,
    latencies: list[float],
    statuses: dict[str, int],
) -> None:
    """Send one request (a signed webhook POST, or a plain GET) and record its latency and status."""
    started = time.perf_counter()
    try:
        if method == "GET":
            response = await client.get(url)
        else:
            response = await client.post(url, data=form, headers={"X-Twilio-Signature": signature})
        key = str(response.status_code)
    except httpx.HTTPError as error:
        key = type(error).__name__
    latencies.append((time.perf_counter() - started) * 1000)
    statuses[key] = statuses.get(key, 0) + 1


async def _run(
    url: str,
    prepared: list[tuple[dict[str, str], str]],
    concurrency: int,
    max_seconds: float,
    method: str = "POST",
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
                await _timed(client, url, form, signature, method, latencies, statuses)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {"latencies_ms": latencies, "statuses": statuses, "elapsed_s": elapsed}


async def _run_at_rate(
    url: str, prepared: list[tuple[dict[str, str], str]], rate: float, duration: float, method: str
) -> dict:
    """Open loop: start one request every 1/rate seconds, whatever the answers' latency.

    A closed loop (N clients waiting for answers) hides queueing: a slow server just receives
    fewer requests. At a fixed offered rate, falling behind shows as latency and errors.
    """
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    total = min(len(prepared), int(rate * duration))
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:
        began = time.perf_counter()
        tasks = []
        for index in range(total):
            delay = began + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(
                asyncio.create_task(_timed(client, url, *prepared[index], method, latencies, statuses))
            )
        await asyncio.gather(*tasks)
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
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="open loop: seconds")
    parser.add_argument("--method", choices=["POST", "GET"], default="POST", help="GET: the bare endpoint")
    args = parser.parse_args()
    host = urlparse(args.url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise SystemExit("the load generator only targets loopback addresses")
    count = int(args.rate * args.duration) if args.rate else args.requests
    prepared = _forms(args.url, args.token, args.advisors.split(","), count, uuid.uuid4().hex[:8])
    if args.rate:
        if args.duration > 120 or args.rate > 5000:
            raise SystemExit("bounded: at most 120 s and 5,000 requests/s")
        result = asyncio.run(_run_at_rate(args.url, prepared, args.rate, args.duration, args.method))
    else:
        result = asyncio.run(_run(args.url, prepared, args.concurrency, args.max_seconds, args.method))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
