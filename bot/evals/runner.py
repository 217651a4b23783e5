"""Owns running scenarios through the real path: signed webhooks into the real server, web and worker.

One server for the whole run (`create_app`, its in-process worker, migrations on a temporary
database: the embedded default, or a database made for the run on `--database-url`'s server and
dropped after). Each scenario run gets an advisor of its own (its own Twilio number), so runs
never share a conversation, a memory or a profile. The model is whatever OpenAI-compatible
server `base_url` names, reached through the recording proxy; Twilio is the local double.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import SecretStr

from advisors.repository import add_advisor, update_advisor
from bot.app import create_app
from bot.evals.chat_client import ChatClient, ChatError, Usage
from bot.evals.checks import TurnOutcome, Verdict, check, numbers_in, sources_of
from bot.evals.doubles import ModelProxy, Recorder, TwilioDouble
from bot.evals.judge import Grade, grade
from bot.evals.scenarios import Scenario
from bot.evals.simulated_customer import SimulatedCustomer
from bot.infra.database import resolve_database
from bot.settings import Settings
from bot.twilio.paths import WEBHOOK_PATH
from bot.twilio.simulated import signed_form
from bot.worker.answer import FIGURE_SEPARATOR, UNGROUNDED_PREFIX
from memory.ai.checkpointer import remembered_summary
from memory.knowledge import store
from memory.knowledge.passages import split
from memory.records import conversations, profiles

ACCOUNT_SID = "AC" + "e" * 32
AUTH_TOKEN = "advisor-bot-eval-" + "0" * 16
TURN_TIMEOUT_SECONDS = 180.0


@dataclass
class ScenarioResult:
    """One run of one scenario: its verdicts, transcript, tool calls and tokens."""

    id: str
    tags: list[str]
    run: int
    verdicts: list[Verdict] = field(default_factory=list)
    transcript: list[dict[str, str]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    error: str | None = None
    simulated: bool = False
    held_back: list[dict[str, Any]] = field(default_factory=list)  # answers the figure check kept back
    grades: list[Grade] = field(default_factory=list)
    judge_error: str | None = None
    judge_usage: Usage = field(default_factory=Usage)
    customer_usage: Usage = field(default_factory=Usage)

    @property
    def passed(self) -> bool:
        """Whether it ran and every check held."""
        return self.error is None and all(verdict.passed for verdict in self.verdicts)

    @property
    def failed_names(self) -> list[str]:
        """The names of the checks that failed, each once, in the order they were checked."""
        return list(dict.fromkeys(verdict.name for verdict in self.verdicts if not verdict.passed))


@dataclass(frozen=True)
class RunOptions:
    """What the evaluation runs against."""

    model: str
    base_url: str
    api_key: str | None
    database_url: str | None = None
    repeat: int = 1
    timeout: float = 60.0
    memory_tokens: int = 2000
    judge: ChatClient | None = None  # no judge when None
    customer: ChatClient | None = None  # plays the simulated customers; they are skipped when None


def run_scenarios(
    scenarios: list[Scenario], options: RunOptions, *, on_result: Callable[[ScenarioResult], None]
) -> list[ScenarioResult]:
    """Run every scenario `options.repeat` times; report each result as it is known."""
    recorder = Recorder()
    twilio = TwilioDouble(AUTH_TOKEN)
    recorder.twilio_url = twilio.url
    proxy = ModelProxy(recorder, upstream=options.base_url, api_key=options.api_key, timeout=options.timeout)
    try:
        with (
            _database(options.database_url) as (database_url, data_dir),
            _server(_settings(options, database_url, data_dir, twilio.url, proxy.url)) as (base, conninfo),
        ):
            results = []
            place = _Place(base, conninfo, recorder, options.judge, options.customer)
            for run in range(1, options.repeat + 1):
                for number, scenario in enumerate(scenarios):
                    result = asyncio.run(_run_one(scenario, run, number + 1000 * run, place))
                    on_result(result)
                    results.append(result)
            return results
    finally:
        proxy.close()
        twilio.close()


def _settings(
    options: RunOptions, database_url: str | None, data_dir: Path, twilio_url: str, proxy_url: str
) -> Settings:
    values: dict[str, Any] = {
        "embedded_data_dir": data_dir,
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_api_base_url": twilio_url,
        # Voice notes come from the double: an exact host:port entry lets a loopback host through.
        "twilio_media_hosts": twilio_url.removeprefix("http://"),
        "media_cdn_hosts": twilio_url.removeprefix("http://"),
        "openai_api_key": "eval-through-the-recording-proxy",
        "openai_base_url": proxy_url + "/v1",
        "openai_model": options.model,
        "openai_timeout_seconds": options.timeout,
        # Small on purpose: the long scenarios fold their memory as a months-long chat would.
        "ai_memory_tokens": options.memory_tokens,
        "openai_embedding_model": None,
        "debounce_seconds": 0,
        "job_retry_base_seconds": 1,
        "log_level": "WARNING",
        "webhook_rate_limit": 0,
        "api_rate_limit": 0,
        "ai_loop_max_replies": 0,
        "event_webhook_urls": "",
        "hubspot_access_token": None,
        "admin_token": None,
    }
    if database_url is not None:
        values["database_url"] = database_url
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.contextmanager
def _database(server_url: str | None) -> Iterator[tuple[str | None, Path]]:
    """A database for this run: the embedded default in a temporary folder, or one made on `server_url`."""
    folder = Path(tempfile.mkdtemp(prefix="advisor-bot-eval-"))
    try:
        if server_url is None:
            yield None, folder / "pgdata"
            return
        name = f"advisor_bot_eval_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield psycopg.conninfo.make_conninfo(server_url, dbname=name), folder / "pgdata"
        finally:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _server(settings: Settings) -> Iterator[tuple[str, str]]:
    """The whole app (web and worker) on a loopback port; yields its URL and the database's."""
    database = resolve_database(settings)  # starts the embedded server when no URL is given
    with contextlib.closing(_free_socket()) as probe:
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = settings.model_copy(
        update={"public_base_url": base, "database_url": SecretStr(database.conninfo)}
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_config=None, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server under evaluation did not start")
        time.sleep(0.05)
    try:
        yield base, database.conninfo
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _free_socket() -> Any:
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    return probe


@dataclass(frozen=True)
class _Chat:
    """One scenario run's customer writing to its advisor through the running server."""

    client: httpx.AsyncClient
    conn: Any
    recorder: Recorder
    url: str
    advisor_id: Any
    advisor_number: str
    customer: str
    customer_name: str | None


@dataclass(frozen=True)
class _Place:
    """Where scenario runs happen: the server, its database, the recorder, the helper models."""

    base: str
    conninfo: str
    recorder: Recorder
    judge: ChatClient | None
    customer: ChatClient | None


async def _run_one(scenario: Scenario, run: int, number: int, place: _Place) -> ScenarioResult:
    result = ScenarioResult(id=scenario.id, tags=scenario.tags, run=run, simulated=scenario.simulated)
    started = time.monotonic()
    advisor_number, customer = f"+1415555{number % 10_000:04d}", f"+57301{number % 100_000:05d}00"
    try:
        async with (
            await psycopg.AsyncConnection.connect(
                place.conninfo, autocommit=True, row_factory=dict_row
            ) as conn,
            httpx.AsyncClient(timeout=30) as client,
        ):
            advisor_id = await _set_up(conn, scenario, number, advisor_number, customer)
            chat = _Chat(
                client,
                conn,
                place.recorder,
                place.base + WEBHOOK_PATH,
                advisor_id,
                advisor_number,
                customer,
                scenario.customer_name,
            )
            await _converse(chat, scenario, result, place.customer)
        if place.judge is not None:
            try:
                result.grades = await grade(place.judge, scenario, result.transcript, result.judge_usage)
            except ChatError as error:
                result.judge_error = str(error)
    except Exception as error:  # noqa: BLE001 - one scenario's failure is reported, the run goes on
        result.error = f"{type(error).__name__}: {error}"[:500]
    finally:
        for helper in (place.judge, place.customer):
            if helper is not None:
                await helper.close()  # its connections belong to this run's event loop
    calls = place.recorder.calls_since(started)
    result.prompt_tokens = sum(call.prompt_tokens for call in calls)
    result.completion_tokens = sum(call.completion_tokens for call in calls)
    result.seconds = time.monotonic() - started
    return result


async def _converse(
    chat: _Chat, scenario: Scenario, result: ScenarioResult, customer_model: ChatClient | None
) -> None:
    """Play the scenario's turns (or its simulated customer's), checking each answer."""
    outcomes: list[TurnOutcome] = []
    sources = sources_of(scenario)  # what the business wrote; the customer's words join below

    async def say(position: int, words: str, *, voice: bool = False) -> TurnOutcome:
        nonlocal sources
        outcome = await _turn(chat, words, voice=voice)
        outcomes.append(outcome)
        result.transcript.append({"customer": words, **({"as": "voice note"} if voice else {})})
        result.transcript += [{"advisor": reply} for reply in outcome.replies]
        result.tool_calls += [
            {"turn": position, "name": name, "arguments": arguments} for name, arguments in outcome.tool_calls
        ]
        result.held_back += [{"turn": position, "figures": outcome.held_back}] if outcome.held_back else []
        sources |= numbers_in(words)
        return outcome

    goal_met: bool | None = None
    if scenario.turns is not None:
        for position, turn in enumerate(scenario.turns):
            if turn.wait:
                await asyncio.sleep(turn.wait)
            outcome = await say(position, turn.words, voice=turn.voice is not None)
            result.verdicts += check(turn.expect, [outcome], sources)
    else:
        if customer_model is None:
            raise ValueError("a simulated customer needs --simulate-customers")
        simulated = SimulatedCustomer(customer_model, scenario, result.customer_usage)
        for position in range(scenario.max_turns):
            words = await simulated.next_message(result.transcript)
            if words is None:
                break
            await say(position, words)
        goal_met = simulated.goal_met
    result.verdicts += check(scenario.expect, outcomes, sources, goal_met=goal_met)


async def _set_up(conn: Any, scenario: Scenario, number: int, advisor_number: str, customer: str) -> Any:
    setup = scenario.advisor
    advisor = await add_advisor(
        conn=conn,
        name=setup.name,
        phone_number=f"+57300{number % 100_000:05d}99",
        twilio_phone_number=advisor_number,
    )
    # Replies are judged as text: a voice note from the customer does not switch on voice replies.
    settings: dict[str, Any] = {"language": setup.language, "audio_reciprocal": False}
    if setup.instructions:
        settings["system_prompt"] = setup.instructions
    if setup.time_zone:
        settings["time_zone"] = setup.time_zone
    if setup.working_hours is not None:
        settings["working_hours"] = setup.working_hours
    await update_advisor(
        conn=conn,
        advisor_id=advisor.id,
        name=advisor.name,
        phone_number=advisor.phone_number,
        twilio_phone_number=advisor.twilio_phone_number,
        settings=settings,
    )
    for document in setup.knowledge:
        await store.add_document(
            conn=conn,
            advisor_id=advisor.id,
            source=document.source,
            passages=split(document.text, document.source),
            content=document.text,
        )
    if scenario.profile is not None:
        conversation = await conversations.touch_conversation(
            conn=conn, advisor_id=advisor.id, phone=customer
        )
        changes = {
            key: value for key, value in scenario.profile.model_dump().items() if value not in (None, [])
        }
        await profiles.update_profile(
            conn=conn, advisor_id=advisor.id, conversation_id=conversation, changes=changes
        )
    return advisor.id


async def _turn(chat: _Chat, text: str, *, voice: bool = False) -> TurnOutcome:
    extra: dict[str, str] = {}
    sid = "SM" + uuid.uuid4().hex
    if voice:  # a voice note, whose transcription the proxy answers with these words
        with chat.recorder.lock:
            chat.recorder.transcript = text
        media = (
            f"{chat.recorder.twilio_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media/ME{sid[2:]}"
        )
        extra = {
            "Body": "",
            "NumMedia": "1",
            "MessageType": "audio",
            "MediaContentType0": "audio/ogg",
            "MediaUrl0": media,
        }
    form, signature = signed_form(
        url=chat.url,
        auth_token=AUTH_TOKEN,
        to=chat.advisor_number,
        from_=chat.customer,
        text=text,
        sid=sid,
        extra=extra,
        profile_name=chat.customer_name,
    )
    handovers_before = await _last_handover(chat.conn, chat.advisor_id)
    started = time.monotonic()
    answer = await chat.client.post(chat.url, data=form, headers={"X-Twilio-Signature": signature})
    if answer.status_code != 200:
        raise RuntimeError(f"the webhook answered {answer.status_code}")
    inbound_id, held_back = await _answered(chat.conn, sid)
    cursor = await chat.conn.execute(
        "SELECT body FROM messages WHERE advisor_id = %s AND direction = 'outbound' AND id > %s "
        "AND author IN ('ai', 'system') "
        "AND conversation_id = (SELECT conversation_id FROM messages WHERE id = %s) ORDER BY id",
        (chat.advisor_id, inbound_id, inbound_id),
    )
    replies = [str(row["body"] or "") for row in await cursor.fetchall()]
    cursor = await chat.conn.execute(
        "SELECT coalesce(category, '') AS category FROM handovers "
        "WHERE advisor_id = %s AND id > %s ORDER BY id",
        (chat.advisor_id, handovers_before),
    )
    kinds = [str(row["category"]) for row in await cursor.fetchall()]
    return TurnOutcome(
        said=text,
        replies=replies,
        handed_over=bool(kinds),
        tool_calls=[
            call for model_call in chat.recorder.calls_since(started) for call in model_call.tool_calls
        ],
        handover_categories=[kind for kind in kinds if kind],
        summary=await remembered_summary(chat.conn, advisor_id=chat.advisor_id, phone=chat.customer),
        held_back=held_back,
    )


async def _last_handover(conn: Any, advisor_id: Any) -> int:
    cursor = await conn.execute(
        "SELECT coalesce(max(id), 0) AS last FROM handovers WHERE advisor_id = %s", (advisor_id,)
    )
    row = await cursor.fetchone()
    return int(row["last"]) if row else 0


async def _answered(conn: Any, sid: str) -> tuple[int, list[str]]:
    """Wait until the message is processed and its replies have left; return its id.

    Also the figures the server's check held back from its answer (`bot.agent.grounding`).
    """
    deadline = time.monotonic() + TURN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        cursor = await conn.execute(
            "SELECT m.id, m.processed_at IS NOT NULL AS done, m.status, m.error_message, "
            " (SELECT count(*) FROM messages o WHERE o.conversation_id = m.conversation_id "
            "   AND o.direction = 'outbound' AND o.status IN ('pending', 'sending')) AS unsent, "
            " (SELECT count(*) FROM procrastinate_jobs j WHERE j.status IN ('todo', 'doing') "
            "   AND j.args ->> 'conversation_id' = m.conversation_id::text) AS jobs "
            "FROM messages m WHERE m.twilio_sid = %s",
            (sid,),
        )
        row = await cursor.fetchone()
        if row is not None and row["done"] and row["unsent"] == 0 and row["jobs"] == 0:
            held = str(row["error_message"] or "") if row["status"] == "ungrounded" else ""
            figures = held.removeprefix(UNGROUNDED_PREFIX).split(FIGURE_SEPARATOR) if held else []
            return int(row["id"]), figures
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no answer within {TURN_TIMEOUT_SECONDS:.0f} s")
