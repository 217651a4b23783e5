"""`advisor-bot import`: three formats, rejects with reasons, idempotent, streamed, kill-safe."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

from bot.cli import main
from memory.records.profiles import CustomerProfile, find_profile
from tests.conftest import Db, wait_for
from tests.live import CLI_REPORTING_PEAK, peak_kb

ANA, BRUNO = "+14155238886", "+14155238887"
ROOT = Path(__file__).resolve().parents[3]
THREADS = {
    "573001112233": {
        "chatId": "573001112233@s.whatsapp.net",
        "userName": "Valentina Ríos",
        "labels": ["interesada", "vip"],
        "threadId": "thread_abc",
        "createdAt": "2025-03-01T10:00:00Z",
        "lastMessageAt": 1735689600,
    },
    "120363025@g.us": {"chatId": "120363025@g.us", "userName": "Un grupo"},
    "573009998877": {"userName": 42},
    "573005550000": {"userName": "Andrés", "labels": "vip"},
    "+57 300 444 5566": {"userName": "Camila", "labels": [{"name": "arriendo"}]},
    "573004445566": {"userName": "Camila R.", "labels": ["arriendo", "2 habitaciones"]},  # same phone again
}
GUESTS = {
    "573001112233": {"name": "Vale", "whapiLabels": [{"name": "vip"}, {"name": "compra"}]},
    "573007778899": {"name": "Julián", "whapiLabels": []},
}
MAPPINGS = {
    "conv-1": {
        "conversation_id": "conv-1",
        "hubspot_id": "1001",
        "prospect_data": {"nombres": "Laura", "apellidos": "Gómez", "compania": "Acme", "rol": "CEO"},
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-02-01T00:00:00Z",
    },
    "conv-2": {"conversation_id": "conv-2", "hubspot_id": 1002, "prospect_data": {"nombres": "Pedro"}},
    "conv-3": {"conversation_id": "conv-3", "prospect_data": {}},
    "conv-4": {"conversation_id": "conv-4", "hubspot_id": "1001", "updated_at": "2024-12-01T00:00:00Z"},
    "conv-5": {"conversation_id": "conv-5", "hubspot_id": "1005", "prospect_data": {"nombres": ["x"]}},
}


def _run(
    db: Db, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("DATABASE_URL", db.url)
    code = main(["import", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _write(path: Path, records: object) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False))
    return path


def _profiles(db: Db) -> dict[str, dict[str, object]]:
    rows = db.query(
        "SELECT c.phone_number, a.twilio_phone_number AS advisor, p.name, p.labels, p.data,"
        " p.first_interaction_at, p.last_interaction_at FROM customer_profiles p"
        " JOIN chat_history c USING (conversation_id) JOIN advisors a ON a.id = c.advisor_id"
    )
    return {f"{row['advisor']} {row['phone_number']}": row for row in rows}


def test_profiles_from_both_files_merge_and_a_second_import_changes_nothing(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db.add_advisor("Ana", ANA, phone="+573009990001")
    threads, guests = (
        _write(tmp_path / "threads.json", THREADS),
        _write(tmp_path / "guest_profiles.json", GUESTS),
    )
    code, out, _ = _run(db, monkeypatch, capsys, "profiles", "--advisor", ANA, str(threads), str(guests))
    assert code == 1  # some records were rejected
    assert "threads.json: imported 2, updated 0, unchanged 1, rejected 3 (of 6 records)" in out
    assert "guest_profiles.json: imported 1, updated 1, unchanged 0, rejected 0 (of 2 records)" in out
    profiles = _profiles(db)
    valentina = profiles[f"{ANA} +573001112233"]
    assert valentina["name"] == "Valentina Ríos"  # the first name known stays
    assert valentina["labels"] == ["interesada", "vip", "compra"]
    assert str(valentina["first_interaction_at"]).startswith("2025-03-01 10:00")
    assert set(valentina["data"]["imported"]) == {"threads", "guest_profiles"}  # type: ignore[index]
    assert valentina["data"]["imported"]["threads"]["record"]["threadId"] == "thread_abc"  # type: ignore[index]
    # Two spellings of one phone in one file are one customer, their labels merged.
    assert profiles[f"{ANA} +573004445566"]["labels"] == ["arriendo", "2 habitaciones"]
    rejects = [
        json.loads(line) for line in (tmp_path / "threads.json.rejects.jsonl").read_text().splitlines()
    ]
    assert {r["key"]: r["reason"] for r in rejects} == {
        "120363025@g.us": "no phone number: neither the key '120363025@g.us' nor chatId is one",
        "573009998877": "name is a number, not text",
        "573005550000": "labels are text, not a list",
    }
    assert not (tmp_path / "guest_profiles.json.rejects.jsonl").exists()
    before = db.query("SELECT conversation_id, updated_at FROM customer_profiles ORDER BY 1")
    code, out, _ = _run(db, monkeypatch, capsys, "profiles", "--advisor", ANA, str(threads), str(guests))
    assert "threads.json: imported 0, updated 0, unchanged 3, rejected 3" in out
    assert "guest_profiles.json: imported 0, updated 0, unchanged 2, rejected 0" in out
    assert db.query("SELECT conversation_id, updated_at FROM customer_profiles ORDER BY 1") == before


def test_the_same_customer_imported_for_two_advisors_has_two_profiles_and_a_dry_run_writes_nothing(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db.add_advisor("Ana", ANA, phone="+573009990001")
    db.add_advisor("Bruno", BRUNO, phone="+573009990002")
    guests = _write(tmp_path / "guest_profiles.json", GUESTS)
    code, out, _ = _run(db, monkeypatch, capsys, "profiles", "--advisor", BRUNO, "--dry-run", str(guests))
    assert code == 0 and "would import 2" in out
    assert db.count("customer_profiles") == 0 and db.count("chat_history") == 0
    for advisor in (ANA, BRUNO):
        assert _run(db, monkeypatch, capsys, "profiles", "--advisor", advisor, str(guests))[0] == 0
    profiles = _profiles(db)
    assert {key for key in profiles if key.endswith("+573001112233")} == {
        f"{ANA} +573001112233",
        f"{BRUNO} +573001112233",
    }
    assert db.count("chat_history") == 4


def test_mappings_become_crm_contacts_the_newer_record_wins_and_a_linked_conversation_shows_them(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mappings = _write(tmp_path / "conversation_mappings.json", MAPPINGS)
    code, out, _ = _run(db, monkeypatch, capsys, "mappings", str(mappings))
    assert code == 1
    # Keyed by conversation, as the file is: conv-4 is the same contact's second conversation.
    assert "imported 3, updated 0, unchanged 0, rejected 2 (of 5 records)" in out
    assert db.query("SELECT conversation_id, hubspot_id FROM conversation_mappings ORDER BY 1") == [
        {"conversation_id": "conv-1", "hubspot_id": "1001"},
        {"conversation_id": "conv-2", "hubspot_id": "1002"},
        {"conversation_id": "conv-4", "hubspot_id": "1001"},
    ]
    contacts = {r["hubspot_id"]: r for r in db.query("SELECT * FROM crm_contacts")}
    assert contacts["1001"]["prospect"]["nombres"] == "Laura"  # the contact: conv-4 is older
    assert contacts["1002"]["prospect"] == {"nombres": "Pedro"}
    rejects = (tmp_path / "conversation_mappings.json.rejects.jsonl").read_text()
    assert "no hubspot_id" in rejects and "prospect_data.nombres is a list, not text" in rejects
    newer = {
        **MAPPINGS["conv-1"],
        "prospect_data": {"nombres": "Laura M."},
        "updated_at": "2025-06-01T00:00:00Z",
    }
    _write(mappings, {"conv-1": newer})
    assert "imported 0, updated 1, unchanged 0" in _run(db, monkeypatch, capsys, "mappings", str(mappings))[1]
    # A conversation linked later by its CRM reference reads the contact in its profile.
    ana = db.add_advisor("Ana", ANA, phone="+573009990001")
    db.query(
        "INSERT INTO chat_history (advisor_id, phone_number, crm_refs) VALUES (%s, '+573001112233', %s)",
        (ana, json.dumps({"hubspot": "1001"})),
    )
    profile = asyncio.run(_profile(db, ana, "+573001112233"))
    assert profile is not None and profile.name == "Laura M."
    assert profile.crm_contact == {"nombres": "Laura M.", "hubspot_id": "1001"}


def test_a_truncated_file_imports_what_came_before_and_says_where_it_broke(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db.add_advisor("Ana", ANA, phone="+573009990001")
    whole = json.dumps({f"57300{n:07d}": {"userName": f"Cliente {n}"} for n in range(3_000)})
    cut = tmp_path / "threads.json"
    cut.write_text(whole[: len(whole) * 2 // 3])
    code, out, err = _run(db, monkeypatch, capsys, "profiles", "--advisor", ANA, str(cut))
    assert code == 1
    assert "the file ends early or is not JSON near byte" in err and "rerun once fixed" in err
    imported = db.count("customer_profiles")
    assert 1_000 <= imported < 3_000
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2, 3]")
    code, _, err = _run(db, monkeypatch, capsys, "mappings", str(listed))
    assert code == 1 and "not a JSON object keyed by conversation id or phone" in err


async def _profile(db: Db, advisor_id: str, phone: str) -> CustomerProfile | None:
    async with await psycopg.AsyncConnection.connect(db.url, row_factory=dict_row) as conn:
        return await find_profile(conn=conn, advisor_id=UUID(advisor_id), phone=phone)


def _generate(path: Path, records: int, *, padding: int = 0) -> None:
    """A threads.json of `records` customers, written record by record (never whole in memory)."""
    with path.open("w") as out:
        out.write("{")
        for n in range(records):
            record = {"userName": f"Cliente {n}", "labels": ["importado"], "notes": "x" * padding}
            out.write(("," if n else "") + json.dumps(f"57310{n:07d}") + ":" + json.dumps(record))
        out.write("}")


def _import_process(db: Db, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI_REPORTING_PEAK, "import", "profiles", "--advisor", ANA, str(path)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db.url, "LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_100_mb_file_streams_in_bounded_memory(db: Db, tmp_path: Path) -> None:
    db.add_advisor("Ana", ANA, phone="+573009990001")
    big = tmp_path / "threads.json"
    _generate(big, 2_000, padding=50_000)
    assert big.stat().st_size > 100_000_000
    process = _import_process(db, big)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert "imported 2,000, updated 0, unchanged 0, rejected 0" in out
    peak_mb = peak_kb(err) / 1024
    assert peak_mb < 100, f"peak {peak_mb:.0f} MB for a {big.stat().st_size / 1e6:.0f} MB file: not streamed"


def test_an_import_killed_midway_is_finished_by_running_it_again(db: Db, tmp_path: Path) -> None:
    db.add_advisor("Ana", ANA, phone="+573009990001")
    path = tmp_path / "threads.json"
    _generate(path, 40_000)
    process = _import_process(db, path)
    wait_for(lambda: db.count("customer_profiles") >= 2_000, timeout=120, what="some batches imported")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    partial = db.count("customer_profiles")
    assert 2_000 <= partial < 40_000 and partial % 1_000 == 0  # whole batches only
    assert db.count("chat_history") == partial
    again = _import_process(db, path)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert f"imported {40_000 - partial:,}, updated 0, unchanged {partial:,}, rejected 0" in out
    assert db.count("customer_profiles") == 40_000


def test_on_a_terminal_the_import_shows_a_progress_bar_with_counts_and_rate(db: Db, tmp_path: Path) -> None:
    db.add_advisor("Ana", ANA, phone="+573009990001")
    path = tmp_path / "threads.json"
    _generate(path, 3_000)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "import", "profiles", "--advisor", ANA, str(path)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db.url, "LOG_LEVEL": "WARNING", "COLUMNS": "120"},
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    out, _ = process.communicate(timeout=120)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert process.returncode == 0
    bar = shown.decode(errors="replace")
    assert "threads.json" in bar and "3,000 records" in bar and "/s" in bar and "100%" in bar
    assert "imported 3,000" in out


def test_a_nul_a_deep_record_and_a_huge_one_are_rejected_alone_with_their_reasons(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 23, finding 14: one NUL aborted a whole import (0 of 10); deep and huge records too."""
    db.add_advisor("Ana", "+14155238886")
    deep = '{"x": ' * 5_000 + '"fondo"' + "}" * 5_000  # written by hand: json.dumps cannot
    records: dict[str, object] = {f"+5730011100{n:02d}": {"userName": f"Cliente {n}"} for n in range(7)}
    records["+573001110090"] = {"userName": "Ana\x00Mar\u00eda"}
    records["+573001110092"] = {"userName": "Enorme", "notes": "z" * (3 * 1024 * 1024)}
    text = json.dumps(records)
    text = text[:-1] + ', "+573001110091": {"userName": "Profundo", "extra": ' + deep + "}}"
    path = tmp_path / "threads.json"
    path.write_text(text, encoding="utf-8")
    code, out, err = _run(db, monkeypatch, capsys, "profiles", "--advisor", "+14155238886", str(path))
    assert code == 1 and "Traceback" not in err
    assert "imported 7" in out and "rejected 3" in out
    rejects = [
        json.loads(line) for line in (tmp_path / "threads.json.rejects.jsonl").read_text().splitlines()
    ]
    reasons = {r["key"]: r["reason"] for r in rejects}
    assert "NUL" in reasons["+573001110090"]
    assert "nested deeper" in reasons["+573001110091"]
    assert "larger than" in reasons["+573001110092"]
    assert all(r["record"] is None for r in rejects if r["key"] != "+573001110090")
    assert (tmp_path / "threads.json.rejects.jsonl").stat().st_size < 10_000


def test_an_unparsable_database_url_is_one_error_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for url in (
        "postgresql://ana:s3cr3t%zz@db.example/x",
        "not a url s3cr3t",
        "postgresql://a:s3cr3t@h:port/x",
    ):
        monkeypatch.setenv("DATABASE_URL", url)
        assert main(["advisors", "list"]) == 2
        _, err = capsys.readouterr()
        assert err.startswith("error: setting DATABASE_URL:") and len(err.strip().splitlines()) == 1
        assert "s3cr3t" not in err
