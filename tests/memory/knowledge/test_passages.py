"""Documents become passages: by heading and paragraph, CSV by row; unreadable files are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from memory.knowledge.passages import MAX_PASSAGE_CHARS, UnreadableDocumentError, read_document, split
from tests.fixtures.pdf import pdf_with_text


def test_markdown_is_split_by_heading_and_keeps_the_heading_with_its_text() -> None:
    text = "# Apartamentos\n\nDos habitaciones: 250 millones.\n\n# Casas\n\nCasa campestre: 480 millones.\n"
    assert split(text, "catalogo.md") == [
        "Apartamentos\nDos habitaciones: 250 millones.",
        "Casas\nCasa campestre: 480 millones.",
    ]


def test_long_text_is_cut_at_words_within_the_passage_size() -> None:
    words = " ".join(f"palabra{n}" for n in range(400))
    passages = split(f"# Largo\n\n{words}", "largo.txt")
    assert len(passages) > 3
    assert all(len(p) <= MAX_PASSAGE_CHARS + len("Largo\n") for p in passages)
    assert all(p.startswith("Largo\n") for p in passages)
    rebuilt = " ".join(p.removeprefix("Largo\n") for p in passages)
    assert rebuilt.split() == words.split()


def test_csv_rows_become_passages_with_their_column_names() -> None:
    text = "Producto,Precio,Disponible\nApto 2B,250 millones,sí\nCasa 7,480 millones,\n"
    assert split(text, "precios.csv") == [
        "Producto: Apto 2B; Precio: 250 millones; Disponible: sí",
        "Producto: Casa 7; Precio: 480 millones",
    ]


def test_unreadable_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    binary = tmp_path / "foto.txt"
    binary.write_bytes(b"GIF89a\x00\x00")
    latin = tmp_path / "viejo.txt"
    latin.write_bytes("precio: 250 millones, año".encode("latin-1"))
    pdf = tmp_path / "folleto.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    for path, reason in (
        (binary, "binary"),
        (latin, "not UTF-8"),
        (pdf, "not a readable PDF"),
        (tmp_path / "folleto.docx", "only"),
        (tmp_path / "no.md", "No such"),
    ):
        with pytest.raises(UnreadableDocumentError, match=reason):
            read_document(path)


def test_a_pdf_is_read_through_its_text_layer_page_by_page(tmp_path: Path) -> None:
    brochure = tmp_path / "folleto.pdf"
    brochure.write_bytes(
        pdf_with_text([["Torre Sol", "Apartamento 2B: 250 millones (con balcón)"], ["Casa 7: 480 millones"]])
    )
    text = read_document(brochure)
    assert "Apartamento 2B: 250 millones (con balcón)" in text and "Casa 7: 480 millones" in text
    assert split(text, brochure.name) == [
        "Torre Sol\nApartamento 2B: 250 millones (con balcón)\nCasa 7: 480 millones"
    ]


def test_a_pdf_without_text_is_refused_with_the_reason(tmp_path: Path) -> None:
    scan = tmp_path / "escaneo.pdf"
    scan.write_bytes(pdf_with_text([[]]))
    with pytest.raises(UnreadableDocumentError, match="no text layer"):
        read_document(scan)
