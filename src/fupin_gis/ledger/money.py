"""Money: yuan as ``Decimal`` with two places (``numeric(14,2)`` in PostgreSQL), never a float;
shown in 万元 with one decimal; split exactly (largest remainder) so parts add up to the whole."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from fupin_gis.errors import InvalidInput

CENT = Decimal("0.01")
WAN = Decimal(10_000)
MAX_YUAN = Decimal("999999999999.99")  # numeric(14,2)
K = TypeVar("K")


def yuan(value: Any, field: str = "amount") -> Decimal:
    """``value`` (text, int, Decimal; never a float's binary noise) as yuan with two places, or InvalidInput."""
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, float):
        amount = Decimal(repr(value))  # the shortest text of the float: 0.1 is 0.1, not 0.1000000000000000055
    else:
        text = str(value).strip().replace(",", "").replace("，", "").removesuffix("元")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise InvalidInput(
                f"金额 “{value}” 不是数字", f"amount '{value}' is not a number", field=field, value=str(value)
            ) from None
    if not amount.is_finite():
        raise InvalidInput(
            f"金额 “{value}” 不是数字", f"amount '{value}' is not a number", field=field, value=str(value)
        )
    exact = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if exact != amount:
        raise InvalidInput(
            f"金额 {value} 精确到分（两位小数）",
            f"amount {value}: at most two decimals (fen)",
            field=field,
            value=str(value),
        )
    if abs(exact) > MAX_YUAN:
        raise InvalidInput(f"金额 {value} 过大", f"amount {value} is too large", field=field, value=str(value))
    return exact


def from_wan(value: Any, field: str = "amount") -> Decimal:
    """An amount in 万元 (as typed in the national 项目库 sheet) as yuan, exact to the fen."""
    if isinstance(value, float):
        value = Decimal(repr(value))
    try:
        wan = Decimal(str(value).strip().replace(",", "")) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise InvalidInput(
            f"金额 “{value}” 不是数字", f"amount '{value}' is not a number", field=field, value=str(value)
        ) from None
    return yuan((wan * WAN).normalize(), field)


def to_wan(amount: Decimal) -> Decimal:
    """Yuan as 万元, exact (six places)."""
    return (amount / WAN).quantize(Decimal("0.000001"))


def wan(amount: Decimal | None) -> str:
    """Yuan shown in 万元 with one decimal: ``44366.5``."""
    if amount is None:
        return ""
    return f"{(amount / WAN).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):,}"


def split(total: Decimal, weights: Mapping[K, Decimal | float | int]) -> dict[K, Decimal]:
    """``total`` split in proportion to ``weights``, to the fen, the parts adding up to ``total``
    exactly (largest remainder; ties to the first key in order)."""
    keys = list(weights)
    if not keys:
        return {}
    w = {k: Decimal(str(weights[k])) for k in keys}
    whole = sum(w.values(), Decimal(0))
    if whole <= 0:
        w = {k: Decimal(1) for k in keys}
        whole = Decimal(len(keys))
    cents = int((total / CENT).to_integral_value())
    raw = {k: Decimal(cents) * w[k] / whole for k in keys}
    floor = {k: int(raw[k].to_integral_value(rounding="ROUND_FLOOR")) for k in keys}
    left = cents - sum(floor.values())
    order = sorted(keys, key=lambda k: (-(raw[k] - floor[k]), keys.index(k)))
    for k in order[: max(left, 0)]:
        floor[k] += 1
    return {k: Decimal(floor[k]) * CENT for k in keys}


def share(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part / whole`` to four places (None when the whole is zero)."""
    if not whole:
        return None
    return (part / whole).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
