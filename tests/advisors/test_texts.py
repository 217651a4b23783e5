"""One catalogue: every fixed text a customer or advisor reads exists in Spanish and English."""

from __future__ import annotations

import re
import string
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from advisors.texts import CATALOGUE, LANGUAGES, guess_language, spoken_time, text
from bot.web.console.rendering import HERE

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


ROOT = Path(__file__).resolve().parents[2]


def _keys_named_in_code() -> set[str]:
    """Every literal key the server's code passes to the catalogue's `text(...)`."""
    keys: set[str] = set()
    for module in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "advisors").rglob("*.py")]:
        keys |= set(re.findall(r"\btext\(\s*\"([a-z_]+\.[a-z_.]+)\"", module.read_text()))
    return keys


def test_every_key_the_code_names_exists_with_the_same_placeholders_in_both_languages() -> None:
    named = _keys_named_in_code()
    assert {"away.default", "command.help", "notice.handover", "handover.bot_loop"} <= named
    # The refusal keys are built from ManualReplyRefusedError's reasons: each has its text.
    reasons = re.findall(r'reason="([a-z_]+)"', (ROOT / "bot/web/advisor_replies.py").read_text())
    assert len(reasons) >= 4
    named |= {f"refusal.{reason}" for reason in reasons}
    # The hand-over kinds are named from the categories (notices, the console's brief).
    from memory.records.handover_briefs import HANDOVER_CATEGORIES

    named |= {f"handover.kind.{kind}" for kind in HANDOVER_CATEGORIES} | {"handover.kind.other"}
    assert sorted(key for key in named if key not in CATALOGUE) == []
    for key, texts in CATALOGUE.items():
        fields = [
            {name for _, name, _, _ in string.Formatter().parse(texts[language]) if name}
            for language in LANGUAGES
        ]
        assert fields[0] == fields[1], key


def test_no_fixed_whatsapp_text_is_spelt_outside_the_catalogue() -> None:
    """The texts moved to the catalogue are not left behind in the code that sends them."""
    for path in ("bot/web/commands.py", "bot/worker/notices.py", "advisors/models.py"):
        source = (ROOT / path).read_text()
        for phrase in ("Comandos:", "Nadie espera", "necesita atención humana", "Recibí tu mensaje"):
            assert phrase not in source, (path, phrase)


def test_a_customer_language_is_guessed_from_what_they_write() -> None:
    assert guess_language("hola, cuanto cuesta el apto?") == "es"
    assert guess_language("¿Tienen parqueadero?") == "es"
    assert guess_language("Hi, how much is the apartment with two rooms?") == "en"
    assert guess_language("👍") is None


def test_times_read_as_people_say_them() -> None:
    bogota = ZoneInfo("America/Bogota")
    now = datetime(2026, 11, 23, 19, 0, tzinfo=bogota)  # a Monday
    assert spoken_time(datetime(2026, 11, 24, 8, 0, tzinfo=bogota), "es", now=now) == "mañana a las 08:00"
    assert spoken_time(datetime(2026, 11, 26, 9, 30, tzinfo=bogota), "en", now=now) == "on Thursday at 09:30"
    assert text("command.sending", "en", phone="+57300") == "Sending to +57300."
