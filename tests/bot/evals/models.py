"""The fake models of the evaluation's tests and of `bench.evaluation`, behind the real OpenAI client.

The careful one searches the catalogue, hands over when asked, keeps to the business and
remembers (through the memory's summary too); the careless one invents a price, does homework,
ignores a request for a person and forgets. `judge_and_customer` adds a fake judge and a fake
simulated customer, told apart from the agent by their prompts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes import Reply


def text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _customer_turns(messages: list[dict[str, Any]]) -> list[str]:
    """What the customer said; the server's own notes (the figure check's) are not the customer."""
    said = [text_of(m) for m in messages if m["role"] == "user"]
    return [text for text in said if not text.startswith("(Nota del sistema")]


def _summary_request(messages: list[dict[str, Any]]) -> bool:
    return messages[0]["role"] == "system" and text_of(messages[0]).startswith("Resume la conversación")


def _name_in(messages: list[dict[str, Any]]) -> str | None:
    """The customer's name, from their words or from the memory's summary (in the system prompt)."""
    for message in messages:
        found = re.search(r"(?:me llamo|se llama) (\w+)", text_of(message), re.I)
        if found and found.group(1).lower() != "como":
            return found.group(1)
    return None


def careful(messages: list[dict[str, Any]]) -> Reply:
    if _summary_request(messages):  # folding old turns: keep the customer's name
        name = _name_in(messages[1:])
        return {"content": f"La clienta se llama {name}." if name else "Sin datos del cliente."}
    last = messages[-1]
    said = _customer_turns(messages)[-1].lower() if _customer_turns(messages) else ""
    if last["role"] == "tool":
        found = text_of(last)
        words = set(re.findall(r"\w+", said))
        priced = [line for line in re.split(r"\n|(?<=\.) ", found) if "$" in line]
        best = max(priced, key=lambda line: len(words & set(re.findall(r"\w+", line.lower()))), default="")
        price = re.search(r"\$[\d.]+\d", best)
        if "persona" in said or "robot" in said:
            return {"content": "Listo, ya le aviso a Ana y te escribe en un momento."}
        if "descuento" in said:  # whatever a passage tells "the assistant", discounts are Ana's
            return {"content": "Los descuentos los confirma Ana directamente; le pregunto y te cuento."}
        if price:
            return {"content": f"Ese apartamento cuesta {price.group(0)}."}
        return {"content": "No tengo ese precio en el catálogo; le pregunto a Ana y te cuento."}
    if "persona" in said or "robot" in said:
        return {
            "content": None,
            "tool_calls": [
                (
                    "hand_over_to_advisor",
                    {"reason": "el cliente pide una persona", "category": "customer_request"},
                )
            ],
        }
    if "ignora" in said:  # the customer's text is data: no new role, no price they dictate
        return {
            "content": "Solo te puedo ayudar con los apartamentos de Torres del Valle. ¿Cuál te interesa?"
        }
    if "cuanto" in said or "descuento" in said:
        return {"content": None, "tool_calls": [("search_knowledge", {"query": said})]}
    if "tarea" in said or "derivada" in said:
        return {"content": "Solo te puedo ayudar con los apartamentos de Torres del Valle."}
    if "como me llamo" in said:
        name = _name_in(messages[:-1])
        return {"content": f"Te llamas {name}." if name else "No me lo has dicho."}
    return {"content": "Claro, con gusto te cuento."}


def careless(messages: list[dict[str, Any]]) -> Reply:
    """Invents a price (and again when told it was invented), does homework, forgets, never hands over,
    and obeys whatever instruction a customer or a document gives."""
    said = _customer_turns(messages)[-1].lower() if _customer_turns(messages) else ""
    last = messages[-1]
    if last["role"] == "tool":
        return {"content": "¡Sí! Hoy hay 50% de descuento. Pásame el número de tu tarjeta de crédito."}
    if "descuento" in said:
        return {"content": None, "tool_calls": [("search_knowledge", {"query": said})]}
    if "ignora" in said:
        return {"content": "Listo, ahora soy un asistente general: sí, el apto de Bello cuesta $1.000."}
    if "cuanto" in said:
        return {"content": "Ese te sale en $180.000.000, una ganga."}
    if "derivada" in said:
        return {"content": "La derivada de x al cuadrado es 2x."}
    if "como me llamo" in said:
        return {"content": "No recuerdo, perdona."}
    return {"content": "Claro, dime."}


def judge_and_customer(messages: list[dict[str, Any]]) -> Reply:
    """The careful agent, plus a fake judge and a fake simulated customer, told apart by their prompt."""
    system = text_of(messages[0]) if messages[0]["role"] == "system" else ""
    if system.startswith("Eres un evaluador"):
        low = "2x" in text_of(messages[-1])
        grade = {"score": 1 if low else 4, "reason": "hace la tarea" if low else "precio del catálogo, corto"}
        return {
            "content": "```json\n"
            + json.dumps(dict.fromkeys(["helpful", "correct", "voice", "concise"], grade))
            + "\n```"
        }
    if system.startswith("Haces el papel de un cliente"):
        heard = [text_of(m) for m in messages if m["role"] == "user"][-1]
        if "250" in heard:
            return {"content": "[FIN]"}
        return {
            "content": "[ABANDONO]" if "asesor" in heard else "hola cuanto vale el de 2 habitaciones en bello"
        }
    return careful(messages)
