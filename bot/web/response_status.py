"""Owns reading the status an ASGI app answered with, for middleware that records requests."""

from __future__ import annotations

from starlette.types import Message, Send


class StatusCapture:
    """Wraps `send`; `status` is the response's status once it started (500 if it never did)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        """Note the status from the response's start, and pass every message on."""
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        await self._send(message)
