"""How many WhatsApp messages an AI turn becomes, before and after issue 27 ("prefer one message").

Every message inside the 24 h window is billed since October 2026, so a turn that goes out as two
messages costs twice. This runs one scripted set of conversations through `advisor-bot eval` (the
real server: webhook, queue, worker, agent, splitter, Content, Twilio double) twice: in a checkout
of the last commit before issue 27 (`BEFORE`, made with `git worktree`) and in this tree. The
model is one deterministic fake, the same for both, that writes what a sales model writes: short
answers, a long answer about one project, and choices (which project, which day). Where the
server offers the `offer_choices` tool it uses it; where it does not (before), it types the
options as a numbered list, as a model without the tool does. It ignores the prompt's length
rule on purpose: that rule's effect needs a real model (`advisor-bot eval --base-url` against
one); what is measured here is the product's own part, the same words in, how many messages out.

Run: `python -m bench reply_parts` (docs/benchmarks.md section 8). Uses
ADVISOR_BOT_TEST_DATABASE_URL's server when set (a temporary database), else the embedded one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.docs import machine_line, measured_at, replace_section
from tests.bot.evals.models import text_of
from tests.fakes import FakeOpenAI, Reply, start_fake_openai

COMMAND = "python -m bench reply_parts"
BEFORE = "33b4d16"  # the last commit of issue 26: the product as issue 27 found it
APART = "8649740"  # issue 27 with offer_choices, but the choices sent as a message after the reply
LABELS = {"before": BEFORE, "choices apart": APART, "after": "this tree"}
ROOT = Path(__file__).resolve().parent.parent
CONVERSATIONS = 12

PROJECTS = {
    "Torre Norte": "apartamentos de dos y tres alcobas junto al parque, con piscina y gimnasio",
    "Parque Sur": "apartamentos para primera vivienda, cerca del metro",
    "Villa Verde": "casas de dos pisos con patio, en conjunto cerrado",
    "Mirador": "apartamentos con vista a la montaña y terraza",
}
OPENING = "Tenemos cuatro proyectos en venta: " + "; ".join(f"{n}, {d}" for n, d in PROJECTS.items()) + "."
PROJECT_QUESTION = "¿Cuál te interesa?"
VISIT_LEAD = "Con gusto te mostramos el apartamento modelo; la sala de ventas abre de lunes a domingo."
VISIT_QUESTION = "¿Qué día te queda mejor?"
DAYS = ["Viernes", "Sábado", "Domingo"]
# What a model writes when asked for every detail of one project: five paragraphs, no figures.
DETAIL = "\n\n".join(
    [
        "Torre Norte es nuestro proyecto junto al parque del barrio, pensado para familias que quieren "
        "zonas verdes a la puerta de la casa y colegios a pocas cuadras. Tiene apartamentos de dos y tres "
        "alcobas, todos con balcón, cocina abierta y zona de ropas independiente.",
        "Las zonas comunes incluyen piscina para adultos y para niños, gimnasio dotado, salón social con "
        "cocina, parque infantil, sendero para trotar alrededor del conjunto y parqueadero de visitantes. "
        "La portería funciona día y noche y el acceso es con tarjeta.",
        "Los acabados se entregan completos: pisos en porcelanato, baños enchapados con división en vidrio, "
        "cocina integral con mesón en cuarzo y clósets en las alcobas. Puedes elegir entre dos paletas de "
        "color para los acabados mientras la obra avanza.",
        "La constructora tiene una trayectoria larga en la ciudad y entrega con fiducia, de modo que tu "
        "dinero queda protegido hasta la escrituración. El proyecto ya tiene licencia de construcción y la "
        "obra está en marcha; en la sala de ventas puedes ver el avance.",
        "Para separar solo necesitas tu documento y una consignación inicial; el resto se paga en cuotas "
        "durante la obra y el saldo con crédito hipotecario o leasing. Ana te acompaña en cada paso y te "
        "ayuda con el banco si lo necesitas.",
        "El barrio tiene supermercados, droguerías y restaurantes a pocos minutos a pie, y las rutas de "
        "buses pasan por la avenida principal. Los fines de semana el parque se llena de familias y hay "
        "mercado campesino los domingos en la mañana.",
        "Si quieres, te envío los planos de cada tipo de apartamento y te cuento cuáles unidades quedan "
        "con la mejor vista al parque; esas suelen ser las primeras en separarse.",
    ]
)
SHORT = "Claro, con gusto te ayudo. Cuéntame qué estás buscando."
TURNS = [
    ("Hola, buenas tardes", None),
    ("¿Qué proyectos tienen?", 1),
    ("Cuéntame todo de Torre Norte, con todos los detalles", None),
    ("Quiero ir a conocerlo", 1),
    ("Gracias, muy amable", None),
]


def _numbered(question: str, options: list[str]) -> str:
    return "\n".join([question, *(f"{n}. {option}" for n, option in enumerate(options, 1))])


def writer(fake: FakeOpenAI) -> Any:
    """The fake sales model: choices through `offer_choices` where the server offers it, else typed."""

    def behaviour(messages: list[dict[str, Any]]) -> Reply:
        with fake.lock:
            request = next(r for r in reversed(fake.requests) if r["messages"] is messages)
        tools = {tool["function"]["name"] for tool in request.get("tools") or []}
        if messages[0]["role"] == "system" and text_of(messages[0]).startswith("Resume la conversación"):
            return {"content": "El cliente pregunta por los proyectos y quiere visitar Torre Norte."}
        said = next(text_of(m) for m in reversed(messages) if m["role"] == "user").lower()
        answered_tool = messages[-1]["role"] == "tool"
        for asks, lead, question, options in (
            ("proyectos", OPENING, PROJECT_QUESTION, list(PROJECTS)),
            ("conocer", VISIT_LEAD, VISIT_QUESTION, DAYS),
        ):
            if asks not in said:
                continue
            if "offer_choices" not in tools:
                return {"content": f"{lead}\n\n{_numbered(question, options)}"}
            if answered_tool:
                return {"content": lead}
            return {
                "content": None,
                "tool_calls": [("offer_choices", {"question": question, "options": options})],
            }
        if "detalles" in said:
            return {"content": DETAIL}
        if "gracias" in said:
            return {"content": "Con gusto. Aquí estoy para lo que necesites."}
        return {"content": SHORT}

    return behaviour


def _scenarios(folder: Path) -> Path:
    advisor = {
        "name": "Ana Gómez",
        "instructions": "Eres Ana Gómez, asesora de ventas de proyectos de vivienda. "
        "Responde como en WhatsApp.",
        "language": "es",
    }
    scenarios = [
        {
            "id": f"conversacion-{n:02d}",
            "description": "A customer asks for the projects, every detail of one, and a visit.",
            "advisor": advisor,
            "turns": [
                {"say": said, **({"expect": {"max_messages": most}} if most else {})} for said, most in TURNS
            ],
        }
        for n in range(1, CONVERSATIONS + 1)
    ]
    path = folder / "reply_parts.json"
    path.write_text(json.dumps({"scenarios": scenarios}, ensure_ascii=False))
    return path


def _run(tree: Path, fake: FakeOpenAI, scenarios: Path, report: Path) -> dict[str, Any]:
    """`advisor-bot eval` of `tree`'s code, in a process of its own (its own modules)."""
    args = [sys.executable, "-m", "bot.cli", "eval", "--scenarios", str(scenarios)]
    args += ["--base-url", fake.url, "--model", "writer", "--report", str(report)]
    server = os.environ.get("ADVISOR_BOT_TEST_DATABASE_URL")
    if server:
        args += ["--database-url", server]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    loaded = subprocess.run(
        [sys.executable, "-c", "import bot; print(bot.__file__)"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not loaded.startswith(str(tree)):
        raise RuntimeError(f"{tree} would run the code of {loaded}")
    finished = subprocess.run(
        args, cwd=tree, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if not report.exists():
        raise RuntimeError(f"eval in {tree} wrote no report: {finished.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def _messages_per_turn(data: dict[str, Any]) -> list[int]:
    """For each customer turn of every transcript, how many messages the AI's answer was."""
    counts: list[int] = []
    for result in data["results"]:
        for line in result["transcript"]:
            if "customer" in line:
                counts.append(0)
            elif "advisor" in line and counts:
                counts[-1] += 1
    return counts


def _figures(counts: list[int]) -> dict[str, Any]:
    answered = [n for n in counts if n]
    return {
        "turns": len(counts),
        "answered": len(answered),
        "one_message": sum(1 for n in answered if n == 1),
        "share": sum(1 for n in answered if n == 1) / max(1, len(answered)),
        "messages": sum(answered),
        "per_turn": sum(answered) / max(1, len(answered)),
    }


def main() -> int:
    fake = start_fake_openai(keep_alive=True)
    fake.behaviour = writer(fake)
    runs: dict[str, dict[str, Any]] = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            place = Path(folder)
            scenarios = _scenarios(place)
            trees = {"before": place / "before", "choices apart": place / "apart", "after": ROOT}
            for name, commit in (("before", BEFORE), ("choices apart", APART)):
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(trees[name]), commit],
                    check=True,
                    capture_output=True,
                )
            try:
                for name, tree in trees.items():
                    started = time.monotonic()
                    data = _run(tree, fake, scenarios, place / f"{name.replace(' ', '_')}.json")
                    runs[name] = {
                        **_figures(_messages_per_turn(data)),
                        "score": data["score"],
                        "seconds": time.monotonic() - started,
                    }
            finally:
                for name in ("before", "choices apart"):
                    subprocess.run(
                        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(trees[name])],
                        check=False,
                        capture_output=True,
                    )
    finally:
        assert fake.server is not None
        fake.server.close()
    print(json.dumps(runs, indent=2), flush=True)
    rows = "\n".join(
        f"| {name} ({LABELS[name]}) | {f['answered']} | {f['one_message']} "
        f"| {f['share']:.1%} | {f['messages']} | {f['per_turn']:.2f} | {f['score']:.3f} "
        f"| {f['seconds']:.0f} s |"
        for name, f in runs.items()
    )
    replace_section(
        "reply_parts",
        f"""
## 8. One message per AI turn: before and after "prefer one message" (issue 27)

`{COMMAND}` ({measured_at()}). {machine_line()} {CONVERSATIONS} scripted conversations of
{len(TURNS)} turns each (a greeting, "which projects?", "every detail of one", "I want to visit",
thanks) through `advisor-bot eval` on the real server path, in three trees: a checkout of
`{BEFORE}` (the product before issue 27), one of `{APART}` (issue 27's buttons and lists, sent as
a message after the reply) and this tree. The model is the same fake sales model in all three:
it offers the projects and the visit days with `offer_choices` where the server has that tool,
and types them as a numbered list where it does not; it writes the same long answer
({DETAIL.count(chr(10) + chr(10)) + 1} paragraphs, {len(DETAIL):,} characters) everywhere. Every
message inside the window is billed, so the share of AI turns sent as one message is what a turn
costs. The checks score is the eval's `max_messages: 1` on the two turns that offer choices.

| tree | AI turns | sent as one message | share | messages | per turn | checks score | run |
|---|---|---|---|---|---|---|---|
{rows}

The fake ignores the prompt's rule of one WhatsApp message of at most 1,600 characters: what a
real model makes of that rule is measured with `advisor-bot eval --base-url` against one (no real
model is reachable here). The same words go in every time, so the differences are the product's
own. The choices ride in the message of the reply they close (one Content per set of options, its
text a variable); sent apart, as in `{APART}`, they made each of those turns two messages. The
long answer is two messages in every tree (split at a paragraph break since issue 27, at a
sentence before). The run column is each tree's own eval: `{APART}`'s Twilio double never
reported a message `sent`, so every multi-part turn waited the 5 s bound for it
(`PART_DELIVERY_WAIT_SECONDS`); this tree's double reports as Twilio does.
""",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
