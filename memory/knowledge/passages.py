"""Owns turning a document into passages: Markdown, text and PDF by section and paragraph, CSV by row.

A passage is what the agent reads when it searches: small enough that the best few fit in a
prompt (about 800 characters), whole enough to carry a price with what it is the price of.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

MAX_PASSAGE_CHARS = 800
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
READABLE = (".md", ".markdown", ".txt", ".csv", ".pdf")
MAX_PDF_PAGES = 500


class UnreadableDocumentError(ValueError):
    """A document that cannot be read as text; the message says why, and nothing is stored."""


def refuse_oversized(size: int, name: str) -> None:
    """Refuse a document of more than MAX_DOCUMENT_BYTES before anything reads or parses it."""
    if size > MAX_DOCUMENT_BYTES:
        raise UnreadableDocumentError(f"{name}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB")


def document_file_bytes(path: Path) -> bytes:
    """The bytes of a Markdown, plain-text, CSV or PDF file, or why it cannot be read."""
    if path.suffix.lower() not in READABLE:
        raise UnreadableDocumentError(
            f"{path.name}: only {', '.join(READABLE)} files are read (export other documents as text)"
        )
    try:
        refuse_oversized(path.stat().st_size, path.name)
        return path.read_bytes()
    except OSError as error:
        raise UnreadableDocumentError(f"{path}: {error.strerror or error}") from error


def read_document(path: Path) -> str:
    """The text of a Markdown, plain-text, CSV or PDF file, or why it cannot be read.

    In this process, without limits: for files the operator chose (benchmarks, tests). Uploads
    and the CLI go through `bot.infra.document_reader`, which limits time and memory.
    """
    return extract(document_file_bytes(path), path.name)


def extract(data: bytes, name: str) -> str:
    """The text of a document's bytes: a PDF's text layer, or the bytes as UTF-8 text."""
    if name.lower().endswith(".pdf") or data.startswith(b"%PDF-"):
        return _pdf_text(data, name)
    return decode(data, name)


def _pdf_text(data: bytes, name: str) -> str:
    """A PDF's text, page after page (pypdf: pure Python, no system tools needed)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    refuse_oversized(len(data), name)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableDocumentError(f"{name}: the PDF is password-protected")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise UnreadableDocumentError(f"{name}: more than {MAX_PDF_PAGES} pages")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as error:
        if isinstance(error, UnreadableDocumentError):
            raise
        raise UnreadableDocumentError(f"{name}: not a readable PDF ({error})") from error
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise UnreadableDocumentError(f"{name}: the PDF has no text layer (a scan? export it as text)")
    return text


def decode(data: bytes, name: str) -> str:
    """Bytes as UTF-8 text (a BOM is dropped); refuse binary or oversized content."""
    refuse_oversized(len(data), name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableDocumentError(f"{name}: not UTF-8 text (byte {error.start})") from error
    if "\x00" in text:
        raise UnreadableDocumentError(f"{name}: binary content, not text")
    if not text.strip():
        raise UnreadableDocumentError(f"{name}: empty")
    return text


def split(text: str, name: str) -> list[str]:
    """The passages of a document, in order."""
    if name.lower().endswith(".csv"):
        return _csv_rows(text)
    return _sections(text)


def _csv_rows(text: str) -> list[str]:
    """One passage per row, each value named by its column: "Producto: X; Precio: Y"."""
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2:
        return [" ".join(rows[0])] if rows else []
    header = [h.strip() for h in rows[0]]
    passages = []
    for row in rows[1:]:
        pairs = [f"{h}: {v.strip()}" for h, v in zip(header, row, strict=False) if v.strip()]
        if pairs:
            passages.append("; ".join(pairs)[: MAX_PASSAGE_CHARS * 2])
    return passages


def _sections(text: str) -> list[str]:
    """Paragraphs packed up to MAX_PASSAGE_CHARS; a heading starts a passage and is kept in it."""
    passages: list[str] = []
    heading = ""
    current = ""
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        block = block.strip()
        if not block:
            continue
        if block.startswith("#"):
            first, _, rest = block.partition("\n")
            if current:
                passages.append(current)
            heading = first.lstrip("#").strip()
            current = heading
            block = rest.strip()
            if not block:
                continue
        candidate = f"{current}\n{block}" if current else block
        if len(candidate) <= MAX_PASSAGE_CHARS:
            current = candidate
            continue
        if current and current != heading:
            passages.append(current)
        current = f"{heading}\n{block}" if heading else block
        while len(current) > MAX_PASSAGE_CHARS:
            cut = current.rfind(" ", 0, MAX_PASSAGE_CHARS)
            cut = cut if cut > MAX_PASSAGE_CHARS // 2 else MAX_PASSAGE_CHARS
            passages.append(current[:cut].strip())
            current = (f"{heading}\n" if heading else "") + current[cut:].strip()
    if current and current != heading:
        passages.append(current)
    return passages
