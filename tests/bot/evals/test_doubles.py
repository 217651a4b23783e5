"""The evaluation's Twilio double reports each message sent, signed, as Twilio does."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import httpx
from twilio.request_validator import RequestValidator

from bot.evals.doubles import LoopbackServer, TwilioDouble
from tests.conftest import wait_for

TOKEN = "double-test-token-0123456789"


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        received: list[tuple[dict[str, str], bool]] = self.server.owner  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        fields = {key: values[0] for key, values in parse_qs(raw).items()}
        url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
        signed = RequestValidator(TOKEN).validate(url, fields, self.headers.get("X-Twilio-Signature", ""))
        received.append((fields, signed))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's naming
        return


def test_a_send_with_a_status_callback_is_reported_sent_with_a_valid_signature() -> None:
    received: list[tuple[dict[str, str], bool]] = []
    receiver = LoopbackServer(_Receiver, received)
    double = TwilioDouble(TOKEN)
    try:
        callback = f"{receiver.url}/webhooks/twilio/status"
        answer = httpx.post(
            f"{double.url}/2010-04-01/Accounts/AC{'1' * 32}/Messages.json",
            data={
                "From": "whatsapp:+14155238886",
                "To": "whatsapp:+573001112233",
                "Body": "Hola",
                "StatusCallback": callback,
            },
        )
        assert answer.status_code == 201
        sid = answer.json()["sid"]
        httpx.post(f"{double.url}/2010-04-01/Accounts/AC{'1' * 32}/Messages.json", data={"Body": "sin aviso"})
        [(fields, signed)] = wait_for(lambda: received, what="the status report")
        assert signed and fields["MessageSid"] == sid and fields["MessageStatus"] == "sent"
        assert fields["To"] == "whatsapp:+573001112233" and fields["AccountSid"] == "AC" + "1" * 32
        threading.Event().wait(0.2)
        assert len(received) == 1  # a send without a callback is not reported
    finally:
        double.close()
        receiver.close()
