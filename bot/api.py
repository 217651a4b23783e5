"""Owns the conversation API (`/api`, JSON, Bearer tokens) that advisors' tools and CRMs use.

The admin token sees every advisor; an advisor's token sees only that advisor's data, and
another advisor's conversation is answered exactly like one that does not exist (404).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from advisors.repository import get_advisor
from advisors.tokens import advisor_for_token
from bot.events import attention_event
from bot.manual import ManualReplyRefusedError, queue_manual_reply
from bot.runtime import Runtime
from memory import listing, store

bearer = HTTPBearer(auto_error=False, description="The admin token or an advisor's token")
router = APIRouter(prefix="/api", tags=["conversations"])

SystemName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_\-]{1,50}$")]
# PostgreSQL text and jsonb cannot hold NUL: refused here as 422 rather than failing there.
ExternalId = Annotated[str, StringConstraints(pattern=r"^[^\x00]{1,200}$")]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the admin (`advisor_id` None) or one advisor."""

    advisor_id: UUID | None

    @property
    def is_admin(self) -> bool:
        """True for the admin token."""
        return self.advisor_id is None


class ConversationOut(BaseModel):
    """One advisor + customer conversation."""

    conversation_id: UUID
    advisor_id: UUID
    phone_number: str
    ai_attention: bool
    audio_available: bool
    handover_reason: str | None
    ai_attention_changed_at: datetime | None
    ai_attention_changed_by: str | None
    opted_out: bool
    opted_out_at: datetime | None
    last_inbound_at: datetime | None
    last_advisor_message_at: datetime | None
    window_open: bool = Field(description="Free-form messages allowed (customer wrote within 24 h)")
    crm_refs: dict[str, str]
    created_at: datetime
    updated_at: datetime


class MessageOut(BaseModel):
    """One message of a conversation."""

    id: int
    direction: str
    author: str
    body: str
    media: list[dict[str, Any]]
    twilio_sid: str | None
    status: str
    error_code: str | None
    error_message: str | None
    transcript: str | None = Field(description="What a voice note said, once transcribed")
    media_error: str | None = Field(description="Why the media could not be understood")
    created_at: datetime
    updated_at: datetime


class ConversationPage(BaseModel):
    """A page of conversations; pass `next_cursor` as `cursor` for the next one."""

    items: list[ConversationOut]
    next_cursor: str | None


class MessagePage(BaseModel):
    """A page of messages, oldest first."""

    items: list[MessageOut]
    next_cursor: str | None


class ConversationDetail(ConversationOut):
    """A conversation with (a page of) its messages."""

    messages: MessagePage


class ConversationPatch(BaseModel):
    """The flags an advisor may change; at least one."""

    model_config = ConfigDict(extra="forbid")

    ai_attention: bool | None = None
    audio_available: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> ConversationPatch:
        if self.ai_attention is None and self.audio_available is None:
            raise ValueError("give ai_attention and/or audio_available")
        return self


class ManualReplyIn(BaseModel):
    """A message the advisor sends by hand: free text, or an approved template."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1600)] | None = (
        None
    )
    content_sid: Annotated[str, StringConstraints(pattern=r"^HX[0-9a-fA-F]{32}$")] | None = None
    content_variables: dict[str, Annotated[str, StringConstraints(max_length=1024)]] | None = None

    @model_validator(mode="after")
    def _text_or_template(self) -> ManualReplyIn:
        if self.text is None and self.content_sid is None:
            raise ValueError("give text, or content_sid for an approved template")
        if self.content_variables and self.content_sid is None:
            raise ValueError("content_variables go with content_sid")
        return self


class ManualReplyOut(BaseModel):
    """The accepted message; the worker sends it and reports through events and status."""

    message_id: int
    conversation_id: UUID
    status: str


class AdvisorOut(BaseModel):
    """One registered advisor."""

    id: UUID
    name: str
    phone_number: str
    twilio_phone_number: str
    is_active: bool
    created_at: datetime
    settings: dict[str, Any]


class StatsDay(BaseModel):
    """One day (UTC) of an advisor's activity."""

    day: date
    conversations: int
    inbound: int
    ai_replies: int
    human_replies: int
    handovers: int
    median_first_response_seconds: float | None


class StatsOut(BaseModel):
    """Per-day activity of one advisor."""

    advisor_id: UUID
    days: list[StatsDay]


class CacheInvalidated(BaseModel):
    """The advisor cache was dropped in every process."""

    status: str


def runtime_of(request: Request) -> Runtime:
    """The process runtime, from the lifespan state."""
    runtime: Runtime = request.state.runtime
    return runtime


async def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """Authenticate the Bearer token; 401 for a missing or unknown one."""
    runtime = runtime_of(request)
    caller = credentials.credentials if credentials else (request.client.host if request.client else "")
    if not runtime.api_limiter.allow(hashlib.sha256(caller.encode()).hexdigest()):
        raise HTTPException(429, "too many requests, retry later", headers={"Retry-After": "1"})
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(401, "missing Bearer token", headers={"WWW-Authenticate": "Bearer"})
    token = credentials.credentials
    admin = runtime.settings.admin_token
    if admin is not None and hmac.compare_digest(token.encode(), admin.get_secret_value().encode()):
        return Principal(advisor_id=None)
    async with runtime.pool.connection() as conn:
        advisor_id = await advisor_for_token(conn=conn, token=token)
    if advisor_id is None:
        raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
    return Principal(advisor_id=advisor_id)


Caller = Annotated[Principal, Depends(principal)]


def _uuid_or_404(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise HTTPException(404, f"no such {what}") from None


def _conversation_out(row: dict[str, Any]) -> ConversationOut:
    window = row["last_inbound_at"] is not None and datetime.now(UTC) - row["last_inbound_at"] < timedelta(
        hours=24
    )
    return ConversationOut.model_validate({**row, "window_open": window})


async def _load(conn: store.Conn, caller: Principal, conversation_id: str) -> dict[str, Any]:
    row = await listing.get_conversation_row(
        conn=conn, advisor_id=caller.advisor_id, conversation_id=_uuid_or_404(conversation_id, "conversation")
    )
    if row is None:
        raise HTTPException(404, "no such conversation")
    return row


def _bad_cursor() -> HTTPException:
    return HTTPException(422, [{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}])


@router.get("/advisors", response_model=list[AdvisorOut], tags=["advisors"])
async def list_advisors(request: Request, caller: Caller) -> list[AdvisorOut]:
    """Every registered advisor (admin only)."""
    if not caller.is_admin:
        raise HTTPException(403, "admin token required")
    async with runtime_of(request).pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT id, name, phone_number, twilio_phone_number, coalesce(is_active, true) AS is_active, "
            "created_at, settings FROM advisors ORDER BY name, id"
        )
        rows = await cursor.fetchall()
    return [AdvisorOut.model_validate(row) for row in rows]


@router.get("/advisors/{advisor_id}/stats", response_model=StatsOut, tags=["advisors"])
async def advisor_stats(
    request: Request,
    caller: Caller,
    advisor_id: str,
    days: Annotated[int, Query(ge=1, le=366, description="How many days back, today included")] = 30,
) -> StatsOut:
    """Per day: conversations, inbound messages, AI and human replies, handovers, first-response time."""
    target = _uuid_or_404(advisor_id, "advisor")
    if not caller.is_admin and caller.advisor_id != target:
        raise HTTPException(404, "no such advisor")
    async with runtime_of(request).pool.connection() as conn:
        if await get_advisor(conn=conn, advisor_id=str(target)) is None:
            raise HTTPException(404, "no such advisor")
        until = datetime.now(UTC).date()
        rows = await listing.advisor_stats(
            conn=conn, advisor_id=target, since=until - timedelta(days=days - 1), until=until
        )
    return StatsOut(advisor_id=target, days=[StatsDay.model_validate(row) for row in rows])


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    request: Request,
    caller: Caller,
    advisor_id: UUID | None = None,
    ai_attention: bool | None = None,
    updated_since: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationPage:
    """Conversations in creation order, filtered; each appears once however many arrive meanwhile."""
    scope = caller.advisor_id
    if scope is not None and advisor_id is not None and advisor_id != scope:
        return ConversationPage(items=[], next_cursor=None)
    async with runtime_of(request).pool.connection() as conn:
        try:
            rows, next_cursor = await listing.list_conversations(
                conn=conn,
                advisor_id=scope or advisor_id,
                ai_attention=ai_attention,
                updated_since=updated_since,
                after=cursor,
                limit=limit,
            )
        except listing.BadCursorError:
            raise _bad_cursor() from None
    return ConversationPage(items=[_conversation_out(row) for row in rows], next_cursor=next_cursor)


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(
    request: Request,
    caller: Caller,
    conversation_id: str,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ConversationDetail:
    """One conversation with a page of its messages, oldest first."""
    async with runtime_of(request).pool.connection() as conn:
        row = await _load(conn, caller, conversation_id)
        try:
            messages, next_cursor = await listing.list_messages(
                conn=conn,
                advisor_id=row["advisor_id"],
                conversation_id=row["conversation_id"],
                after=cursor,
                limit=limit,
            )
        except listing.BadCursorError:
            raise _bad_cursor() from None
    page = MessagePage(items=[MessageOut.model_validate(m) for m in messages], next_cursor=next_cursor)
    return ConversationDetail(**_conversation_out(row).model_dump(), messages=page)


@router.patch("/conversations/{conversation_id}", response_model=ConversationOut)
async def patch_conversation(
    request: Request, caller: Caller, conversation_id: str, patch: ConversationPatch
) -> ConversationOut:
    """Switch the AI off or on, or the voice replies, for this conversation."""
    runtime = runtime_of(request)
    changed_by = "admin" if caller.is_admin else "advisor"
    async with runtime.pool.connection() as conn, conn.transaction():
        row = await _load(conn, caller, conversation_id)
        conversation = store.Conversation.from_row(row)
        if patch.ai_attention is not None and patch.ai_attention != conversation.ai_attention:
            await store.set_ai_attention(
                conn=conn,
                advisor_id=conversation.advisor_id,
                phone=conversation.phone_number,
                enabled=patch.ai_attention,
                changed_by=changed_by,
            )
            await runtime.events.publish(
                conn, "ai_attention.changed", attention_event(conversation, patch.ai_attention, changed_by)
            )
        if patch.audio_available is not None:
            await store.set_audio_available(
                conn=conn,
                advisor_id=conversation.advisor_id,
                phone=conversation.phone_number,
                enabled=patch.audio_available,
            )
        row = await _load(conn, caller, conversation_id)
    return _conversation_out(row)


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=ManualReplyOut,
    status_code=202,
    responses={409: {"description": "opted out, or outside the 24-hour window without a template"}},
)
async def post_message(
    request: Request, caller: Caller, conversation_id: str, reply: ManualReplyIn
) -> ManualReplyOut:
    """Send a message by hand from the advisor's number; the AI pauses for this customer."""
    runtime = runtime_of(request)
    async with runtime.pool.connection() as conn, conn.transaction():
        row = await _load(conn, caller, conversation_id)
        conversation = store.Conversation.from_row(row)
        advisor = await get_advisor(conn=conn, advisor_id=str(conversation.advisor_id))
        assert advisor is not None
        try:
            message_id = await queue_manual_reply(
                conn=conn,
                queue=runtime.queue,
                settings=runtime.settings,
                advisor=advisor,
                conversation=conversation,
                text=reply.text,
                content_sid=reply.content_sid,
                content_variables=reply.content_variables,
                events=runtime.events,
            )
        except ManualReplyRefusedError as error:
            raise HTTPException(409, str(error)) from None
    return ManualReplyOut(
        message_id=message_id, conversation_id=conversation.conversation_id, status="pending"
    )


@router.get("/conversations/{conversation_id}/crm", response_model=dict[str, str], tags=["crm"])
async def get_crm(request: Request, caller: Caller, conversation_id: str) -> dict[str, str]:
    """The conversation's external ids, by system (for example {"hubspot": "1234"})."""
    async with runtime_of(request).pool.connection() as conn:
        row = await _load(conn, caller, conversation_id)
    return dict(row["crm_refs"])


@router.put("/conversations/{conversation_id}/crm", response_model=dict[str, str], tags=["crm"])
async def put_crm(
    request: Request, caller: Caller, conversation_id: str, refs: dict[SystemName, ExternalId]
) -> dict[str, str]:
    """Replace the conversation's external ids."""
    if len(refs) > 20:
        raise HTTPException(422, [{"loc": ["body"], "msg": "at most 20 systems", "type": "value_error"}])
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        row = await _load(conn, caller, conversation_id)
        await listing.set_crm_refs(
            conn=conn, advisor_id=row["advisor_id"], conversation_id=row["conversation_id"], refs=refs
        )
    return refs


@router.get("/crm/{system}/{external_id}", response_model=list[ConversationOut], tags=["crm"])
async def find_by_crm(
    request: Request,
    caller: Caller,
    system: Annotated[str, Path(pattern=r"^[a-z0-9_\-]{1,50}$")],
    external_id: Annotated[str, Path(pattern=r"^[^\x00]{1,200}$")],
) -> list[ConversationOut]:
    """The conversations linked to one contact of an external system."""
    async with runtime_of(request).pool.connection() as conn:
        rows = await listing.find_by_crm_ref(
            conn=conn, advisor_id=caller.advisor_id, system=system, external_id=external_id
        )
    return [_conversation_out(row) for row in rows]


@router.post("/admin/cache/invalidate", response_model=CacheInvalidated, tags=["admin"])
async def invalidate_cache(request: Request, caller: Caller) -> CacheInvalidated:
    """Drop the advisor routing cache in every running process (admin only)."""
    if not caller.is_admin:
        raise HTTPException(403, "admin token required")
    runtime = runtime_of(request)
    runtime.resolver.invalidate()
    async with runtime.pool.connection() as conn:
        await conn.execute("SELECT pg_notify('advisor_bot_advisors', '')")
    return CacheInvalidated(status="invalidated")
