"""The webhook and the worker queue jobs with procrastinate's own SQL function, in their statements.

That function is the library's, not a public API: a procrastinate upgrade that changes it would
break every inbound message. pyproject pins the tested range; this test says what changed, if it
does, before a deploy finds out.
"""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.conftest import Db

# What memory/records/inbound.py and memory/records/turn_end.py build, field by field.
JOB_TO_DEFER = [
    ("queue_name", "character varying"),
    ("task_name", "character varying"),
    ("priority", "integer"),
    ("lock", "text"),
    ("queueing_lock", "text"),
    ("args", "jsonb"),
    ("scheduled_at", "timestamp with time zone"),
]


def test_the_queue_function_the_webhook_calls_has_the_shape_it_is_called_with(db: Db) -> None:
    arguments = db.query(
        "SELECT pg_get_function_identity_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result "
        "FROM pg_proc p WHERE p.proname = 'procrastinate_defer_jobs_v1'"
    )
    assert arguments, (
        "procrastinate_defer_jobs_v1 is gone: the installed procrastinate changed its SQL; "
        "memory/records/inbound.py and turn_end.py call it directly"
    )
    assert arguments[0]["args"] == "jobs procrastinate_job_to_defer_v1[]", arguments
    assert arguments[0]["result"] == "bigint[]", arguments  # the ids, read back as one array
    fields = db.query(
        "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type "
        "FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid "
        "WHERE t.typname = 'procrastinate_job_to_defer_v1' AND a.attnum > 0 ORDER BY a.attnum"
    )
    assert [(f["name"], f["type"]) for f in fields] == JOB_TO_DEFER, (
        "procrastinate_job_to_defer_v1 changed its fields: update the ROW(...) the webhook and the "
        f"worker build (memory/records/inbound.py, turn_end.py) to {fields}"
    )


def test_the_installed_procrastinate_is_within_the_range_pyproject_pins() -> None:
    requirement = next(
        Requirement(line)
        for line in metadata.requires("advisor-bot") or []
        if Requirement(line).name == "procrastinate"
    )
    assert requirement.specifier != SpecifierSet(), "procrastinate must be pinned to the tested range"
    assert any(spec.operator in ("<", "<=", "~=", "==") for spec in requirement.specifier), requirement
    assert metadata.version("procrastinate") in requirement.specifier


def _defer(db: Db, count: int, *, lock: str | None, priority: int = 0) -> list[int]:
    rows = db.query(
        "SELECT unnest(procrastinate_defer_jobs_v1(array_agg(ROW('default', 'answer_conversation', %s, "
        "%s, NULL, '{}'::jsonb, NULL)::procrastinate_job_to_defer_v1))) AS id FROM generate_series(1, %s)",
        (priority, lock, count),
    )
    return [row["id"] for row in rows]


def test_a_batch_fetch_takes_what_as_many_single_fetches_would(db: Db) -> None:
    """sql/0033: one job per lock at a time, higher priority first, then in queue order."""
    worker = db.query("INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id")[0]["id"]
    same_lock = _defer(db, 3, lock="conversation:a")
    others = _defer(db, 2, lock=None)
    urgent = _defer(db, 1, lock="conversation:b", priority=5)
    taken = db.query("SELECT id FROM advisor_bot_fetch_jobs(ARRAY['default'], %s, 10)", (worker,))
    assert [row["id"] for row in taken] == [urgent[0], same_lock[0], *others]
    doing = db.query("SELECT id FROM procrastinate_jobs WHERE status = 'doing' ORDER BY id")
    assert [row["id"] for row in doing] == sorted([urgent[0], same_lock[0], *others])
    # The next of the same conversation waits for the one running; nothing else is due.
    assert db.query("SELECT id FROM advisor_bot_fetch_jobs(ARRAY['default'], %s, 10)", (worker,)) == []
    db.query("SELECT procrastinate_finish_job_v1(%s, 'succeeded', true)", (same_lock[0],))
    again = db.query("SELECT id FROM advisor_bot_fetch_jobs(ARRAY['default'], %s, 1)", (worker,))
    assert [row["id"] for row in again] == [same_lock[1]]


def test_a_finish_hands_its_slot_to_the_next_job_of_the_same_conversation(db: Db) -> None:
    """sql/0034: the finish comes first, so the job it unlocks is the one fetched with it."""
    worker = db.query("INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id")[0]["id"]
    same_lock = _defer(db, 2, lock="conversation:a")
    taken = db.query("SELECT id FROM advisor_bot_fetch_jobs(ARRAY['default'], %s, 10)", (worker,))
    assert [row["id"] for row in taken] == [same_lock[0]]
    successor = db.query(
        "SELECT id, status FROM advisor_bot_finish_and_fetch(%s, 'succeeded', true, ARRAY['default'], %s, 1)",
        (same_lock[0], worker),
    )
    assert [(row["id"], row["status"]) for row in successor] == [(same_lock[1], "doing")]
    assert db.query("SELECT id FROM procrastinate_jobs WHERE id = %s", (same_lock[0],)) == []  # deleted
    kept = db.query(
        "SELECT id FROM advisor_bot_finish_and_fetch(%s, 'succeeded', false, ARRAY['default'], %s, 1)",
        (same_lock[1], worker),
    )
    assert kept == []  # nothing left to fetch; the finished job stays, as with delete_jobs=never
    assert db.query("SELECT status FROM procrastinate_jobs WHERE id = %s", (same_lock[1],)) == [
        {"status": "succeeded"}
    ]
