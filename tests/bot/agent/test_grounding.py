"""Figures in a reply must come from what the business wrote, however either side writes them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.agent.grounding import has_figures, source_figures, ungrounded_figures
from tests.conftest import fuzz_examples

CATALOGUE = [
    "Apartamento de 2 habitaciones en Bello: $1.200.000 de arriendo. Separación con $5.000.000.",
    "Mirador de Envigado: $410.000.000. Cuota inicial del 30% en 24 meses. Entrega en junio de 2027.",
    "Sala de ventas: +57 300 123 4567, de lunes a sábado de 08:00 a 18:00.",
    "Presupuesto del cliente: 1,5 millones.",
]


@pytest.mark.parametrize(
    "reply",
    [
        "El arriendo es de $1.200.000",
        "El arriendo es de 1,2 millones",
        "El arriendo es de $1200000",
        "El arriendo es de 1.2M",
        "Vale 410 millones",
        "Vale $410.000.000 y la cuota inicial es del 30 %",
        "Se entrega en junio de 2027, en 24 meses pagas la cuota",
        "Llámanos al 3001234567 o al +57 300 123 4567",
        "Abrimos a las 08:00",
        "Tu presupuesto de $1.500.000 alcanza",
        "Tiene 2 habitaciones y 1 baño",  # counts below ten are the conversation's
        "Hola, ¿en qué te ayudo?",
    ],
)
def test_a_figure_the_business_gave_is_grounded_in_any_of_its_written_forms(reply: str) -> None:
    assert ungrounded_figures(reply, source_figures(CATALOGUE)) == []


@pytest.mark.parametrize(
    ("reply", "invented"),
    [
        ("Te lo dejo en $380.000.000", ["380.000.000"]),
        ("Te lo dejo en 380 millones", ["380 millones"]),
        ("Hay un descuento del 5%", ["5%"]),
        ("La administración es de $350.000 y la entrega en 2026", ["350.000", "2026"]),
        ("Llama al 310 555 0000", ["310 555 0000"]),  # a phone number, named whole
    ],
)
def test_a_figure_nobody_gave_is_named(reply: str, invented: list[str]) -> None:
    assert ungrounded_figures(reply, source_figures(CATALOGUE)) == invented


@settings(max_examples=fuzz_examples(300), deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab $.,:/%+-0123456789 millonesk")), max_size=40))
def test_a_reply_said_to_have_no_figures_is_grounded_whatever_the_sources(reply: str) -> None:
    """The check skips reading the sources for such a reply: it must be because none could be missing."""
    if not has_figures(reply):
        assert ungrounded_figures(reply, set()) == []
    else:
        assert source_figures([reply])  # what it writes is a figure the reply itself would give


def test_the_sources_figures_are_the_same_read_again() -> None:
    first = source_figures(CATALOGUE)
    assert source_figures(CATALOGUE) == first  # the second read comes from the cache
    assert "1200000" in first and "573001234567" in first
