"""The app served by uvicorn on a real loopback port, for peers that must call it back."""

from __future__ import annotations

import socket
import threading

import uvicorn

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import wait_for


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
