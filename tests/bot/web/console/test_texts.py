"""Every fixed text of the console exists in Spanish and in English."""

from __future__ import annotations

import re
from pathlib import Path

from bot.web.console.rendering import HERE
from bot.web.console.texts import CATALOGUE, LANGUAGES

STATUSES = ("pending", "sending", "queued", "accepted", "sent", "delivered", "read", "failed", "undelivered")
AUTHORS = ("customer", "ai", "advisor", "system")


def _keys_in_templates() -> set[str]:
    keys: set[str] = set()
    for template in (HERE / "templates").glob("*.html"):
        keys |= set(re.findall(r"t\('([a-z_.]+)'\)", template.read_text()))
    for module in HERE.glob("*.py"):
        keys |= set(re.findall(r"\.t\(\"([a-z_.]+)\"\)", module.read_text()))
    return keys


def test_every_text_a_page_names_is_in_the_catalogue_in_both_languages() -> None:
    used = _keys_in_templates()
    used |= {f"status.{s}" for s in STATUSES} | {f"author.{a}" for a in AUTHORS}
    used |= {f"inbox.filter.{f}" for f in ("waiting", "ai", "all")}
    used |= {
        f"dashboard.{m}" for m in ("conversations", "inbound", "ai_replies", "human_replies", "handovers")
    }
    assert len(used) > 60
    missing = sorted(key for key in used if key not in CATALOGUE)
    assert missing == []
    for key in used:
        for language in LANGUAGES:
            assert CATALOGUE[key].get(language), (key, language)


def test_no_spanish_text_is_left_untranslated() -> None:
    same = [key for key, texts in CATALOGUE.items() if texts["es"] == texts["en"] and len(texts["es"]) > 12]
    assert same == ["conversation.template_sid"], same
    assert Path(HERE / "templates" / "base.html").read_text().count("{{ t(") > 3
