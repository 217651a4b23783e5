"""Owns the advisor's console: the inbox, a conversation, and what is done in it.

Isolation is the API's: an advisor's session reads and writes only through queries scoped to
that advisor, and another advisor's conversation is a 404 exactly like one that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, RedirectResponse, Response

from advisors.models import CONTENT_SID_PATTERN
from advisors.repository import get_advisor, list_advisor_rows
from bot.twilio.choices import ChoicesRefusedError, build_choices, choice_kind
from bot.twilio.media_fetch import MediaError, download_media
from bot.web.advisor_replies import ManualReplyRefusedError, queue_manual_reply
from bot.web.console.guard import (
    Acting,
    SignedIn,
    Viewer,
    runtime_of,
)
from bot.web.console.media_policy import TICKET_PATH, MediaTicket, media_shape, read_ticket, sign_ticket
from bot.web.console.rendering import render
from bot.web.conversation_switches import switch_ai, switch_audio
from memory.records import conversations, drafts, inbox, listing, message_flags, profiles
from memory.records.handover_briefs import latest_handover
from memory.records.media_files import MEDIA_PATH
from memory.records.models import Conn, Conversation, Message
from memory.records.usage import conversation_cost

router = APIRouter(prefix="/console", include_in_schema=False)

INBOX_PAGE = 50
TIMELINE_LIMIT = 200
TEMPLATE_VARIABLES = 5


async def _advisor_names(conn: Conn, who: Viewer) -> tuple[list[dict[str, Any]], dict[str, str]]:
    if not who.is_admin:
        return [], {}
    rows = await list_advisor_rows(conn=conn)
    return rows, {str(row["id"]): row["name"] for row in rows}


@router.get("", name="console_inbox")
async def inbox_page(
    request: Request,
    who: SignedIn,
    show: str = "all",
    q: Annotated[str, Query(max_length=200)] = "",
    advisor: str = "",
    label: Annotated[str, Query(max_length=100)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = INBOX_PAGE,
) -> Response:
    """The inbox: conversations by latest activity, with filters (a label among them) and search."""
    filter_: inbox.InboxFilter = show if show in ("waiting", "ai") else "all"  # type: ignore[assignment]
    scope = who.advisor_id
    if who.is_admin and advisor:
        try:
            scope = UUID(advisor)
        except ValueError:
            scope = None
    q = q.replace("\x00", "")
    async with runtime_of(request).pool.connection() as conn:
        label = label.replace("\x00", "")
        rows = await inbox.inbox(
            conn=conn, advisor_id=scope, show=filter_, search=q, label=label, limit=limit + 1
        )
        advisors, names = await _advisor_names(conn, who)
        labels = await inbox.labels_in_use(conn=conn, advisor_id=scope)
    query = {"show": filter_, "q": q, "advisor": advisor if who.is_admin else "", "label": label}
    more_url = None
    if len(rows) > limit:
        rows = rows[:limit]
        more_url = "/console?" + urlencode({**query, "limit": limit + INBOX_PAGE})
    return render(
        request,
        "inbox.html",
        who,
        rows=rows,
        show=filter_,
        q=q,
        advisors=advisors,
        advisor_names=names,
        advisor_filter=advisor,
        labels=labels,
        label=label,
        more_url=more_url,
        # The filters come from the form itself (hx-include): a refresh never brings back a list
        # of filters the advisor has just changed.
        refresh_url="/console?" + urlencode({"limit": limit}),
    )


@router.get("/waiting", name="console_waiting_count")
async def waiting_count(request: Request, who: SignedIn) -> Response:
    """How many conversations wait for this viewer (every advisor's, for an admin): the nav's counter.

    The page asks again on every live change; the script raises a browser notification when the
    number grows while the tab is open.
    """
    async with runtime_of(request).pool.connection() as conn:
        count = await conversations.count_waiting(conn=conn, advisor_id=who.advisor_id)
    return render(request, "_waiting_count.html", who, count=count)


async def visible_conversation(conn: Conn, who: Viewer, conversation_id: str) -> Conversation:
    """The conversation, if the viewer may see it; a 404 otherwise, whether it exists or not."""
    try:
        wanted = UUID(conversation_id)
    except ValueError:
        raise HTTPException(404, who.t("error.not_found")) from None
    conversation = await listing.find_visible_conversation(
        conn=conn, advisor_id=who.advisor_id, conversation_id=wanted
    )
    if conversation is None:
        raise HTTPException(404, who.t("error.not_found"))
    return conversation


async def conversation_page_response(
    request: Request,
    who: Viewer,
    conversation_id: str,
    *,
    problem: str | None = None,
    status_code: int = 200,
    typed: dict[str, str] | None = None,
) -> Response:
    """The conversation page as it is now: what every form on it answers with (`problem` shown).

    `typed` is what a refused reply said (text, options, their kind): it is filled in again, so
    a limit broken costs the advisor a correction, not the whole message.
    """
    async with runtime_of(request).pool.connection() as conn:
        conversation = await visible_conversation(conn, who, conversation_id)
        advisor = await get_advisor(conn=conn, advisor_id=str(conversation.advisor_id))
        items = await inbox.timeline(
            conn=conn,
            advisor_id=conversation.advisor_id,
            conversation_id=conversation.conversation_id,
            limit=TIMELINE_LIMIT,
        )
        profile = await profiles.get_profile(
            conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
        )
        handover = await latest_handover(
            conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
        )
        draft = await drafts.pending_draft(
            conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
        )
        flags = await message_flags.conversation_flags(
            conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
        )
        cost = await conversation_cost(
            conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
        )
        # The inbox beside it (a desktop's left pane): the viewer's own conversations, as the inbox.
        listed = await inbox.inbox(
            conn=conn, advisor_id=who.advisor_id, show="all", search="", limit=INBOX_PAGE
        )
        _, names = await _advisor_names(conn, who)
    assert advisor is not None
    flags_by_message: dict[int, list[message_flags.MessageFlag]] = {}
    for flag in flags:
        flags_by_message.setdefault(flag.message_id, []).append(flag)
    shown = [{"kind": _kind(item), "value": item} for item in items]
    messages = sum(1 for item in items if isinstance(item, Message))

    def media_link(message: Message, index: int) -> str:
        return str(
            request.url_for(
                "console_media",
                conversation_id=str(conversation.conversation_id),
                message_id=str(message.id),
                index=str(index),
            )
        )

    return render(
        request,
        "conversation.html",
        who,
        status_code=status_code,
        c=conversation,
        profile=profile,
        advisor=advisor,
        handover=handover,
        cost=cost,
        draft=draft,
        advisor_mode=advisor.settings.ai_mode,
        flags_by_message=flags_by_message,
        flag_categories=message_flags.FLAG_CATEGORIES,
        items=shown,
        truncated=messages >= TIMELINE_LIMIT,
        templates=advisor.settings.templates,
        problem=problem,
        typed=typed or {},
        media_link=media_link,
        conversation_title=(profile.name if profile else None) or conversation.phone_number,
        rows=listed,
        advisor_names=names,
        more_url="/console" if len(listed) >= INBOX_PAGE else None,
        refresh_url="/console?" + urlencode({"limit": INBOX_PAGE}),
        current=conversation.conversation_id,
    )


def _kind(item: object) -> str:
    if isinstance(item, Message):
        return "message"
    if isinstance(item, inbox.Note):
        return "note"
    return "handover"


@router.get("/c/{conversation_id}", name="console_conversation")
async def conversation_page(request: Request, who: SignedIn, conversation_id: str) -> Response:
    """One conversation: history, switches, reply box and notes."""
    return await conversation_page_response(request, who, conversation_id)


@router.post("/c/{conversation_id}/ai", name="console_switch_ai")
async def switch_ai_page(request: Request, who: Acting, conversation_id: str) -> Response:
    """Turn the AI on or off for this customer."""
    runtime = runtime_of(request)
    async with runtime.pool.connection() as conn, conn.transaction():
        conversation = await visible_conversation(conn, who, conversation_id)
        await switch_ai(
            conn=conn,
            events=runtime.events,
            conversation=conversation,
            enabled=who.form.get("enabled") == "true",
            changed_by="admin" if who.is_admin else "advisor",
        )
    return await conversation_page_response(request, who, conversation_id)


@router.post("/c/{conversation_id}/audio", name="console_switch_audio")
async def switch_audio_page(request: Request, who: Acting, conversation_id: str) -> Response:
    """Send this customer voice replies, or text only."""
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        conversation = await visible_conversation(conn, who, conversation_id)
        await switch_audio(conn=conn, conversation=conversation, enabled=who.form.get("enabled") == "true")
    return await conversation_page_response(request, who, conversation_id)


@router.post("/c/{conversation_id}/reply", name="console_reply")
async def reply(request: Request, who: Acting, conversation_id: str) -> Response:
    """Send a message by hand from the advisor's number (or an approved template outside 24 h)."""
    runtime = runtime_of(request)
    form = who.form
    content_sid = (form.get("content_sid_typed") or form.get("content_sid") or "").strip() or None
    variables = {
        str(n): form[f"var{n}"].strip()
        for n in range(1, TEMPLATE_VARIABLES + 1)
        if form.get(f"var{n}", "").strip()
    }
    text = form.get("text", "").strip()[:1600] or None
    if content_sid is not None and not re.fullmatch(CONTENT_SID_PATTERN, content_sid):
        return await conversation_page_response(
            request, who, conversation_id, problem="Content SID: HX + 32 hex digits", status_code=422
        )
    choices = None
    options = form.get("options", "").splitlines()
    if content_sid is None and any(option.strip() for option in options):
        try:
            choices = build_choices(text or "", options, choice_kind(form.get("options_kind")))
        except ChoicesRefusedError as error:
            typed = {key: form.get(key, "") for key in ("text", "options", "options_kind")}
            return await conversation_page_response(
                request, who, conversation_id, problem=str(error), status_code=422, typed=typed
            )
    try:
        async with runtime.pool.connection() as conn, conn.transaction():
            conversation = await visible_conversation(conn, who, conversation_id)
            advisor = await get_advisor(conn=conn, advisor_id=str(conversation.advisor_id))
            assert advisor is not None
            await queue_manual_reply(
                conn=conn,
                queue=runtime.queue,
                settings=runtime.settings,
                advisor=advisor,
                conversation=conversation,
                text=None if content_sid else text,
                content_sid=content_sid,
                content_variables=variables or None,
                choices=choices,
                events=runtime.events,
            )
    except ManualReplyRefusedError as error:
        return await conversation_page_response(
            request, who, conversation_id, problem=str(error), status_code=409
        )
    return await conversation_page_response(request, who, conversation_id)


@router.post("/c/{conversation_id}/notes", name="console_note")
async def add_note(request: Request, who: Acting, conversation_id: str) -> Response:
    """Keep an internal note; it is never sent to the customer."""
    body = who.form.get("body", "").strip()[:4000]
    if not body:
        return await conversation_page_response(request, who, conversation_id, problem="—", status_code=422)
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        conversation = await visible_conversation(conn, who, conversation_id)
        await inbox.add_note(
            conn=conn,
            advisor_id=conversation.advisor_id,
            conversation_id=conversation.conversation_id,
            author="admin" if who.is_admin else "advisor",
            body=body,
        )
    return await conversation_page_response(request, who, conversation_id)


@router.get("/c/{conversation_id}/media/{message_id}/{index}", name="console_media")
async def media(
    request: Request, who: SignedIn, conversation_id: str, message_id: int, index: int
) -> Response:
    """A message's picture, voice note or file, fetched with the server's Twilio credentials.

    The browser cannot fetch Twilio's media itself (it needs the account's credentials); the
    fetch goes through the same host policy as the worker's. What is served inline, and as what
    type, is decided by `media_shape` from the type the page drew it by (the webhook's), never
    from the media server's answer; `SandboxMedia` adds the sandbox to every answer here. With
    CONSOLE_MEDIA_ORIGIN set, the answer is a redirect to a signed, short-lived link there.
    """
    runtime = runtime_of(request)
    async with runtime.pool.connection() as conn:
        conversation = await visible_conversation(conn, who, conversation_id)
    origin = runtime.settings.console_media_origin
    if origin:
        ticket = MediaTicket(
            str(conversation.advisor_id), str(conversation.conversation_id), message_id, index
        )
        return RedirectResponse(f"{origin}{TICKET_PATH}{sign_ticket(ticket, runtime.console_key)}", 302)
    return await _serve_media(
        request, conversation.advisor_id, conversation.conversation_id, message_id, index
    )


@router.get("/m/{token}", name="console_media_ticket")
async def media_by_ticket(request: Request, token: str) -> Response:
    """Customer media on CONSOLE_MEDIA_ORIGIN, by a signed link the console's media route made.

    No session cookie reaches this origin; the link is the permission, for a few minutes, and
    only on that origin (never on the console's own, whose cookies a document could read).
    """
    runtime = runtime_of(request)
    origin = runtime.settings.console_media_origin
    ticket = read_ticket(token, runtime.console_key)
    if not origin or ticket is None or f"{request.url.scheme}://{request.url.netloc}" != origin:
        raise HTTPException(404, "not found")
    try:
        advisor_id, conversation_id = UUID(ticket.advisor_id), UUID(ticket.conversation_id)
    except ValueError:
        raise HTTPException(404, "not found") from None
    return await _serve_media(request, advisor_id, conversation_id, ticket.message_id, ticket.index)


async def _serve_media(
    request: Request, advisor_id: UUID, conversation_id: UUID, message_id: int, index: int
) -> Response:
    runtime = runtime_of(request)
    async with runtime.pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT media FROM messages WHERE advisor_id = %s AND conversation_id = %s AND id = %s",
            (advisor_id, conversation_id, message_id),
        )
        row = await cursor.fetchone()
    items = (row["media"] if row else None) or []
    if not 0 <= index < len(items):
        raise HTTPException(404, "not found")
    url = str(items[index].get("url") or "")
    own = f"{runtime.settings.public_base_url or ''}{MEDIA_PATH}/"
    if runtime.settings.public_base_url and url.startswith(own):
        return RedirectResponse(url, status_code=302)
    shape = media_shape(items[index].get("content_type"))

    async def download(sink: Callable[[bytes], object]) -> object:
        return await download_media(url, settings=runtime.settings, sink=sink)

    key = f"{advisor_id}/{conversation_id}/{message_id}/{index}"
    try:
        path, release = await runtime.media_cache.open(key, download)
    except MediaError as error:
        raise HTTPException(502, f"media unavailable: {error}") from None
    return FileResponse(
        path,
        media_type=shape.served_type,
        headers={
            "Cache-Control": "private, max-age=3600",
            "Content-Disposition": shape.disposition
            + ("" if shape.inline else f'; filename="media-{message_id}-{index}"'),
        },
        background=BackgroundTask(release),
    )


@router.post("/c/{conversation_id}/profile", name="console_profile")
async def save_profile(request: Request, who: Acting, conversation_id: str) -> Response:
    """Edit who the customer is: name, stage, labels, notes, marketing consent."""
    form = who.form
    stage = form.get("stage", "new")
    labels = [label.strip()[:50] for label in form.get("labels", "").split(",") if label.strip()]
    changes: dict[str, Any] = {
        "name": form.get("name", "").strip()[:200] or None,
        "stage": stage if stage in profiles.STAGES else "new",
        "labels": list(dict.fromkeys(labels))[:50],
        "notes": form.get("notes", "").strip()[:8000] or None,
        "marketing_consent": form.get("marketing_consent") == "true",
    }
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        conversation = await visible_conversation(conn, who, conversation_id)
        await profiles.update_profile(
            conn=conn,
            advisor_id=conversation.advisor_id,
            conversation_id=conversation.conversation_id,
            changes=changes,
            changed_by="admin" if who.is_admin else "advisor",
        )
    return await conversation_page_response(request, who, conversation_id)
