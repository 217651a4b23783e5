"""Starts `advisor-bot serve` for a benchmark, as users run it, on a private embedded database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
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


def bench_environment(folder: str, code: Path = ROOT) -> dict[str, str]:
    """Settings for a benchmark server in `folder`, with the 7 example advisors seeded.

    `code` is the source tree the server runs: this one, or an earlier revision's (see
    `baseline_tree`) measured beside it in the same run.
    """
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
        "PYTHONPATH": str(code),
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
def _running(
    folder: str, env: dict[str, str], log_name: str, args: list[str], *, program: list[str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `advisor-bot ARGS` (or `python PROGRAM ARGS`) in `folder`, logging to `log_name`;
    Ctrl+C (then kill) when the block ends."""
    with open(f"{folder}/{log_name}", "a") as log:
        command = [sys.executable, *(program or ["-m", "bot.cli"]), *args]
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def running_server(
    folder: str,
    env: dict[str, str],
    flags: list[str],
    *,
    with_bare: bool = False,
    program: list[str] | None = None,
) -> Iterator[str]:
    """Run `advisor-bot serve FLAGS` until the block ends; yield its base URL once ready.

    `with_bare`: the same server with the benchmarks' ceiling route (bench.bare_server).
    `program`: what runs `serve` instead of `python -m bot.cli` (bench.clocked: a moved clock).
    """
    port = free_port()
    if with_bare:
        args, program = ["--port", str(port), *flags], ["-m", "bench.bare_server"]
    else:
        args = ["serve", "--port", str(port), *flags]
    with _running(folder, env, f"server-{port}.log", args, program=program) as server:
        base = f"http://127.0.0.1:{port}"
        Path(folder, "server.pid").write_text(str(server.pid))  # for benchmarks that read its memory
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise SystemExit("server did not become ready")
        yield base


@contextlib.contextmanager
def running_worker(
    folder: str, env: dict[str, str], flags: list[str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `advisor-bot worker FLAGS` (its own process, as on a worker machine) until the block ends."""
    with _running(folder, env, "worker.log", ["worker", *(flags or [])]) as worker:
        yield worker


@contextlib.contextmanager
def compared_trees(revision: str | None) -> Iterator[list[tuple[Path, str]]]:
    """The source trees a benchmark measures, with their labels: git `revision`'s first, then this one.

    The revision's source is exported to a temporary folder; benchmarks run it with this
    checkout's virtual environment, through PYTHONPATH, so a change is measured against the code
    before it in one run, on the same machine and database build. Without a revision: this tree.
    """
    if not revision:
        yield [(ROOT, "this tree")]
        return
    with tempfile.TemporaryDirectory(prefix="advisor-bot-baseline-") as folder:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", revision],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True, timeout=120)
        yield [(Path(folder), f"before ({revision})"), (ROOT, "after (this tree)")]


def database_url(folder: str) -> str:
    """A connection to the benchmark server's embedded PostgreSQL, for measuring it directly."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    from pgserver.postgres_server import get_server

    return str(get_server(Path(folder).resolve() / "pgdata", cleanup_mode=None).get_uri())
