"""Owns reading the old bots' records: each becomes an import row, or a reason it is rejected.

Formats (each file one JSON object keyed by conversation id or phone):

- `conversation_mappings.json`: `{"<conversation_id>": {"conversation_id", "hubspot_id",
  "prospect_data": {"nombres", "apellidos", "compania", "websiteUrl", "emailCorporativo", "rol"},
  "created_at", "updated_at"}}`
- `threads.json`: `{"<phone>": {"chatId", "userName", "labels", "threadId", …}}`
- `guest_profiles.json`: `{"<phone>": {"name", "whapiLabels": [{"name"}], …}}`

Dates may be ISO 8601 or Unix time (seconds or milliseconds); profiles read their first and last
interaction from the first of FIRST_SEEN / LAST_SEEN present.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from advisors.numbers import InvalidNumberError, normalize_whatsapp_address
from memory.records.imports import ContactImport, ProfileImport
from memory.records.models import unstorable_text

FIRST_SEEN = ("createdAt", "created_at", "firstMessageAt", "first_interaction", "firstSeen")
LAST_SEEN = (
    "lastMessageAt",
    "last_message_at",
    "lastInteraction",
    "last_interaction",
    "updatedAt",
    "updated_at",
)
UPDATED = ("updatedAt", "updated_at")
PROSPECT_FIELDS = ("nombres", "apellidos", "compania", "websiteUrl", "emailCorporativo", "rol")
_MAX_LABELS = 50
MAX_RECORD_DEPTH = 32
MAX_RECORD_CHARS = 256 * 1024  # of text and numbers in one record; the console shows its free data


class RejectedRecordError(ValueError):
    """A record that cannot be imported; the message is the reason written to the rejects file.

    `keep` False: the record itself is too deep or too large to copy into the rejects file.
    """

    def __init__(self, reason: str, *, keep: bool = True) -> None:
        super().__init__(reason)
        self.keep = keep


def check_record(key: str, value: Any) -> None:
    """Refuse a record that is too deep, too large or holds text PostgreSQL cannot store.

    Walked without recursion, and stopped as soon as a bound is passed: a record nested 5,000
    deep or holding 50 MB must cost neither a RecursionError nor the whole import.
    """
    budget = MAX_RECORD_CHARS
    stack: list[tuple[Any, int]] = [(key, 0), (value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_RECORD_DEPTH:
            raise RejectedRecordError(f"nested deeper than {MAX_RECORD_DEPTH} levels", keep=False)
        if isinstance(item, dict):
            budget -= 2
            for name, inner in item.items():
                stack.append((name, depth + 1))
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            budget -= 2
            stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            budget -= len(item)
            problem = unstorable_text(item)
            if problem is not None:
                raise RejectedRecordError(problem)
        else:
            budget -= 8
        if budget < 0:
            raise RejectedRecordError(f"larger than {MAX_RECORD_CHARS // 1024} KB of data", keep=False)


def contact_from(key: str, value: Any) -> ContactImport:
    """A conversation mapping record as a CRM contact."""
    record = _object(value)
    hubspot = record.get("hubspot_id")
    if isinstance(hubspot, int) and not isinstance(hubspot, bool):
        hubspot = str(hubspot)
    if not isinstance(hubspot, str) or not hubspot.strip():
        raise RejectedRecordError("no hubspot_id: a contact without one cannot be linked to anything")
    prospect = record.get("prospect_data", {})
    if prospect is None:
        prospect = {}
    if not isinstance(prospect, dict):
        raise RejectedRecordError(f"prospect_data is {_kind(prospect)}, not an object")
    for name in PROSPECT_FIELDS:
        if prospect.get(name) is not None and not isinstance(prospect[name], str):
            raise RejectedRecordError(f"prospect_data.{name} is {_kind(prospect[name])}, not text")
    conversation = record.get("conversation_id", key)
    if conversation is None or not str(conversation).strip():
        conversation = key  # seed 000 keys every record by its conversation id
    if not str(conversation).strip() or len(str(conversation).strip()) > 200:
        raise RejectedRecordError("no conversation_id of 1 to 200 characters: the mapping is keyed by it")
    return ContactImport(
        hubspot_id=hubspot.strip()[:200],
        source_conversation_id=str(conversation).strip(),
        prospect=prospect,
        created_at=moment(record.get("created_at"), "created_at"),
        updated_at=moment(record.get("updated_at"), "updated_at"),
    )


def profile_from(key: str, value: Any, *, source: str) -> ProfileImport:
    """A threads.json or guest_profiles.json record as a customer profile of one advisor."""
    record = _object(value)
    phone = _phone(key, record)
    name = record.get("userName", record.get("name"))
    if name is not None and not isinstance(name, str):
        raise RejectedRecordError(f"name is {_kind(name)}, not text")
    labels = _labels(record.get("whapiLabels", record.get("labels")))
    return ProfileImport(
        phone=phone,
        source=source,
        record=record,
        name=(name.strip()[:200] or None) if name else None,
        labels=labels,
        first_at=_first_present(record, FIRST_SEEN),
        last_at=_first_present(record, LAST_SEEN),
        updated_at=_first_present(record, UPDATED),
    )


def moment(value: Any, name: str) -> datetime | None:
    """An ISO 8601 date or a Unix time (seconds or milliseconds), as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RejectedRecordError(f"{name} is true/false, not a date")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise RejectedRecordError(f"{name} {value!r} is not a date") from error
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as error:
            raise RejectedRecordError(f"{name} {value[:40]!r} is not a date") from error
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise RejectedRecordError(f"{name} is {_kind(value)}, not a date")


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RejectedRecordError(f"the record is {_kind(value)}, not an object")
    return value


def _phone(key: str, record: dict[str, Any]) -> str:
    """The customer's number from the key, else from chatId (e.g. 573001112233@s.whatsapp.net)."""
    for candidate in (key, record.get("chatId"), record.get("phone")):
        if isinstance(candidate, str) and candidate.strip():
            try:
                return normalize_whatsapp_address(candidate)
            except InvalidNumberError:
                continue
    raise RejectedRecordError(f"no phone number: neither the key {key[:40]!r} nor chatId is one")


def _labels(value: Any) -> list[str]:
    """Labels as strings, or objects with a name (whapi's), in order, without repeats."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise RejectedRecordError(f"labels are {_kind(value)}, not a list")
    labels: list[str] = []
    for item in value[:_MAX_LABELS]:
        label = item.get("name") if isinstance(item, dict) else item
        if not isinstance(label, str):
            raise RejectedRecordError(f"a label is {_kind(label)}, not text")
        label = label.strip()[:50]
        if label and label not in labels:
            labels.append(label)
    return labels


def _first_present(record: dict[str, Any], names: tuple[str, ...]) -> datetime | None:
    for name in names:
        if record.get(name) not in (None, ""):
            return moment(record[name], name)
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)
