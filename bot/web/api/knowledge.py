"""Owns the knowledge endpoints: add, list, remove and search what the business sells.

An advisor's token reads their own documents and the shared ones, and adds or removes only their
own; the admin manages every document, shared ones (for every advisor) included.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from advisors.repository import get_advisor
from bot.infra.document_reader import document_read_limits, read_document_bytes
from bot.infra.usage import usage_scope
from bot.infra.usage_costs import store_calls
from bot.web.api.auth import Caller, Principal, runtime_of
from memory.knowledge import store
from memory.knowledge.passages import MAX_DOCUMENT_BYTES, UnreadableDocumentError

router = APIRouter(tags=["knowledge"])
_MAX_BASE64 = MAX_DOCUMENT_BYTES * 4 // 3 + 4


class DocumentIn(BaseModel):
    """A document as `text` (Markdown, plain text, CSV when `source` ends in .csv), or as bytes.

    `content_base64` carries a file's bytes: a PDF, or any of the text kinds as UTF-8.
    """

    model_config = ConfigDict(extra="forbid")

    source: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"^[^\x00/\\]+$")
    ]
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_DOCUMENT_BYTES)] | None = None
    content_base64: Annotated[str, StringConstraints(min_length=1, max_length=_MAX_BASE64)] | None = None
    advisor_id: UUID | None = None
    shared: bool = False

    @model_validator(mode="after")
    def _text_or_bytes(self) -> DocumentIn:
        if (self.text is None) == (self.content_base64 is None):
            raise ValueError("give the document as text or as content_base64, not both")
        return self

    def content(self) -> bytes:
        """The document's bytes, or why they cannot be had (UnreadableDocumentError)."""
        if self.text is not None:
            return self.text.encode("utf-8", "replace")
        try:
            return base64.b64decode(self.content_base64 or "", validate=True)
        except binascii.Error as error:
            raise UnreadableDocumentError(f"{self.source}: content_base64 is not base64 ({error})") from None


class DocumentOut(store.Document):
    """A stored document; `outcome` says whether this request added, replaced or left it unchanged."""

    outcome: str | None = None


def _owner(caller: Principal, advisor_id: UUID | None, shared: bool) -> UUID | None:
    """Whose document this is: an advisor's own, or (admin only) one advisor's or everyone's."""
    if not caller.is_admin:
        if shared or (advisor_id is not None and advisor_id != caller.advisor_id):
            raise HTTPException(403, "an advisor adds documents for themselves only")
        return caller.advisor_id
    if shared == (advisor_id is not None):
        raise HTTPException(422, "give advisor_id, or shared: true for every advisor")
    return advisor_id


@router.post("/knowledge", response_model=DocumentOut, status_code=201)
async def add_document(
    request: Request, response: Response, caller: Caller, document: DocumentIn
) -> DocumentOut:
    """Add a document, or replace the one with the same source (201 added, 200 replaced or unchanged)."""
    owner = _owner(caller, document.advisor_id, document.shared)
    settings = runtime_of(request).settings
    try:
        read = await read_document_bytes(
            document.content(), document.source, limits=document_read_limits(settings)
        )
    except UnreadableDocumentError as error:
        raise HTTPException(422, str(error)) from None
    text, passages = read.text, read.passages
    if not passages:
        raise HTTPException(422, f"{document.source}: no text to search")
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        if owner is not None and await get_advisor(conn=conn, advisor_id=str(owner)) is None:
            raise HTTPException(404, "no such advisor")
        stored, outcome = await store.add_document(
            conn=conn, advisor_id=owner, source=document.source, passages=passages, content=text
        )
    if outcome != "added":
        response.status_code = 200
    return DocumentOut(**stored.model_dump(), outcome=outcome)


@router.get("/knowledge", response_model=list[DocumentOut])
async def list_documents(
    request: Request, caller: Caller, advisor_id: UUID | None = None
) -> list[DocumentOut]:
    """Documents this caller's agent reads (an advisor: theirs and the shared ones)."""
    scope = caller.advisor_id if not caller.is_admin else advisor_id
    async with runtime_of(request).pool.connection() as conn:
        documents = await store.list_documents(conn=conn, advisor_id=scope)
    return [DocumentOut(**d.model_dump()) for d in documents]


@router.delete("/knowledge/{document_id}", status_code=204)
async def remove_document(request: Request, caller: Caller, document_id: int) -> Response:
    """Delete a document and its passages (an advisor: only their own)."""
    async with runtime_of(request).pool.connection() as conn, conn.transaction():
        removed = await store.remove_document(
            conn=conn, document_id=document_id, advisor_id=caller.advisor_id
        )
    if not removed:
        raise HTTPException(404, "no such document")
    return Response(status_code=204)


@router.get("/knowledge/search", response_model=list[store.Passage])
async def search(
    request: Request,
    response: Response,
    caller: Caller,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    limit: Annotated[int, Query(ge=1, le=store.MAX_RESULTS)] = 3,
    advisor_id: UUID | None = None,
) -> list[store.Passage]:
    """The passages that best answer `q`, as the advisor's agent would find them.

    `X-Knowledge-Search` says how: `hybrid` (full text + embeddings) or `full_text`.
    """
    scope = caller.advisor_id if not caller.is_admin else advisor_id
    runtime = runtime_of(request)
    response.headers["X-Knowledge-Search"] = runtime.knowledge.mode
    with usage_scope() as usage:  # the query's embedding is a model call: it costs the advisor searched
        found = await runtime.knowledge.search(advisor_id=scope, query=q.replace("\x00", ""), limit=limit)
    await store_calls(runtime.pool, runtime.pricing, advisor_id=scope, conversation_id=None, uses=usage.uses)
    return found
