"""Does the AI still know, at turn 200, what the customer said at turns 3, 50 and 120?

Run: `.venv/bin/python -m bench.memory_recall` (BENCH_TURNS, default 200). `advisor-bot serve`
with its default memory (MODEL_CONTEXT_TOKENS=16000: the 8k strategy, 6,000 tokens) talks to a
local fake model over loopback. The fake model is deterministic: it answers every customer
message with a fixed-shape sentence, and asked for a summary it keeps every sentence of the
customer that states a fact (a name, a budget, a pet: the patterns in FACT_PATTERNS) plus the
facts of the previous summary, nothing else. "In the prompt" means in the last request the model
received at turn 200, system prompt and summary included.

The sliding window alone (the memory before issue 12: the newest AI_MEMORY_TOKENS=4,000 tokens,
nothing older) is computed with the same trimming function over the same 200 turns read back
from the database, i.e. what that memory would have sent at turn 200.
"""

from __future__ import annotations

import json
import os
import random
import re
from typing import Any

import psycopg
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.messages.utils import count_tokens_approximately

from bench.docs import DOC, machine_line, measured_at, replace_section
from bench.server import ADVISORS, TOKEN
from bench.services import local_services
from bench.turns import STORED, conversation_server
from bot.cli.simulate import signed_form
from memory.ai.trimming import messages_within_budget
from tests.fakes import Reply

CUSTOMER = "+573005550199"
DATA = DOC.parent / "data" / "memory_recall.json"
FACTS = {
    3: ("Me llamo Valentina Ríos y busco apartamento para mi familia.", "Valentina"),
    50: ("Mi presupuesto máximo es de 320 millones, ni un peso más.", "320 millones"),
    120: ("Tengo dos gatos, así que el edificio debe aceptar mascotas.", "gatos"),
}
FACT_PATTERNS = re.compile(r"me llamo|presupuesto|mascotas", re.IGNORECASE)
TODAY_WINDOW_TOKENS = 4_000  # AI_MEMORY_TOKENS before issue 12
SHOWN_TURNS = (10, 50, 100, 150, 200)
_QUESTIONS = (
    "¿el apartamento del piso {floor} tiene balcón?",
    "¿cuánto es la administración del bloque {floor}?",
    "y el parqueadero del {floor} es cubierto o descubierto",
    "¿se puede visitar el sábado a las {floor} de la tarde?",
    "¿qué tan lejos queda del metro la torre {floor}?",
)


def _customer_text(turn: int) -> str:
    if turn in FACTS:
        return FACTS[turn][0]
    return f"Pregunta {turn}: " + _QUESTIONS[turn % len(_QUESTIONS)].format(floor=turn % 12 + 1)


def _is_summary_request(messages: list[dict[str, Any]]) -> bool:
    return str(messages[0].get("content", "")).startswith("Resume la conversación")


def fake_model(messages: list[dict[str, Any]]) -> Reply:
    """Deterministic: answers in one fixed shape; summaries keep the customer's stated facts."""
    if _is_summary_request(messages):
        shown = str(messages[-1]["content"])
        facts = [
            sentence.strip()
            for line in shown.splitlines()
            for sentence in re.split(r"(?<=[.!?])\s+", line.removeprefix("Cliente: ").removeprefix("- "))
            if FACT_PATTERNS.search(sentence)
        ]
        return {"content": "\n".join(f"- {fact}" for fact in dict.fromkeys(facts)) or "- (sin datos)"}
    question = str(messages[-1].get("content", ""))[:80]
    return {"content": f"Con gusto le cuento sobre eso: «{question}». ¿Le agendo una visita esta semana?"}


def _prompt_text(request: dict[str, Any]) -> str:
    return json.dumps(request["messages"], ensure_ascii=False)


def _sliding_window_alone(conn: psycopg.Connection[Any]) -> str:
    """What the newest-4,000-tokens memory would have sent at the last turn (system prompt aside)."""
    rows = conn.execute(
        "SELECT direction, body FROM messages WHERE direction = 'inbound' OR author = 'ai' ORDER BY id"
    ).fetchall()
    history: list[BaseMessage] = [
        HumanMessage(body) if direction == "inbound" else AIMessage(body) for direction, body in rows
    ]
    kept = messages_within_budget("", history, max_tokens=TODAY_WINDOW_TOKENS)
    return "\n".join(message.text for message in kept)


def run(turns: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with local_services() as services:
        services.model.behaviour = fake_model
        with conversation_server(services, {}, prefix="advisor-bot-recall-") as conversation:
            for turn in range(1, turns + 1):
                added, requests = conversation.play(
                    *signed_form(
                        url=conversation.webhook,
                        auth_token=TOKEN,
                        to=ADVISORS[0],
                        from_=CUSTOMER,
                        text=_customer_text(turn),
                        sid=f"SMrecall{turn:04d}{random.getrandbits(64):024x}",
                    )
                )
                answers = [r for r in requests if not _is_summary_request(r["messages"])]
                rows.append(
                    {
                        "turn": turn,
                        **{f"{name}_bytes": size for name, size in added.items()},
                        "stored_bytes": sum(added[name] for name in STORED),
                        "model_calls": len(requests),
                        "summary_calls": len(requests) - len(answers),
                        "prompt_tokens": sum(count_tokens_approximately(r["messages"]) for r in requests),
                        "answer_prompt_tokens": count_tokens_approximately(answers[-1]["messages"]),
                    }
                )
                if turn in SHOWN_TURNS:
                    print(json.dumps(rows[-1]), flush=True)
            last_prompt = _prompt_text(answers[-1])
            window = _sliding_window_alone(conversation.conn)
    recall = {
        str(turn): {
            "fact": needle,
            "summary_memory": needle in last_prompt,
            "sliding_window": needle in window,
        }
        for turn, (_, needle) in FACTS.items()
        if turn <= turns
    }
    return {"turns": rows, "recall": recall}


def main() -> int:
    turns = int(os.environ.get("BENCH_TURNS", "200"))
    result = run(turns)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(result, indent=1))
    _write(result, turns)
    missing = [turn for turn, found in result["recall"].items() if not found["summary_memory"]]
    if missing:
        print(f"facts of turns {', '.join(missing)} missing from the prompt at turn {turns}")
        return 1
    return 0


def _write(result: dict[str, Any], turns: int) -> None:
    rows = {row["turn"]: row for row in result["turns"]}
    shown = [rows[turn] for turn in SHOWN_TURNS if turn in rows]
    table = "\n".join(
        f"| {r['turn']} | {r['stored_bytes']:,} | "
        f"{r['checkpoints_bytes'] + r['checkpoint_blobs_bytes'] + r['checkpoint_writes_bytes']:,} | "
        f"{r['messages_bytes']:,} | {r['wal_bytes']:,} | {r['answer_prompt_tokens']:,} |"
        for r in shown
    )
    recall = "\n".join(
        f"| {turn} | {found['fact']} | {'yes' if found['summary_memory'] else 'no'} | "
        f"{'yes' if found['sliding_window'] else 'no'} |"
        for turn, found in result["recall"].items()
    )
    calls = sum(row["model_calls"] for row in result["turns"])
    summaries = sum(row["summary_calls"] for row in result["turns"])
    ten, last = rows.get(10), rows.get(turns)
    ratio = f"{last['stored_bytes'] / ten['stored_bytes']:.2f}" if ten and last else "n/a"
    flat = (
        f"Bytes stored per turn, turn 10 against turn {turns}: **{ten['stored_bytes']:,} against "
        f"{last['stored_bytes']:,} ({ratio} ×)**, checkpoints included."
        if ten and last
        else ""
    )
    replace_section(
        "memory_recall",
        f"""
## 3c. Memory recall over 200 turns: summary of older turns

Command: `.venv/bin/python -m bench.memory_recall`. {machine_line()}
Measured: {measured_at()}. Raw figures for every turn: `docs/data/memory_recall.json`.
Facts at turns 3, 50 and 120; the deterministic fake model's summaries keep the customer's
sentences that state a fact (see the module's docstring). Default memory (MODEL_CONTEXT_TOKENS
16,000: 6,000 tokens, of which the summary at most 1,000).

| given at turn | fact | in the prompt at turn {turns} | in the sliding window alone (4,000 tokens) |
|---|---|---|---|
{recall}

| turn | stored B | checkpoints B | messages B | WAL B | answer prompt tokens ≈ |
|---|---|---|---|---|---|
{table}

{flat} Model calls: {calls:,} for {turns} turns ({calls / turns:.3f} per turn), of which
{summaries} summaries (one fold every {turns / max(summaries, 1):.0f} turns or so).
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
