"""Choices within WhatsApp's limits: buttons for a few short options, a list for more, else the reason."""

from __future__ import annotations

import pytest

from bot.twilio.choices import Choices, ChoicesRefusedError, build_choices


def test_two_or_three_short_options_are_buttons_and_more_are_a_list() -> None:
    buttons = build_choices("¿Agendamos visita?", ["Sí", "No", "Otro día"])
    assert buttons.kind == "quick_reply"
    assert buttons.content_types()["twilio/quick-reply"]["actions"] == [
        {"title": "Sí", "id": "opcion_1"},
        {"title": "No", "id": "opcion_2"},
        {"title": "Otro día", "id": "opcion_3"},
    ]
    many = build_choices("¿Cuál proyecto?", ["Torre Norte | 2 y 3 alcobas", "Torre Sur", "Casa", "Lote"])
    assert many.kind == "list"
    items = many.content_types()["twilio/list-picker"]["items"]
    assert items[0] == {"item": "Torre Norte", "id": "opcion_1", "description": "2 y 3 alcobas"}
    assert items[1] == {"item": "Torre Sur", "id": "opcion_2"}
    assert many.as_text().splitlines() == [
        "¿Cuál proyecto?",
        "1. Torre Norte — 2 y 3 alcobas",
        "2. Torre Sur",
        "3. Casa",
        "4. Lote",
    ]
    assert Choices.from_payload(many.to_payload()) == many
    assert (
        many.shape_hash()
        == build_choices(
            "¿Cuál proyecto?", ["Torre Norte|2 y 3 alcobas", "Torre Sur", "Casa", "Lote"]
        ).shape_hash()
    )


@pytest.mark.parametrize(
    ("question", "options", "kind", "reason"),
    [
        ("¿Cuál?", ["Una"], None, "entre 2 y 10"),
        ("¿Cuál?", [f"Opción {n}" for n in range(11)], None, "entre 2 y 10"),
        ("¿Cuál?", ["Sí", "sí"], None, "repetidas"),
        ("", ["Sí", "No"], None, "Falta la pregunta"),
        ("¿Cuál?", ["Sí", "No", "Quizá", "Nunca"], "quick_reply", "3 como máximo"),
        ("¿Cuál?", ["Apartamento con terraza grande", "No"], "quick_reply", "20 caracteres"),
        ("¿Cuál?", ["Apartamento con terraza y jardín", "No"], "list", "24 caracteres"),
        ("¿Cuál?", ["Norte | " + "x" * 73, "Sur"], None, "72 caracteres"),
    ],
)
def test_what_whatsapp_would_refuse_is_refused_with_the_reason(
    question: str, options: list[str], kind: str | None, reason: str
) -> None:
    with pytest.raises(ChoicesRefusedError, match=reason):
        build_choices(question, options, kind)  # type: ignore[arg-type]


def test_a_long_title_makes_a_list_rather_than_buttons() -> None:
    assert build_choices("¿Cuál?", ["Apartamento con terraza", "Casa"]).kind == "list"
