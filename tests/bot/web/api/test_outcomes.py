"""The outcome report against a hand-built set of conversations whose answers are known.

Rows are written as the product writes them (messages, profiles whose stage changes fire the
stage_changes trigger, a hand-over), with times chosen against the advisor's working hours
(06:00–12:00 UTC); the API must count exactly what docs/outcomes.md says, for that advisor only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from tests.bot.web.api.conftest import ADMIN_TOKEN, bearer
from tests.conftest import Db

ANA, BRUNO = "+14155238886", "+14155238887"
HOURS = json.dumps(
    {
        "time_zone": "UTC",
        "working_hours": {d: ["06:00-12:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
)
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _conversation(db: Db, advisor: str, phone: str) -> str:
    return str(
        db.query(
            "INSERT INTO chat_history (advisor_id, phone_number) VALUES (%s, %s) RETURNING conversation_id",
            (advisor, phone),
        )[0]["conversation_id"]
    )


def _message(db: Db, advisor: str, conversation: str, at: datetime, direction: str, author: str) -> None:
    status = "answered" if direction == "inbound" else "delivered"
    db.query(
        "INSERT INTO messages (advisor_id, conversation_id, direction, author, body, status, created_at) "
        "VALUES (%s, %s, %s, %s, 'texto', %s, %s)",
        (advisor, conversation, direction, author, status, at),
    )


def _stage(db: Db, advisor: str, conversation: str, stage: str, at: datetime) -> None:
    """The stage set at `at`, as any writer sets it (the trigger records the change)."""
    db.query(
        "INSERT INTO customer_profiles (conversation_id, advisor_id, stage) VALUES (%s, %s, %s) "
        "ON CONFLICT (conversation_id) DO UPDATE SET stage = excluded.stage",
        (conversation, advisor, stage),
    )
    db.query(
        "UPDATE stage_changes SET created_at = %s "
        "WHERE id = (SELECT max(id) FROM stage_changes WHERE conversation_id = %s)",
        (at, conversation),
    )


def test_the_outcomes_count_what_the_definitions_say_for_one_advisor_only(
    admin_api: TestClient, db: Db
) -> None:
    ana = db.add_advisor("Ana", ANA, settings=HOURS)
    bruno = db.add_advisor("Bruno", BRUNO, phone="+573009990002", settings=HOURS)
    h = lambda hour, minute=0: TODAY + timedelta(hours=hour, minutes=minute)  # noqa: E731

    # 1: in hours, the AI answers in 30 s, books with no person, the customer writes again that evening.
    one = _conversation(db, ana, "+573001000001")
    _message(db, ana, one, h(7), "inbound", "customer")
    _message(db, ana, one, h(7, 0) + timedelta(seconds=30), "outbound", "ai")
    _stage(db, ana, one, "interested", h(7, 5))
    _stage(db, ana, one, "booked", h(7, 10))
    _message(db, ana, one, h(13), "inbound", "customer")
    # 2: after hours, the AI answers in 90 s, the advisor writes 2 h later, then the booking.
    two = _conversation(db, ana, "+573001000002")
    _message(db, ana, two, h(2), "inbound", "customer")
    _message(db, ana, two, h(2) + timedelta(seconds=90), "outbound", "ai")
    _message(db, ana, two, h(4), "outbound", "advisor")
    _stage(db, ana, two, "booked", h(4, 30))
    # 3: after hours, nobody answers (its one reply failed); interested.
    three = _conversation(db, ana, "+573001000003")
    _message(db, ana, three, h(22), "inbound", "customer")
    db.query(
        "INSERT INTO messages (advisor_id, conversation_id, direction, author, body, status, created_at) "
        "VALUES (%s, %s, 'outbound', 'ai', 'x', 'failed', %s)",
        (ana, three, h(22, 1)),
    )
    _stage(db, ana, three, "interested", h(22, 2))
    # 4: in hours, the AI answers in 10 s, then hands over with a complaint.
    four = _conversation(db, ana, "+573001000004")
    _message(db, ana, four, h(9), "inbound", "customer")
    _message(db, ana, four, h(9) + timedelta(seconds=10), "outbound", "ai")
    db.query(
        "INSERT INTO handovers (advisor_id, conversation_id, reason, category, created_at) "
        "VALUES (%s, %s, 'molesto', 'complaint', %s)",
        (ana, four, h(9, 1)),
    )
    # 5: yesterday only: outside the period.
    five = _conversation(db, ana, "+573001000005")
    _message(db, ana, five, h(-20), "inbound", "customer")
    # Bruno's booking is his.
    brunos = _conversation(db, bruno, "+573001000001")
    _message(db, bruno, brunos, h(8), "inbound", "customer")
    _message(db, bruno, brunos, h(8, 1), "outbound", "ai")
    _stage(db, bruno, brunos, "booked", h(8, 2))

    report = admin_api.get(f"/api/advisors/{ana}/outcomes?days=1", headers=bearer(ADMIN_TOKEN))
    assert report.status_code == 200, report.text
    got = report.json()
    assert {key: got[key] for key in got if key not in ("advisor_id", "since", "until", "cost_usd")} == {
        "conversations": 4,
        "ai_answered": 3,
        "coverage": 0.75,
        "booked": 2,
        "autonomous": 1,
        "assisted": 1,
        "autonomous_share": 0.25,
        "assisted_share": 0.25,
        "handovers_by_category": {"complaint": 1},
        "after_hours": 2,
        "after_hours_answered": 1,
        "median_first_response_ai_seconds": 30.0,
        "median_first_response_human_seconds": 7200.0,
        "came_back_within_7_days": 1,
        "funnel": {"new": 4, "interested": 3, "booked": 2},
        "cost_per_booked_lead_usd": 0.0,
    }
    brunos_report = admin_api.get(
        f"/api/advisors/{bruno}/outcomes?days=1", headers=bearer(ADMIN_TOKEN)
    ).json()
    assert (brunos_report["conversations"], brunos_report["booked"], brunos_report["autonomous"]) == (1, 1, 1)
    assert brunos_report["handovers_by_category"] == {}
