"""The app as real processes and servers run it: uvicorn on a loopback port, CLI processes with
the settings a deployment passes, and how much memory such a process used at its peak."""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from pathlib import Path

import uvicorn

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[1]

# `advisor-bot …` that reports its peak memory on stderr as it exits: VmHWM, the high-water
# mark of this process's own memory (ru_maxrss would also count the process it was forked from,
# before the exec, e.g. pytest).
CLI_REPORTING_PEAK = [
    sys.executable,
    "-c",
    "import re, sys; from bot.cli import main; code = main(sys.argv[1:]); "
    "status = open('/proc/self/status').read(); "
    "sys.stderr.write('PEAK_KB ' + re.search(r'VmHWM:\\s+(\\d+)', status).group(1) + '\\n'); "
    "sys.exit(code)",
]


def peak_kb(stderr: str) -> int:
    """The peak a CLI_REPORTING_PEAK process wrote to its stderr, in KiB."""
    found = re.search(r"PEAK_KB (\d+)", stderr)
    assert found is not None, f"no peak reported: {stderr[-500:]}"
    return int(found.group(1))


def process_environment(settings: Settings, folder: Path, **extra: str) -> dict[str, str]:
    """A server or worker process's settings as a deployment passes them: environment variables."""
    assert settings.database_url is not None and settings.twilio_auth_token is not None
    assert settings.openai_base_url is not None
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": str(folder),
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value(),
        "TWILIO_API_BASE_URL": settings.twilio_api_base_url,
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": settings.openai_base_url,
        "OPENAI_MODEL": "fake-model",
        "DEBOUNCE_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveServer:
    """`with LiveServer(settings, port) as server:` runs the whole app, lifespan included."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=30, what="uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
