"""Local HTTP stand-ins for Twilio's REST API and OpenAI's chat API.

The real `twilio` and `openai` clients talk to these over loopback; each fake records every
call so tests assert exactly what was sent.
"""

from __future__ import annotations

import base64
import email.utils
import json
import math
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from bot.agent.rulebook import CONTEXT_INTRO
from bot.evals.doubles import LoopbackServer


def _fetch(url: str) -> tuple[int, bytes]:
    """GET a loopback URL as Twilio would fetch a MediaUrl."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - test-only, loopback
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), b""


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
        pass

    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        if getattr(self, "_read", None) is None:
            length = int(self.headers.get("Content-Length") or 0)
            self._read = self.rfile.read(length)
        return self._read

    def end_headers(self) -> None:
        """Read an unread request body first: on a kept-alive connection it would be the next request."""
        if self.protocol_version == "HTTP/1.1":
            self._body()
            self._read = None  # the next request on this connection has its own
        super().end_headers()


class _KeptAlive:
    """HTTP/1.1 with connections kept open, as the real APIs answer (benchmarks opt in)."""

    protocol_version = "HTTP/1.1"


@dataclass
class SentMessage:
    """One message the bot asked Twilio to send."""

    account_sid: str
    from_: str
    to: str
    body: str
    sid: str
    authorization: str | None
    status_callback: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    media_url: str | None = None
    created_rfc2822: str = field(default_factory=lambda: email.utils.formatdate(usegmt=True))
    accepted_at: float = field(default_factory=time.time)  # wall clock, for end-to-end timing


@dataclass
class FakeTwilio:
    """Twilio's `POST /2010-04-01/Accounts/{sid}/Messages.json`, with scripted failures."""

    server: LoopbackServer | None = None
    sent: list[SentMessage] = field(default_factory=list)
    attempts: int = 0
    attempt_times: list[float] = field(default_factory=list)  # time.monotonic() of each send
    # Each queued (status, code) is answered instead of success, one per request, in order.
    failures: list[tuple[int, int]] = field(default_factory=list)
    # The same, for messages to one recipient only ("whatsapp:+57…" → its queued failures).
    failures_to: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    fail_always: tuple[int, int] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Media: GET .../Media/{id} with the account's credentials redirects to `media_redirect` + id.
    media_redirect: str | None = None
    auth_token: str = ""
    # Accept a message, then answer only after `stall_seconds`: the caller times out although
    # Twilio has the message (the window a crash or timeout opens). Counts down per message.
    stall_next: int = 0
    stall_seconds: float = 0.0
    list_requests: int = 0
    # Every accepted message is answered only after this many seconds (recorded first, like Twilio).
    latency: float = 0.0
    # Like Twilio, fetch each outbound MediaUrl: (url, HTTP status, bytes).
    media_fetches: list[tuple[str, int, bytes]] = field(default_factory=list)
    media_requests: list[dict[str, str | None]] = field(default_factory=list)
    # POST /v2/Indicators/Typing.json (messaging.twilio.com): the message ids, in order; answers
    # with each queued status instead of 200 while `typing_failures` holds any.
    typing: list[dict[str, str]] = field(default_factory=list)
    typing_failures: list[int] = field(default_factory=list)
    # POST /v1/Content (content.twilio.com): each JSON body created, and the SID it was given.
    contents: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def bodies_to(self, number: str) -> list[str]:
        with self.lock:
            return [m.body for m in self.sent if m.to == f"whatsapp:{number}"]


class _TwilioHandler(_Handler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        fake: FakeTwilio = self.server.owner  # type: ignore[attr-defined]
        parts = urlparse(self.path).path.strip("/").split("/")
        if len(parts) == 4 and parts[3] == "Messages.json":
            query = {key: values[0] for key, values in parse_qs(urlparse(self.path).query).items()}
            with fake.lock:
                fake.list_requests += 1
                found = [
                    m
                    for m in reversed(fake.sent)
                    if m.to == query.get("To", m.to) and m.from_ == query.get("From", m.from_)
                ]
            self._send_json(
                200,
                {
                    "messages": [
                        {
                            "sid": m.sid,
                            "status": "sent",
                            "body": m.body,
                            "from": m.from_,
                            "to": m.to,
                            "num_media": "1" if m.media_url else "0",
                            "date_created": m.created_rfc2822,
                        }
                        for m in found
                    ],
                    "end": len(found),
                    "first_page_uri": self.path,
                    "next_page_uri": None,
                    "page": 0,
                    "page_size": 50,
                    "previous_page_uri": None,
                    "start": 0,
                    "uri": self.path,
                },
            )
            return
        authorization = self.headers.get("Authorization")
        with fake.lock:
            fake.media_requests.append({"path": self.path, "authorization": authorization})
        if len(parts) != 7 or parts[5] != "Media" or fake.media_redirect is None:
            self._send_json(404, {"code": 20404, "message": "not found", "status": 404})
            return
        expected = "Basic " + base64.b64encode(f"{parts[2]}:{fake.auth_token}".encode()).decode()
        if authorization != expected:
            self._send_json(401, {"code": 20003, "message": "authenticate", "status": 401})
            return
        self.send_response(307)
        self.send_header("Location", fake.media_redirect + parts[6])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _typing(self, fake: FakeTwilio) -> None:
        form = {key: values[0] for key, values in parse_qs(self._body().decode()).items()}
        with fake.lock:
            fake.typing.append({**form, "authorization": self.headers.get("Authorization") or ""})
            failure = fake.typing_failures.pop(0) if fake.typing_failures else None
        if failure is not None:
            self._send_json(failure, {"code": 20500, "message": "scripted failure", "status": failure})
            return
        self._send_json(200, {"success": True})

    def _content(self, fake: FakeTwilio) -> None:
        if self.headers.get("Content-Type") != "application/json":
            self._send_json(400, {"code": 20001, "message": "Content must be JSON", "status": 400})
            return
        created = json.loads(self._body())
        sid = "HX" + uuid.uuid4().hex
        with fake.lock:
            fake.contents.append((sid, created))
        self._send_json(
            201, {"sid": sid, "friendly_name": created.get("friendly_name"), "types": created["types"]}
        )

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        fake: FakeTwilio = self.server.owner  # type: ignore[attr-defined]
        if urlparse(self.path).path == "/v1/Content":
            self._content(fake)
            return
        if urlparse(self.path).path == "/v2/Indicators/Typing.json":
            self._typing(fake)
            return
        parts = urlparse(self.path).path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "2010-04-01" or parts[3] != "Messages.json":
            self._send_json(404, {"code": 20404, "message": "not found", "status": 404})
            return
        form = {key: values[0] for key, values in parse_qs(self._body().decode()).items()}
        with fake.lock:
            fake.attempts += 1
            fake.attempt_times.append(time.monotonic())
            aimed = fake.failures_to.get(form.get("To", ""))
            if aimed:
                failure: tuple[int, int] | None = aimed.pop(0)
            else:
                failure = fake.failures.pop(0) if fake.failures else fake.fail_always
            if failure is None:
                sid = "SM" + uuid.uuid4().hex
                fake.sent.append(
                    SentMessage(
                        account_sid=parts[2],
                        from_=form.get("From", ""),
                        to=form.get("To", ""),
                        body=form.get("Body", ""),
                        sid=sid,
                        authorization=self.headers.get("Authorization"),
                        status_callback=form.get("StatusCallback"),
                        content_sid=form.get("ContentSid"),
                        content_variables=json.loads(form["ContentVariables"])
                        if "ContentVariables" in form
                        else None,
                        media_url=form.get("MediaUrl"),
                    )
                )
        if failure is not None:
            status, code = failure
            self._send_json(status, {"code": code, "message": f"scripted failure {code}", "status": status})
            return
        with fake.lock:
            stall = fake.stall_next > 0
            fake.stall_next -= 1 if stall else 0
        if stall:
            time.sleep(fake.stall_seconds)
        elif fake.latency:
            time.sleep(fake.latency)
        if form.get("MediaUrl"):
            fetched = _fetch(form["MediaUrl"])
            with fake.lock:
                fake.media_fetches.append((form["MediaUrl"], *fetched))
        self._send_json(
            201,
            {
                "sid": sid,
                "status": "queued",
                "account_sid": parts[2],
                "from": form.get("From"),
                "to": form.get("To"),
                "body": form.get("Body"),
                "num_segments": "1",
                "direction": "outbound-api",
            },
        )


def _serve(
    fake: FakeTwilio | FakeOpenAI | FakeHubSpot,
    handler: type[BaseHTTPRequestHandler],
    *,
    keep_alive: bool = False,
) -> None:
    if keep_alive:
        handler = type(handler.__name__, (_KeptAlive, handler), {})
    fake.server = LoopbackServer(handler, fake)


def start_fake_twilio(*, keep_alive: bool = False) -> FakeTwilio:
    fake = FakeTwilio()
    _serve(fake, _TwilioHandler, keep_alive=keep_alive)
    return fake


Reply = dict[str, Any]  # {"content": str} and/or {"tool_calls": [(name, arguments), ...]}


def _text_of(content: Any) -> str:
    """A message's text; a picture is echoed as `[imagen]`, never as its data URL (as a model would)."""
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") if part.get("type") == "text" else "[imagen]" for part in content)


def echo_model(messages: list[dict[str, Any]]) -> Reply:
    """Answer with every customer message since the assistant last spoke, in order.

    The note of the moment (date, hours, profile) comes as a user message too: it is the
    system's, not the customer's, so it is not echoed.
    """
    recent: list[str] = []
    for message in reversed(messages):
        if message["role"] == "assistant":
            break
        if message["role"] == "user" and not _text_of(message["content"]).startswith(CONTEXT_INTRO):
            recent.append(_text_of(message["content"]))
    return {"content": "Respuesta a: " + " | ".join(reversed(recent))}


def _is_moment_note(message: dict[str, Any]) -> bool:
    return message["role"] == "user" and _text_of(message["content"]).startswith(CONTEXT_INTRO)


def prompt_roles(request: dict[str, Any]) -> list[str]:
    """The roles of a chat request's messages, the note of the moment shown as "note"."""
    return ["note" if _is_moment_note(m) else m["role"] for m in request["messages"]]


def customer_said(request: dict[str, Any]) -> list[str]:
    """The customer's messages of a chat request (user messages that are not the note), in order."""
    return [
        _text_of(m["content"]) for m in request["messages"] if m["role"] == "user" and not _is_moment_note(m)
    ]


def moment_note_of(request: dict[str, Any]) -> str:
    """The note of the moment of a chat request (date, hours, profile); empty when there is none."""
    return next((_text_of(m["content"]) for m in request["messages"] if _is_moment_note(m)), "")


EMBEDDING_DIMENSIONS = 256
_FUNCTION_WORDS = frozenset(
    "que los las del por para con una uno unos unas como cual cuales esta este esto eso esa ese son "
    "hay tiene tienen puedo puede donde cuando cuanto cuantos cuanta mas muy sin sus les nos".split()
)
_FOLD = str.maketrans("áàäâéèëêíìïîóòöôúùüûñ", "aaaaeeeeiiiioooouuuun")


def trigram_embedding(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """A deterministic stand-in for an embeddings model: hashed character trigrams, unit length.

    Each word of three letters or more that is not a common Spanish function word (lower case,
    accents folded, padded with spaces) adds 1 to the dimension of each of its three-letter
    pieces (crc32 modulo `dimensions`). Words spelt nearly alike share most pieces, so
    "parqeadero" lands near "parqueadero": typos are what it is good at, as real embeddings
    are; it knows no synonyms, which real ones do.
    """
    vector = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower().translate(_FOLD)):
        if len(word) < 3 or word in _FUNCTION_WORDS:
            continue
        padded = f" {word} "
        for start in range(len(padded) - 2):
            vector[zlib.crc32(padded[start : start + 3].encode()) % dimensions] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


@dataclass
class FakeOpenAI:
    """OpenAI's `POST /v1/chat/completions`; `behaviour` decides each answer."""

    server: LoopbackServer | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    behaviour: Callable[[list[dict[str, Any]]], Reply] = echo_model
    latency: float = 0.0
    failures: list[int] = field(default_factory=list)
    # What a scripted chat failure says, and the headers it comes with (a 429's Retry-After).
    failure_error: dict[str, Any] = field(
        default_factory=lambda: {"message": "scripted failure", "type": "server_error"}
    )
    failure_headers: dict[str, str] = field(default_factory=dict)
    request_times: list[float] = field(default_factory=list)  # time.monotonic() of each chat request
    in_flight: int = 0
    max_in_flight: int = 0
    transcript: str = "Hola, quisiera saber el precio del apartamento de dos habitaciones"
    transcription_failures: list[int] = field(default_factory=list)
    audio_uploads: list[bytes] = field(default_factory=list)
    speech_audio: bytes = b""
    speech_requests: list[dict[str, Any]] = field(default_factory=list)
    speech_failures: list[int] = field(default_factory=list)
    embedding_requests: list[dict[str, Any]] = field(default_factory=list)
    embedding_failures: list[int] = field(default_factory=list)
    usages: list[dict[str, Any]] = field(default_factory=list)  # each answer's reported token usage
    cached_tokens: int = 0  # reported as the prompt's cached tokens (prompt_tokens_details)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url + "/v1"


class _OpenAIHandler(_Handler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        fake: FakeOpenAI = self.server.owner  # type: ignore[attr-defined]
        if urlparse(self.path).path == "/v1/audio/transcriptions":
            body = self._body()
            with fake.lock:
                fake.audio_uploads.append(body)
                failure = fake.transcription_failures.pop(0) if fake.transcription_failures else None
            if failure is not None:
                self._send_json(failure, {"error": {"message": "scripted failure", "type": "server_error"}})
            else:
                self._send_json(200, {"text": fake.transcript})
            return
        if urlparse(self.path).path == "/v1/audio/speech":
            speech = json.loads(self._body())
            with fake.lock:
                fake.speech_requests.append(speech)
                failure = fake.speech_failures.pop(0) if fake.speech_failures else None
            if failure is not None:
                self._send_json(failure, {"error": {"message": "scripted failure", "type": "server_error"}})
                return
            self.send_response(200)
            self.send_header("Content-Type", "audio/ogg")
            self.send_header("Content-Length", str(len(fake.speech_audio)))
            self.end_headers()
            self.wfile.write(fake.speech_audio)
            return
        if urlparse(self.path).path == "/v1/embeddings":
            request = json.loads(self._body())
            inputs = request["input"] if isinstance(request["input"], list) else [request["input"]]
            with fake.lock:
                fake.embedding_requests.append(request)
                failure = fake.embedding_failures.pop(0) if fake.embedding_failures else None
            if failure is not None:
                self._send_json(failure, {"error": {"message": "scripted failure", "type": "server_error"}})
                return
            data = [
                {"object": "embedding", "index": index, "embedding": trigram_embedding(text)}
                for index, text in enumerate(inputs)
            ]
            self._send_json(200, {"object": "list", "data": data, "model": request["model"]})
            return
        if urlparse(self.path).path != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        request = json.loads(self._body())
        with fake.lock:
            fake.requests.append(request)
            fake.request_times.append(time.monotonic())
            failure = fake.failures.pop(0) if fake.failures else None
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        if fake.latency:
            time.sleep(fake.latency)
        with fake.lock:
            fake.in_flight -= 1
        if failure is not None:
            self._send_json(failure, {"error": fake.failure_error}, fake.failure_headers)
            return
        reply = fake.behaviour(request["messages"])
        message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
        if reply.get("tool_calls"):
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:12]}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
                for name, arguments in reply["tool_calls"]
            ]
        # Roughly four characters a token, as OpenAI counts English: varies with what was sent.
        prompt_tokens = len(json.dumps(request["messages"])) // 4 + 1
        completion_tokens = len(json.dumps(message)) // 4 + 1
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": min(fake.cached_tokens, prompt_tokens)},
        }
        with fake.lock:
            fake.usages.append(usage)
        self._send_json(
            200,
            {
                "id": "chatcmpl-" + uuid.uuid4().hex,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if reply.get("tool_calls") else "stop",
                    }
                ],
                "usage": usage,
            },
        )


def start_fake_openai(*, keep_alive: bool = False) -> FakeOpenAI:
    fake = FakeOpenAI()
    _serve(fake, _OpenAIHandler, keep_alive=keep_alive)
    return fake


@dataclass
class Received:
    """One event POST as the receiver saw it."""

    body: bytes
    headers: dict[str, str]

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class FakeReceiver:
    """A CRM-like endpoint for events: records every POST, answers scripted statuses first."""

    server: LoopbackServer | None = None
    received: list[Received] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    failing_type: str | None = None  # the scripted statuses answer only events of this type
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url + "/events"

    def accepted(self) -> list[dict[str, Any]]:
        """The events answered with 200, in arrival order."""
        with self.lock:
            return [item.json() for item in self.received if item.headers.get("x-answered") == "200"]


class _ReceiverHandler(_Handler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        fake: FakeReceiver = self.server.owner  # type: ignore[attr-defined]
        body = self._body()
        with fake.lock:
            scripted = fake.failing_type is None or json.loads(body).get("type") == fake.failing_type
            status = fake.failures.pop(0) if fake.failures and scripted else 200
            headers = {key.lower(): value for key, value in self.headers.items()}
            headers["x-answered"] = str(status)
            fake.received.append(Received(body=body, headers=headers))
        self._send_json(status, {"ok": status == 200})


def start_fake_receiver() -> FakeReceiver:
    fake = FakeReceiver()
    _serve(fake, _ReceiverHandler)  # type: ignore[arg-type]
    return fake


@dataclass
class FakeMediaHost:
    """A CDN: serves files by id, records each request's headers (credentials must not arrive)."""

    server: LoopbackServer | None = None
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[dict[str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url + "/files/"


class _MediaHostHandler(_Handler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        fake: FakeMediaHost = self.server.owner  # type: ignore[attr-defined]
        name = urlparse(self.path).path.rsplit("/", 1)[-1]
        with fake.lock:
            fake.requests.append({"path": self.path, "authorization": self.headers.get("Authorization")})
            found = fake.files.get(name)
        if found is None:
            self._send_json(404, {"error": "not found"})
            return
        data, content_type = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def start_fake_media_host() -> FakeMediaHost:
    fake = FakeMediaHost()
    _serve(fake, _MediaHostHandler)  # type: ignore[arg-type]
    return fake


@dataclass
class FakeSupabaseStorage:
    """Supabase Storage's upload and sign endpoints, recording bucket, path and content type."""

    server: LoopbackServer | None = None
    uploads: list[dict[str, Any]] = field(default_factory=list)
    signs: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url


class _SupabaseHandler(_Handler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        fake: FakeSupabaseStorage = self.server.owner  # type: ignore[attr-defined]
        path = urlparse(self.path).path
        body = self._body()
        if path.startswith("/storage/v1/object/sign/"):
            bucket, _, key = path.removeprefix("/storage/v1/object/sign/").partition("/")
            with fake.lock:
                fake.signs.append(
                    {
                        "bucket": bucket,
                        "path": key,
                        "body": json.loads(body),
                        "authorization": self.headers.get("Authorization"),
                    }
                )
            self._send_json(200, {"signedURL": f"/object/sign/{bucket}/{key}?token=signed-token"})
            return
        if path.startswith("/storage/v1/object/"):
            bucket, _, key = path.removeprefix("/storage/v1/object/").partition("/")
            with fake.lock:
                fake.uploads.append(
                    {
                        "bucket": bucket,
                        "path": key,
                        "body": body,
                        "content_type": self.headers.get("Content-Type"),
                        "authorization": self.headers.get("Authorization"),
                    }
                )
            self._send_json(200, {"Key": f"{bucket}/{key}", "Id": str(uuid.uuid4())})
            return
        self._send_json(404, {"error": "not found"})


def start_fake_supabase_storage() -> FakeSupabaseStorage:
    fake = FakeSupabaseStorage()
    _serve(fake, _SupabaseHandler)  # type: ignore[arg-type]
    return fake


@dataclass
class FakeHubSpot:
    """HubSpot's CRM v3 contacts and notes, as the official client calls them."""

    server: LoopbackServer | None = None
    contacts: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)  # HTTP statuses for the next requests
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url


class _HubSpotHandler(_Handler):
    def _handle(self, method: str) -> None:
        fake: FakeHubSpot = self.server.owner  # type: ignore[attr-defined]
        path = urlparse(self.path).path
        body = json.loads(self._body() or b"{}")
        with fake.lock:
            fake.requests.append((method, path, body))
            failure = fake.failures.pop(0) if fake.failures else None
        if failure is not None:
            self._send_json(failure, {"status": "error", "message": "scripted failure", "category": "TEST"})
            return
        if self.headers.get("Authorization") != "Bearer pat-test-token":
            self._send_json(
                401, {"status": "error", "message": "bad token", "category": "INVALID_AUTHENTICATION"}
            )
            return
        now = "2026-01-01T00:00:00.000Z"
        with fake.lock:
            if method == "POST" and path == "/crm/v3/objects/contacts":
                contact_id = str(1000 + len(fake.contacts))
                fake.contacts[contact_id] = dict(body.get("properties", {}))
                record = {"id": contact_id, "properties": fake.contacts[contact_id]}
            elif method == "PATCH" and path.startswith("/crm/v3/objects/contacts/"):
                contact_id = path.rsplit("/", 1)[1]
                if contact_id not in fake.contacts:
                    self._send_json(
                        404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"}
                    )
                    return
                fake.contacts[contact_id].update(body.get("properties", {}))
                record = {"id": contact_id, "properties": fake.contacts[contact_id]}
            elif method == "POST" and path == "/crm/v3/objects/notes":
                fake.notes.append(body)
                record = {"id": str(5000 + len(fake.notes)), "properties": body.get("properties", {})}
            else:
                self._send_json(
                    404, {"status": "error", "message": "not found", "category": "OBJECT_NOT_FOUND"}
                )
                return
        self._send_json(
            200 if method == "PATCH" else 201,
            {**record, "createdAt": now, "updatedAt": now, "archived": False},
        )

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._handle("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")


def start_fake_hubspot() -> FakeHubSpot:
    fake = FakeHubSpot()
    _serve(fake, _HubSpotHandler)
    return fake
