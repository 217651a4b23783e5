"""Owns `advisor-bot knowledge …`: loading what the business sells for the agent to search.

Every file is read and split before anything is written, and all of them are stored in one
transaction: a file that cannot be read stops the command with its reason and nothing is stored.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from bot.cli.console import fail, say
from bot.cli.lookup import advisor_named, connection, when
from bot.infra.document_reader import document_read_limits, read_document_bytes
from bot.settings import Settings
from memory.knowledge import store
from memory.knowledge.passages import UnreadableDocumentError, document_file_bytes

ALL = "all"


async def add(settings: Settings, advisor_ref: str, files: list[Path]) -> int:
    """Add (or replace) documents for one advisor, or shared by all with `--advisor all`."""
    documents = []
    for path in files:
        try:
            read = await read_document_bytes(
                document_file_bytes(path), path.name, limits=document_read_limits(settings)
            )
        except UnreadableDocumentError as error:
            return fail(f"{error}; nothing was stored")
        text, passages = read.text, read.passages
        if not passages:
            return fail(f"{path.name}: no text to search; nothing was stored")
        documents.append((path.name, text, passages))
    async with connection(settings) as conn:
        advisor_id: UUID | None = None
        owner = "every advisor"
        if advisor_ref.lower() != ALL:
            advisor = await advisor_named(conn, advisor_ref)
            if advisor is None:
                return 1
            advisor_id, owner = advisor.id, advisor.name
        async with conn.transaction():
            results = [
                await store.add_document(
                    conn=conn, advisor_id=advisor_id, source=source, passages=passages, content=text
                )
                for source, text, passages in documents
            ]
    for document, outcome in results:
        say(f"{outcome} {document.source} for {owner}: {document.passages} passages (id {document.id})")
    return 0


async def list_documents(settings: Settings, advisor_ref: str | None) -> int:
    """Print documents: id, owner, passages, last change, source."""
    async with connection(settings) as conn:
        advisor_id = None
        if advisor_ref is not None:
            advisor = await advisor_named(conn, advisor_ref)
            if advisor is None:
                return 1
            advisor_id = advisor.id
        documents = await store.list_documents(conn=conn, advisor_id=advisor_id)
    if not documents:
        say("no knowledge loaded; add files with `advisor-bot knowledge add --advisor all FILE…`")
        return 0
    say(f"{'id':>5}  {'advisor':36}  {'passages':>8}  {'updated':16}  source")
    for d in documents:
        say(f"{d.id:>5}  {str(d.advisor_id or ALL):36}  {d.passages:>8}  {when(d.updated_at):16}  {d.source}")
    return 0


async def remove(settings: Settings, document_id: int) -> int:
    """Delete one document and its passages."""
    async with connection(settings) as conn:
        async with conn.transaction():
            removed = await store.remove_document(conn=conn, document_id=document_id, advisor_id=None)
    if not removed:
        return fail(f"no document with id {document_id} (`advisor-bot knowledge list`)")
    say(f"document {document_id} removed; the agent no longer finds its passages")
    return 0
