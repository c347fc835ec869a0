"""Money: integer micro-units inside, decimals in the currency's major unit outside."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

MICROS = 1_000_000


def to_micros(amount: str | int | float | Decimal) -> int:
    """'12.50' → 12_500_000. Raises ValueError on anything that is not a finite amount."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"{amount!r} is not an amount") from exc
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not an amount")
    return int((value * MICROS).to_integral_value(rounding=ROUND_HALF_UP))


def from_micros(micros: int | None) -> Decimal:
    """12_500_000 → Decimal('12.500000'); the API renders it as a string."""
    return (Decimal(micros or 0) / MICROS).quantize(Decimal("0.000001"))


def format_money(micros: int | None) -> str:
    """For people: 'USD 12.50', or 'USD 0.000145' when cents would hide the amount."""
    value = from_micros(micros)
    text = f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else f"{value.normalize():f}"
    return f"{settings.CURRENCY} {text}"
