"""Owns the customer endpoints: the list (JSON or CSV) for marketing, export, and erasure on request.

A customer is one advisor's conversation with one phone; `{id}` is the conversation's id. An
advisor's token sees their customers only; the admin's sees everyone's (or one advisor's).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from starlette.responses import Response, StreamingResponse

from bot.infra.events import erasure_event
from bot.twilio.media_hosting import delete_stored_media
from bot.web.api.auth import Caller, runtime_of
from bot.web.api.conversations import load_visible
from bot.web.csv_cells import csv_cell
from memory.records import customers, erasure, exports
from memory.records.customers import Customer, CustomerFilter
from memory.records.profiles import Stage

logger = logging.getLogger(__name__)
router = APIRouter(tags=["customers"])

CSV_COLUMNS = (
    "id",
    "advisor_id",
    "phone_number",
    "name",
    "labels",
    "stage",
    "marketing_consent",
    "opted_out",
    "first_interaction_at",
    "last_interaction_at",
    "inactive_since",
)


class CustomerPage(BaseModel):
    """A page of customers; pass `next_cursor` as `cursor` for the next one."""

    items: list[Customer]
    next_cursor: str | None


class ErasureOut(BaseModel):
    """What an erasure deleted, per table (no personal data), and media files removed."""

    erased: dict[str, int]
    media_files: int


def _labels(value: str | None) -> list[str]:
    return [label.strip() for label in (value or "").split(",") if label.strip()][:50]


@router.get("/customers", response_model=CustomerPage, responses={200: {"content": {"text/csv": {}}}})
async def list_customers(
    request: Request,
    caller: Caller,
    advisor_id: UUID | None = None,
    label: Annotated[str | None, Query(description="comma-separated: has any of these labels")] = None,
    labels_all: Annotated[str | None, Query(description="comma-separated: has every one of these")] = None,
    stage: Stage | None = None,
    marketing_consent: bool | None = None,
    reachable: Annotated[bool, Query(description="consent given and not opted out")] = False,
    inactive_days: Annotated[int | None, Query(ge=0, le=36_500)] = None,
    last_from: datetime | None = None,
    last_to: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    format: Annotated[str | None, Query(pattern="^(json|csv)$")] = None,  # noqa: A002 - the API's name
) -> Any:
    """Customers matching every filter given; CSV (all of them) with `Accept: text/csv` or `format=csv`."""
    scope = caller.advisor_id
    if scope is not None and advisor_id is not None and advisor_id != scope:
        raise HTTPException(404, "no such advisor")
    found = CustomerFilter(
        labels_any=_labels(label),
        labels_all=_labels(labels_all),
        stage=stage,
        marketing_consent=marketing_consent,
        reachable=reachable,
        inactive_days=inactive_days,
        last_from=last_from,
        last_to=last_to,
        text=q,
    )
    wants_csv = format == "csv" or (format is None and "text/csv" in request.headers.get("accept", ""))
    if wants_csv:
        return StreamingResponse(
            _csv(request, scope or advisor_id, found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="customers.csv"'},
        )
    try:
        after = UUID(cursor) if cursor else None
    except ValueError:
        raise HTTPException(
            422, [{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}]
        ) from None
    async with runtime_of(request).pool.connection() as conn:
        items = await customers.list_customers(
            conn=conn, advisor_id=scope or advisor_id, found=found, limit=limit + 1, after=after
        )
    more = len(items) > limit
    items = items[:limit]
    return CustomerPage(items=items, next_cursor=str(items[-1].id) if more else None)


async def _csv(request: Request, advisor_id: UUID | None, found: CustomerFilter) -> AsyncIterator[str]:
    """The CSV, a chunk at a time: an export of 100,000 customers never sits in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async with runtime_of(request).pool.connection() as conn:
        async for customer in customers.stream_customers(conn=conn, advisor_id=advisor_id, found=found):
            row = customer.model_dump()
            row["labels"] = "|".join(customer.labels)
            writer.writerow([csv_cell(row[column]) for column in CSV_COLUMNS])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


@router.get("/customers/{customer_id}/export")
async def export_customer(request: Request, caller: Caller, customer_id: str) -> Response:
    """Everything held about one customer, as JSON (the customer's right of access)."""
    async with runtime_of(request).pool.connection() as conn:
        conversation = await load_visible(conn, caller, customer_id)
        held = await exports.everything_about(
            conn=conn, advisor_id=conversation.advisor_id, conversation_id=conversation.conversation_id
        )
    return Response(
        exports.to_json(held),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="customer-{conversation.conversation_id}.json"'
        },
    )


@router.delete("/customers/{customer_id}", response_model=ErasureOut)
async def erase_customer(request: Request, caller: Caller, customer_id: str) -> ErasureOut:
    """Forget a customer: conversation, messages, profile, AI memory, media, CRM references.

    One audit row stays, with who erased and how many rows, and no personal data. A later
    message from the same phone starts a new conversation.
    """
    runtime = runtime_of(request)
    erased_by = "admin" if caller.is_admin else f"advisor:{caller.advisor_id}"
    async with runtime.pool.connection() as conn, conn.transaction():
        conversation = await load_visible(conn, caller, customer_id)
        done = await erasure.erase_customer(
            conn=conn,
            advisor_id=conversation.advisor_id,
            conversation_id=conversation.conversation_id,
            erased_by=erased_by,
        )
        if done is None:  # pragma: no cover - read in this very transaction
            raise HTTPException(404, "no such conversation")
        await runtime.events.publish(
            conn,
            "customer.erased",
            erasure_event(conversation.advisor_id, conversation.conversation_id, erased_by, done.rows),
        )
    removed = await delete_stored_media(runtime.settings, done.media_urls)
    logger.info("customer erased", extra={"advisor": str(conversation.advisor_id), "rows": done.rows})
    return ErasureOut(erased=done.rows, media_files=removed)
