"""Owns what things cost: a WhatsApp message by category and country, a model call by its tokens.

Since 1 July 2025 WhatsApp charges per delivered template by category and the recipient's
country, and since 1 October 2026 every free-form reply inside the 24 h window too; Twilio adds
its own fee per message; the model's tokens come on top. The figures are the business's own:
the rate card is a CSV file (`WHATSAPP_RATE_CARD`; the shipped one holds dated example figures
to replace), Twilio's fee is `TWILIO_FEE_PER_MESSAGE`, model prices are `MODEL_PRICES` over the
dated defaults below. Costs are in USD, computed once, when a message is accepted or a call
answered, and stored with it: a later change of prices never rewrites what was spent.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal, get_args

import phonenumbers

from bot.settings import Settings

logger = logging.getLogger(__name__)

Category = Literal["service", "utility", "marketing", "authentication"]
CATEGORIES: tuple[str, ...] = get_args(Category)
SHIPPED_RATE_CARD = Path(__file__).parent / "data" / "whatsapp_rate_card.csv"
ANY_COUNTRY = "*"

# USD per million tokens (prompt, cached prompt, completion), per minute of audio transcribed, per
# million characters spoken: OpenAI's list prices of 2025-08 for the models people configure.
# MODEL_PRICES (JSON, same shape) adds models or replaces these.
DEFAULT_MODEL_PRICES: dict[str, dict[str, float]] = {
    "gpt-4o-mini": {"prompt": 0.15, "cached": 0.075, "completion": 0.60},
    "gpt-4o": {"prompt": 2.50, "cached": 1.25, "completion": 10.00},
    "gpt-4.1-mini": {"prompt": 0.40, "cached": 0.10, "completion": 1.60},
    "gpt-4.1": {"prompt": 2.00, "cached": 0.50, "completion": 8.00},
    "gpt-5-mini": {"prompt": 0.25, "cached": 0.025, "completion": 2.00},
    "gpt-5": {"prompt": 1.25, "cached": 0.125, "completion": 10.00},
    "text-embedding-3-small": {"prompt": 0.02},
    "text-embedding-3-large": {"prompt": 0.13},
    "whisper-1": {"minute": 0.006},
    "gpt-4o-mini-transcribe": {"minute": 0.003},
    "gpt-4o-transcribe": {"minute": 0.006},
    "gpt-4o-mini-tts": {"characters": 15.0},
    "tts-1": {"characters": 15.0},
}
PRICE_UNITS = ("prompt", "cached", "completion", "minute", "characters")
_MILLION = Decimal(1_000_000)


class PricingError(ValueError):
    """A rate card or a price list that cannot be read: the message says where and why."""


@dataclass(frozen=True)
class RateCard:
    """Meta's charge per message by country and category, and the date its figures are of."""

    rates: dict[str, dict[str, Decimal]]
    rates_of: str | None

    def whatsapp_cost(self, category: Category, country: str | None) -> Decimal:
        """What one delivered message of `category` to `country` costs (the "*" row otherwise)."""
        row = self.rates.get((country or "").upper()) or self.rates[ANY_COUNTRY]
        return row[category]


def load_rate_card(path: Path | None = None) -> RateCard:
    """Read a rate card file (the shipped one by default); every bad row is named with its line."""
    source = path or SHIPPED_RATE_CARD
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise PricingError(f"WHATSAPP_RATE_CARD {source}: cannot be read ({error.strerror})") from error
    return parse_rate_card(text, name=str(source))


def parse_rate_card(text: str, *, name: str = "rate card") -> RateCard:
    """Parse a rate card: `#` comments, an optional `rates_of,<date>` row, a header, one row a country."""
    rates: dict[str, dict[str, Decimal]] = {}
    rates_of: str | None = None
    header: list[str] | None = None
    errors: list[str] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if cells[0] == "rates_of":
            rates_of = cells[1] if len(cells) > 1 else None
            continue
        if header is None:
            if cells[0] != "country" or sorted(cells[1:]) != sorted(CATEGORIES):
                errors.append(f"line {number}: the header must be country,{','.join(CATEGORIES)}")
                break
            header = cells
            continue
        country = cells[0].upper()
        if country != ANY_COUNTRY and (len(country) != 2 or not country.isalpha()):
            errors.append(f"line {number}: «{cells[0]}» is not a country code like CO or *")
            continue
        if len(cells) != len(header):
            errors.append(f"line {number}: {len(cells)} cells where the header has {len(header)}")
            continue
        if country in rates:
            errors.append(f"line {number}: {country} appears twice")
            continue
        prices: dict[str, Decimal] = {}
        for column, cell in zip(header[1:], cells[1:], strict=True):
            try:
                price = Decimal(cell)
            except InvalidOperation:
                errors.append(f"line {number}: {column} «{cell}» is not a price like 0.0125")
                break
            if price < 0 or not price.is_finite():
                errors.append(f"line {number}: {column} «{cell}» must be a price of 0 or more")
                break
            prices[column] = price
        else:
            rates[country] = prices
    if header is None and not errors:
        errors.append(f"no header row country,{','.join(CATEGORIES)}")
    if not errors and ANY_COUNTRY not in rates:
        errors.append("no «*» row: the price for every other country is needed")
    if errors:
        raise PricingError(f"{name}: " + "; ".join(errors))
    return RateCard(rates=rates, rates_of=rates_of)


def country_of(phone: str) -> str | None:
    """The ISO country of an E.164 number (what the rate card is keyed by); None if unknown."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone.removeprefix("whatsapp:")))
    except phonenumbers.NumberParseException:
        return None
    return region if region and region != "ZZ" else None


def parse_model_prices(raw: str | None) -> dict[str, dict[str, Decimal]]:
    """The default model prices with MODEL_PRICES (a JSON object by model name) over them."""
    prices = {
        model: {unit: Decimal(str(value)) for unit, value in units.items()}
        for model, units in DEFAULT_MODEL_PRICES.items()
    }
    if not raw:
        return prices
    try:
        given = json.loads(raw)
    except json.JSONDecodeError as error:
        raise PricingError(f"MODEL_PRICES is not JSON: {error.msg} at character {error.pos}") from error
    if not isinstance(given, dict):
        raise PricingError('MODEL_PRICES must be an object like {"gpt-4o-mini": {"prompt": 0.15}}')
    for model, units in given.items():
        if not isinstance(units, dict) or not units:
            raise PricingError(f"MODEL_PRICES[{model!r}] must be an object of prices per unit")
        for unit, value in units.items():
            if unit not in PRICE_UNITS:
                raise PricingError(
                    f"MODEL_PRICES[{model!r}]: unknown unit {unit!r} (use {', '.join(PRICE_UNITS)})"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise PricingError(f"MODEL_PRICES[{model!r}][{unit!r}] must be a price of 0 or more")
        prices[str(model)] = {unit: Decimal(str(value)) for unit, value in units.items()}
    return prices


@dataclass(frozen=True)
class ModelPrices:
    """What a model call costs from what it used (tokens, cached tokens, audio, characters)."""

    prices: dict[str, dict[str, Decimal]]

    def cost(
        self,
        model: str,
        *,
        prompt_tokens: int = 0,
        cached_tokens: int = 0,
        completion_tokens: int = 0,
        audio_seconds: float = 0.0,
        characters: int = 0,
    ) -> Decimal:
        """The call's cost in USD; 0 for a model with no price (said once in the log)."""
        units = self._units(model)
        if units is None:
            return Decimal(0)
        cached = min(cached_tokens, prompt_tokens)
        prompt_price = units.get("prompt", Decimal(0))
        cost = (
            (prompt_tokens - cached) * prompt_price
            + cached * units.get("cached", prompt_price)
            + completion_tokens * units.get("completion", Decimal(0))
            + characters * units.get("characters", Decimal(0))
        ) / _MILLION
        cost += Decimal(str(audio_seconds)) / 60 * units.get("minute", Decimal(0))
        return cost.quantize(Decimal("0.000001"))

    def _units(self, model: str) -> dict[str, Decimal] | None:
        name = model.lower().rsplit("/", 1)[-1]
        known = [prefix for prefix in self.prices if name == prefix or name.startswith(prefix + "-")]
        if known:
            return self.prices[max(known, key=len)]
        if name not in _UNPRICED:
            _UNPRICED.add(name)
            logger.warning(
                "no price for this model; its calls count as 0 (set MODEL_PRICES)", extra={"model": model}
            )
        return None


_UNPRICED: set[str] = set()


@dataclass(frozen=True)
class Pricing:
    """Every price the product knows, read once per process from the settings."""

    rate_card: RateCard
    twilio_fee: Decimal
    models: ModelPrices

    @classmethod
    def from_settings(cls, settings: Settings) -> Pricing:
        """Read the rate card and the model prices; PricingError names what is wrong and where."""
        return cls(
            rate_card=load_rate_card(settings.whatsapp_rate_card),
            twilio_fee=Decimal(str(settings.twilio_fee_per_message)),
            models=ModelPrices(parse_model_prices(settings.model_prices)),
        )

    def message_cost(self, category: Category, phone: str) -> tuple[str | None, Decimal, Decimal]:
        """The recipient's country, Meta's charge and Twilio's fee for one accepted message."""
        country = country_of(phone)
        return country, self.rate_card.whatsapp_cost(category, country), self.twilio_fee
