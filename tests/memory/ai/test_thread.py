from __future__ import annotations

import uuid

import pytest

from memory.ai.thread import run_config_for, thread_id_for

ADVISOR = uuid.UUID("11111111-2222-3333-4444-555555555555")


@pytest.mark.parametrize(
    ("advisor", "phone", "expected"),
    [
        (ADVISOR, "+573001112233", "11111111-2222-3333-4444-555555555555_+573001112233"),
        (str(ADVISOR), "+14155238886", "11111111-2222-3333-4444-555555555555_+14155238886"),
    ],
)
def test_thread_id_for(advisor: uuid.UUID | str, phone: str, expected: str) -> None:
    assert thread_id_for(advisor, phone) == expected


@pytest.mark.parametrize(("advisor", "phone"), [("", "+573001112233"), (ADVISOR, ""), (ADVISOR, "  ")])
def test_thread_id_needs_both_parts(advisor: uuid.UUID | str, phone: str) -> None:
    with pytest.raises(ValueError):
        thread_id_for(advisor, phone)


def test_run_config_carries_advisor_and_phone_as_the_existing_system_does() -> None:
    config = run_config_for(ADVISOR, "+573001112233")
    assert config == {
        "configurable": {
            "thread_id": f"{ADVISOR}_+573001112233",
            "advisor_id": str(ADVISOR),
            "phone_number": "+573001112233",
        }
    }
