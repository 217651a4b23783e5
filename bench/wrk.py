"""Drives wrk (a load generator written in C, its own process) with pre-signed Twilio webhooks.

Python generators top out near 450 requests/s on this machine's cores, which is below what the
server can take: a compiled generator measures the server rather than itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlparse

from bench.server import ADVISORS, TOKEN
from bot.cli.simulate import signed_form

SCRIPT = Path(__file__).with_name("paced.lua")


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured; latencies in milliseconds."""

    offered: float  # requests/s asked for; 0 = closed loop
    requests: int
    seconds: float
    median: float
    p95: float
    p99: float
    max: float
    errors: int  # non-2xx answers, timeouts, connection errors

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds


def connections_for(rate: float) -> int:
    """Enough connections that a free one waits for each slot up to ~250 ms of latency."""
    return int(max(16, min(256, rate / 4)))


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is needed for this benchmark: `apt-get install wrk` (Debian/Ubuntu)")
    return path


def signed_forms(
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


def write_requests(
    path: Path, url: str, count: int, *, advisors: list[str] = ADVISORS, customers: int = 500
) -> Path:
    """Write `count` distinct signed webhooks for `url`: one `signature<TAB>body` per line.

    Requests go round the `advisors` from `customers` different customer numbers.
    """
    run_id = uuid.uuid4().hex[:8]
    with path.open("w") as out:
        for form, signature in signed_forms(url, TOKEN, advisors, count, run_id, customers=customers):
            out.write(f"{signature}\t{urlencode(form)}\n")
    return path


def run_wrk(
    url: str,
    requests_file: Path,
    *,
    rate: float,
    seconds: float,
    connections: int,
    threads: int = 1,
    timeout_seconds: float = 10.0,
) -> WrkResult:
    """Run wrk against `url` (loopback only) for `seconds`, at `rate` requests/s (0: flat out)."""
    host = urlparse(url).hostname or ""
    if not host.startswith("127."):
        raise SystemExit("benchmarks only target loopback addresses")
    if seconds > 120 or rate > 20_000:
        raise SystemExit("bounded: at most 120 s and 20,000 requests/s per run")
    command = [
        require_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:.0f}s",
        f"--timeout={timeout_seconds:.0f}s",
        "-s",
        str(SCRIPT),
        url,
        "--",
        str(requests_file),
        str(rate),
        str(threads),
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=seconds + 60)
    line = next(line for line in output.stdout.splitlines() if line.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    errors = sum(raw[key] for key in raw if key.startswith("errors_"))
    return WrkResult(
        offered=rate,
        requests=int(raw["requests"]),
        seconds=raw["duration_us"] / 1e6,
        median=raw["p50_us"] / 1000,
        p95=raw["p95_us"] / 1000,
        p99=raw["p99_us"] / 1000,
        max=raw["max_us"] / 1000,
        errors=int(errors),
    )
