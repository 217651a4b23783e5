"""Owns the evaluation's two loopback servers: a Twilio double and a recording model proxy.

The server under evaluation is the real one, so it talks HTTP to Twilio and to the model with
their real client libraries. The Twilio double accepts every send (nothing reaches WhatsApp);
the server's own `messages` rows say what it sent. The proxy forwards every model call to the
chosen OpenAI-compatible server unchanged and keeps what came back: the tool calls the agent
made and the tokens it used, which the server itself does not expose per conversation.
Transcriptions are the one call it answers itself, with the words the scenario gives a
voice-note turn.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from twilio.request_validator import RequestValidator


@dataclass(frozen=True)
class ModelCall:
    """One chat completion the agent asked for, and what the model answered."""

    at: float
    tool_calls: list[tuple[str, dict[str, Any]]]
    prompt_tokens: int
    completion_tokens: int


@dataclass
class Recorder:
    """What the doubles saw, appended from their threads."""

    calls: list[ModelCall] = field(default_factory=list)
    transcript: str = ""  # what a voice note of the current turn says (the scenario's text)
    twilio_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls_since(self, moment: float) -> list[ModelCall]:
        """The model calls made after `moment` (time.monotonic)."""
        with self.lock:
            return [call for call in self.calls if call.at >= moment]


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's naming
        return

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LoopbackServer:
    """A threaded HTTP server on a free loopback port, stopped by `close`.

    Handlers find `owner` (what they serve for) at `self.server.owner`. A client that gave up
    before its answer is not an error worth printing.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], owner: object = None) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._server.owner = owner  # type: ignore[attr-defined]
        # A short poll: `close` waits for the loop to notice, and http.server's 0.5 s default
        # made every stop of a double (two per test) cost up to a second.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()


class TwilioDouble(LoopbackServer):
    """Twilio's Messages endpoint (every send accepted, 201, nothing delivered), typing and Content.

    What was sent is the server's own record (its `messages` rows), which the runner reads. Like
    Twilio, it reports each message `sent` to the send's StatusCallback, signed with
    `auth_token`: the server holds a reply's next part until then, and a double that never
    reported would make every multi-part turn wait out that bound.
    """

    def __init__(self, auth_token: str) -> None:
        super().__init__(_TwilioHandler, self)
        self.auth_token = auth_token
        self.reporter = httpx.Client(timeout=10)

    def close(self) -> None:
        """Stop serving and close the connection of the status reports."""
        super().close()
        self.reporter.close()

    def report_sent(self, callback: str, form: dict[str, str], sid: str) -> None:
        """Post the `sent` status of message `sid` to `callback`, as Twilio does once it left."""
        fields = {
            "AccountSid": form.get("AccountSid", ""),
            "From": form.get("From", ""),
            "To": form.get("To", ""),
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": "sent",
            "SmsStatus": "sent",
        }
        signature = RequestValidator(self.auth_token).compute_signature(callback, fields)
        with contextlib.suppress(httpx.HTTPError):  # the run is ending: nobody waits for it now
            self.reporter.post(callback, data=fields, headers={"X-Twilio-Signature": signature})


class _TwilioHandler(_Quiet):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        # Read first, whatever the path: a body left unread on a kept-alive connection would be
        # taken for the next request (the server's messages share it with its other Twilio calls).
        raw = self._body()
        path = urlparse(self.path).path
        if path == "/v2/Indicators/Typing.json":  # "typing…": nothing to show here
            self._answer(200, b'{"success": true}')
            return
        if path == "/v1/Content":  # buttons and lists the agent offers
            created = json.loads(raw or b"{}")
            answer = {"sid": "HX" + uuid.uuid4().hex, "types": created.get("types", {})}
            self._answer(201, json.dumps(answer).encode())
            return
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[3] != "Messages.json":
            self._answer(404, b'{"code": 20404, "message": "not found", "status": 404}')
            return
        form = {key: values[0] for key, values in parse_qs(raw.decode()).items()}
        form["AccountSid"] = parts[2]
        sid = "SM" + uuid.uuid4().hex
        answer = {
            "sid": sid,
            "status": "queued",
            "account_sid": parts[2],
            "from": form.get("From"),
            "to": form.get("To"),
            "body": form.get("Body"),
            "num_segments": "1",
            "direction": "outbound-api",
        }
        self._answer(201, json.dumps(answer).encode())
        callback = form.get("StatusCallback")
        if callback:  # after the answer, as Twilio: the report may still beat the SID's storing
            double: TwilioDouble = self.server.owner  # type: ignore[attr-defined]
            threading.Thread(target=double.report_sent, args=(callback, form, sid), daemon=True).start()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if "/Media/" in self.path:  # a customer's voice note: its words come from the scenario
            self._answer(200, VOICE_NOTE_BYTES, "audio/ogg")
            return
        # The retry's look at sent messages: nothing is ever lost here.
        self._answer(200, b'{"messages": [], "next_page_uri": null, "page": 0, "page_size": 50}')


# Stands for a voice note's audio: the transcription is answered with the scenario's words.
VOICE_NOTE_BYTES = b"OggS" + bytes(60)


class ModelProxy(LoopbackServer):
    """Forwards `/v1/*` to `upstream` (with `api_key`), recording chat completions' tool calls and usage."""

    def __init__(self, recorder: Recorder, *, upstream: str, api_key: str | None, timeout: float) -> None:
        super().__init__(_ProxyHandler, self)
        self.recorder = recorder
        self.upstream = upstream.rstrip("/")
        self.api_key = api_key
        self.client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Stop serving and close the connections to the model server."""
        super().close()
        self.client.close()


class _ProxyHandler(_Quiet):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        proxy: ModelProxy = self.server.owner  # type: ignore[attr-defined]
        path = urlparse(self.path).path
        suffix = path.removeprefix("/v1")
        if suffix == "/audio/transcriptions":
            # A voice-note turn: the scenario says what the customer said, so the run measures the
            # agent's answer, not the transcription model's hearing.
            self._body()
            with proxy.recorder.lock:
                words = proxy.recorder.transcript
            self._answer(200, json.dumps({"text": words}).encode())
            return
        headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
        if proxy.api_key:
            headers["Authorization"] = f"Bearer {proxy.api_key}"
        body = self._body()
        try:
            response = proxy.client.post(proxy.upstream + suffix, content=body, headers=headers)
        except httpx.HTTPError as error:
            message = json.dumps({"error": {"message": f"model unreachable: {type(error).__name__}"}})
            self._answer(502, message.encode())
            return
        if suffix == "/chat/completions" and response.status_code == 200:
            _record(proxy.recorder, response.content)
        self._answer(
            response.status_code, response.content, response.headers.get("content-type", "application/json")
        )


def _record(recorder: Recorder, content: bytes) -> None:
    try:
        answer = json.loads(content)
    except ValueError:
        return
    tool_calls: list[tuple[str, dict[str, Any]]] = []
    for choice in answer.get("choices") or []:
        for call in (choice.get("message") or {}).get("tool_calls") or []:
            function = call.get("function") or {}
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except ValueError:
                arguments = {"_unparsed": function.get("arguments")}
            tool_calls.append((str(function.get("name")), arguments if isinstance(arguments, dict) else {}))
    usage = answer.get("usage") or {}
    call = ModelCall(
        at=time.monotonic(),
        tool_calls=tool_calls,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )
    with recorder.lock:
        recorder.calls.append(call)
