"""One conversation driven to 200 turns: bytes the database stores and writes per turn, and the
prompt the model is sent per turn, at turn 10 against turn 200.

Run: `.venv/bin/python -m bench.turns` (BENCH_TURNS, default 200). `advisor-bot serve` with the
local fake model (answers at once) and fake Twilio; turn 5 carries a 120 KB photo, given to the
model as image input (OPENAI_IMAGE_INPUT=on). Each turn is one customer message and its reply,
measured once the queue is idle: stored bytes are the sizes of the rows added (pg_column_size),
WAL bytes the database's own write-ahead log position before and after (everything written,
indexes and the queue included). Prompt tokens: the approximate count the server's own trimming
uses (characters / 4, a picture ~85), over what the model was sent.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from langchain_core.messages.utils import count_tokens_approximately

from bench.docs import DOC, machine_line, measured_at, replace_section
from bench.server import ADVISORS, TOKEN, bench_environment, database_url, running_server
from bench.services import Services, local_services
from bot.cli.simulate import signed_form

CUSTOMER = "+573005550123"
PICTURE_TURN = 5
PHOTO_BYTES = 120_000
PLOT = DOC.parent / "img" / "bytes-per-turn.png"
DATA = DOC.parent / "data" / "turns.json"
# Each table's rows added by a turn are those past the key it had before the turn: the
# checkpointer's ids and channel versions only grow. Sizes of all rows would shrink whenever the
# periodic pruning deletes superseded checkpoints, which says nothing about what a turn writes.
STORED = {
    "checkpoints": "checkpoint_id",
    "checkpoint_blobs": "version",
    "checkpoint_writes": "checkpoint_id",
    "messages": "id",
}


def marks_of(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """The newest key of each table, and the database's write-ahead log position."""
    marks: dict[str, Any] = {
        table: conn.execute(f"SELECT max({key}) FROM {table}").fetchone()[0]  # type: ignore[index]  # noqa: S608
        for table, key in STORED.items()
    }
    marks["wal"] = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    return marks


def added_since(conn: psycopg.Connection[Any], marks: dict[str, Any]) -> dict[str, int]:
    """Bytes of the rows added since `marks` (pg_column_size), per table, and WAL bytes written."""
    sizes: dict[str, int] = {}
    for table, key in STORED.items():
        query = f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t"  # noqa: S608
        if marks[table] is not None:
            row = conn.execute(query + f" WHERE {key} > %s", (marks[table],)).fetchone()
        else:
            row = conn.execute(query).fetchone()
        sizes[table] = int(row[0])  # type: ignore[index]
    wal = conn.execute("SELECT pg_current_wal_lsn() - %s::pg_lsn", (marks["wal"],)).fetchone()
    sizes["wal"] = int(wal[0])  # type: ignore[index]
    return sizes


def _turn_form(turn: int, url: str, services: Services) -> tuple[dict[str, str], str]:
    """The customer's message of `turn`, signed; turn PICTURE_TURN carries the photo."""
    photo = {"NumMedia": "1", "MediaContentType0": "image/jpeg", "MediaUrl0": services.media_url("PHOTO")}
    return signed_form(
        url=url,
        auth_token=TOKEN,
        to=ADVISORS[0],
        from_=CUSTOMER,
        text=f"Pregunta {turn}: ¿el apartamento del piso {turn % 12 + 1} tiene balcón y parqueadero?",
        sid=f"SMturn{turn:04d}{random.getrandbits(64):024x}",
        extra=photo if turn == PICTURE_TURN else None,
    )


@contextlib.contextmanager
def conversation_server(services: Services, extra: dict[str, str], *, prefix: str) -> Iterator[Turns]:
    """`advisor-bot serve` on a fresh embedded PostgreSQL, talking to `services`, one turn at a time."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        env = {**bench_environment(folder), **services.environment(), **extra}
        with (
            running_server(folder, env, []) as base,
            psycopg.connect(database_url(folder), autocommit=True) as conn,
        ):
            yield Turns(services, conn, base + "/webhooks/twilio")


@dataclass
class Turns:
    """Plays a conversation's turns against a running server and measures each one."""

    services: Services
    conn: psycopg.Connection[Any]
    webhook: str
    played: int = 0

    def play(self, form: dict[str, str], signature: str) -> tuple[dict[str, int], list[dict[str, Any]]]:
        """Send one signed customer message and wait for its reply; bytes added and model requests."""
        marks = marks_of(self.conn)
        requests_before = len(self.services.model.requests)
        response = httpx.post(self.webhook, data=form, headers={"X-Twilio-Signature": signature})
        self.played += 1
        if response.status_code != 200:
            raise SystemExit(f"turn {self.played}: webhook answered {response.status_code}")
        self.services.wait_for_replies(self.conn, self.played, timeout=60)
        return added_since(self.conn, marks), self.services.model.requests[requests_before:]


def run(turns: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with local_services() as services:
        photo = b"\xff\xd8\xff\xe0\x00\x10JFIF" + random.randbytes(PHOTO_BYTES) + b"\xff\xd9"
        services.media.files["PHOTO"] = (photo, "image/jpeg")
        extra = {"OPENAI_IMAGE_INPUT": "on"}
        with conversation_server(services, extra, prefix="advisor-bot-turns-") as conversation:
            for turn in range(1, turns + 1):
                added, prompts = conversation.play(*_turn_form(turn, conversation.webhook, services))
                prompt_chars = sum(len(json.dumps(r["messages"], ensure_ascii=False)) for r in prompts)
                row = {
                    "turn": turn,
                    **{f"{name}_bytes": size for name, size in added.items()},
                    "stored_bytes": sum(added[name] for name in STORED),
                    "model_calls": len(prompts),
                    "prompt_messages": len(prompts[-1]["messages"]) if prompts else 0,
                    "prompt_tokens": sum(count_tokens_approximately(r["messages"]) for r in prompts),
                    "prompt_chars": prompt_chars,
                }
                rows.append(row)
                if turn in (1, PICTURE_TURN, 10, 50, 100, 200):
                    print(json.dumps(row), flush=True)
    return rows


def main() -> int:
    turns = int(os.environ.get("BENCH_TURNS", "200"))
    rows = run(turns)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(rows, indent=1))
    _plot(rows)
    _write(rows, turns)
    return 0


def _plot(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (bytes_axis, tokens_axis) = plt.subplots(2, 1, figsize=(7, 6), dpi=110, sharex=True)
    turns = [row["turn"] for row in rows]
    bytes_axis.plot(turns, [row["stored_bytes"] / 1024 for row in rows], label="stored (rows added)")
    bytes_axis.plot(turns, [row["wal_bytes"] / 1024 for row in rows], label="written (WAL)", alpha=0.7)
    bytes_axis.plot(
        turns,
        [row["checkpoint_blobs_bytes"] / 1024 for row in rows],
        label="of which checkpoint blobs",
        linestyle="--",
    )
    bytes_axis.set_yscale("log")
    bytes_axis.set_ylabel("KiB per turn (log)")
    bytes_axis.set_title("One conversation, turn by turn (photo at turn 5)")
    bytes_axis.grid(True, which="both", linewidth=0.3)
    bytes_axis.legend(fontsize=8)
    tokens_axis.plot(turns, [row["prompt_tokens"] for row in rows], color="tab:red")
    tokens_axis.set_ylabel("prompt tokens sent (approx.)")
    tokens_axis.set_xlabel("turn")
    tokens_axis.grid(True, linewidth=0.3)
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT)


def _write(rows: list[dict[str, Any]], turns: int) -> None:
    shown = [row for row in rows if row["turn"] in (1, PICTURE_TURN, PICTURE_TURN + 1, 10, 50, 100, 150, 200)]
    table = "\n".join(
        f"| {r['turn']}{' (photo)' if r['turn'] == PICTURE_TURN else ''} | {r['stored_bytes']:,} | "
        f"{r['checkpoints_bytes'] + r['checkpoint_blobs_bytes'] + r['checkpoint_writes_bytes']:,} | "
        f"{r['messages_bytes']:,} | {r['wal_bytes']:,} | {r['prompt_messages']} | {r['prompt_tokens']:,} |"
        for r in shown
    )
    by_turn = {row["turn"]: row for row in rows}
    ten, last = by_turn.get(10), by_turn.get(turns)
    headline = ""
    if ten and last:
        headline = (
            f"Turn 10 against turn {turns}: **{ten['stored_bytes']:,} against {last['stored_bytes']:,} bytes "
            f"stored**, {ten['wal_bytes']:,} against {last['wal_bytes']:,} bytes of WAL, "
            f"**{ten['prompt_tokens']:,} against {last['prompt_tokens']:,} prompt tokens**."
        )
    before_file = DATA.with_name("turns-before-fix.json")
    if before_file.exists():
        before = {row["turn"]: row for row in json.loads(before_file.read_text())}
        if 10 in before and turns in before:
            headline += (
                f"\n\nBefore the fix (same benchmark, whose forms then lacked some of Twilio's fields,"
                f" `docs/data/turns-before-fix.json`), the whole memory,"
                f" photo included, was stored again in every checkpoint, two per turn, and sent to the"
                f" model every turn: turn 10 {before[10]['stored_bytes']:,} bytes stored /"
                f" {before[10]['wal_bytes']:,} WAL, turn {turns} {before[turns]['stored_bytes']:,} /"
                f" {before[turns]['wal_bytes']:,}; prompt tokens {before[10]['prompt_tokens']:,} and"
                f" {before[turns]['prompt_tokens']:,}, plus the {PHOTO_BYTES // 1000} KB photo each call."
            )
    replace_section(
        "turns",
        f"""
## 3b. Growth of one conversation: bytes and prompt per turn

Command: `.venv/bin/python -m bench.turns` (part of `make bench`). {machine_line()}
Measured: {measured_at()}. Raw figures for every turn: `docs/data/turns.json`.

| turn | stored B | checkpoints B | messages B | WAL B | prompt messages | prompt tokens ≈ |
|---|---|---|---|---|---|---|
{table}

{headline}

![Bytes and prompt tokens per turn](img/bytes-per-turn.png)
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
