"""The container image builds and serves `/readyz` against a real PostgreSQL.

Needs a Docker engine; this machine kind has only the client, so here the test is skipped with
that reason, and it runs wherever a builder is present. Bounded: the build and the wait for
readiness each stop by themselves.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.live import free_port

ROOT = Path(__file__).resolve().parent.parent


def _engine() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0


pytestmark = pytest.mark.skipif(not _engine(), reason="no Docker engine here (only the client, or nothing)")


def test_the_image_builds_upgrades_the_schema_and_serves_readyz(database_url: str) -> None:
    if "host=/" in database_url:  # the embedded server listens on a socket the container cannot see
        pytest.skip("the container needs a TCP database: set ADVISOR_BOT_TEST_DATABASE_URL")
    tag = f"advisor-bot-test:{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=900)
    port = free_port()
    env = ["-e", f"DATABASE_URL={database_url}", "-e", f"PORT={port}"]
    try:
        upgrade = subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                "--network",
                "host",
                *env,
                tag,
                "python",
                "-m",
                "bot.cli",
                "db",
                "upgrade",
            ],
            capture_output=True,
            timeout=300,
        )
        assert upgrade.returncode == 0, upgrade.stderr
        name = f"advisor-bot-web-{uuid.uuid4().hex[:8]}"
        subprocess.run(
            ["docker", "run", "-d", "--name", name, "--network", "host", *env, tag], check=True, timeout=60
        )
        try:
            deadline, status = time.monotonic() + 60, None
            while time.monotonic() < deadline and status != 200:
                try:
                    status = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code
                except httpx.HTTPError:
                    time.sleep(0.5)
            assert status == 200
        finally:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)
