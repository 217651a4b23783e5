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


def test_the_reply_rides_above_its_options_when_both_fit_one_message_and_the_content_is_shared() -> None:
    asked = build_choices("¿Cuál te interesa?", ["Torre Norte", "Torre Sur"])
    carried = asked.with_lead("Tenemos dos torres con entrega en 2027.")
    assert carried is not None
    assert carried.content_variables() == {
        "1": "Tenemos dos torres con entrega en 2027.\n\n¿Cuál te interesa?"
    }
    assert carried.as_text().splitlines()[:3] == [
        "Tenemos dos torres con entrega en 2027.",
        "",
        "¿Cuál te interesa?",
    ]
    assert Choices.from_payload(carried.to_payload()) == carried
    # The text is a variable of the Content: asked another way, the same options are the same shape.
    other = build_choices("¿Y cuál prefieres?", ["Torre Norte", "Torre Sur"])
    assert other.shape_hash() == asked.shape_hash() == carried.shape_hash()
    assert build_choices("¿Cuál?", ["Torre Norte", "Casa"]).shape_hash() != asked.shape_hash()
    # WhatsApp's body holds 1,024 characters: a longer reply stays a message of its own.
    room = 1024 - len("¿Cuál te interesa?") - 2
    assert asked.with_lead("x" * room) is not None and asked.with_lead("x" * (room + 1)) is None
    assert asked.with_lead("   ") is None
