"""Owns the one way every CSV the product writes escapes a cell, so no spreadsheet runs it.

Customers choose their WhatsApp profile name, and it reaches exports: `=1+HYPERLINK(…)`,
`-1+cmd|' /C calc'!A0` or `@1+SUM(1)` would run as formulas when an advisor opens the file.
Every text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
apostrophe (spreadsheets show it as text); only a whole phone number (`+573001112233`) or a
plain number (`-12.5`) is left as it is, because it cannot hold a formula.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_HARMLESS = re.compile(r"\+\d{6,15}|[+-]?\d+(?:[.,]\d+)?")


def csv_cell(value: Any) -> Any:
    """A value as a spreadsheet should show it: numbers as numbers, anything formula-like as text."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    text = value.isoformat() if isinstance(value, datetime | date) else str(value)
    if text.startswith(FORMULA_STARTS) and not _HARMLESS.fullmatch(text):
        return "'" + text
    return text


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV text, every cell through `csv_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue()
