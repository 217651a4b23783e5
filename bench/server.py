"""Starts `advisor-bot serve` for a benchmark, as users run it, on a private embedded database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-auth-token-0123456789"
ADVISORS = [f"+1415523{n}" for n in range(8886, 8893)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench_environment(folder: str) -> dict[str, str]:
    """Settings for a benchmark server in `folder`, with the 7 example advisors seeded."""
    env = {
        **os.environ,
        "EMBEDDED_DATA_DIR": f"{folder}/pgdata",
        "TWILIO_AUTH_TOKEN": TOKEN,
        "LOG_LEVEL": "WARNING",
        "DEBOUNCE_SECONDS": "2",
        # One load generator is one client: measure, do not throttle or cap it.
        "WEBHOOK_RATE_LIMIT": "0",
        "MAX_CONNECTIONS_PER_CLIENT": "0",
        "AI_LOOP_MAX_REPLIES": "0",  # scripted customers write faster than any human
        "PYTHONPATH": str(ROOT),
    }
    for name in ("TWILIO_ACCOUNT_SID", "OPENAI_API_KEY", "OPENAI_BASE_URL", "DATABASE_URL"):
        env.pop(name, None)
    if os.environ.get("BENCH_DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "seed", "--if-empty"],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return env


@contextlib.contextmanager
def running_server(folder: str, env: dict[str, str], flags: list[str]) -> Iterator[str]:
    """Run `advisor-bot serve FLAGS` until the block ends; yield its base URL once ready."""
    port = free_port()
    with open(f"{folder}/server-{port}.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), *flags],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        Path(folder, "server.pid").write_text(str(server.pid))  # for benchmarks that read its memory
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                time.sleep(0.2)
            else:
                raise SystemExit("server did not become ready")
            yield base
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def database_url(folder: str) -> str:
    """A connection to the benchmark server's embedded PostgreSQL, for measuring it directly."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    from pgserver.postgres_server import get_server

    return str(get_server(Path(folder).resolve() / "pgdata", cleanup_mode=None).get_uri())
