"""Validation messages for people: one wording for every refused input, in the API and the web form.

Each message is a plain sentence that names the field by its dotted path and states the limit in the
researcher's units — "shots must be at most 1000000.", "budget_ceiling must be at least USD 0.00." —
never a library's phrasing ("Input should be…", "Ensure this value is…", "Value error, …"). Every bad
field of a request is reported, not only the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from budgets.money import format_money, to_micros

# Fields whose numbers are amounts in the currency: their limits read "USD 50.00".
MONEY_FIELDS = frozenset({"budget_ceiling"})

_TEMPLATES: dict[str, str] = {
    "missing": "{field} is required.",
    "extra_forbidden": "{field} is not a field this request accepts.",
    "greater_than_equal": "{field} must be at least {ge}.",
    "greater_than": "{field} must be greater than {gt}.",
    "less_than_equal": "{field} must be at most {le}.",
    "less_than": "{field} must be less than {lt}.",
    "int_type": "{field} must be a whole number.",
    "int_parsing": "{field} must be a whole number.",
    "int_from_float": "{field} must be a whole number.",
    "float_type": "{field} must be a number.",
    "float_parsing": "{field} must be a number.",
    "finite_number": "{field} must be a finite number.",
    "bool_type": "{field} must be true or false.",
    "bool_parsing": "{field} must be true or false.",
    "string_type": "{field} must be text.",
    "string_too_long": "{field} must be at most {max_length} characters long.",
    "string_pattern_mismatch": "{field} contains characters that are not allowed.",
    "too_short": "{field} must have at least {min_length} items.",
    "too_long": "{field} must have at most {max_length} items.",
    "list_type": "{field} must be a list.",
    "tuple_type": "{field} must be a list.",
    "dict_type": "{field} must be a JSON object.",
    "model_type": "{field} must be a JSON object.",
    "model_attributes_type": "{field} must be a JSON object.",
    "literal_error": "{field} must be one of {expected}.",
    "enum": "{field} must be one of {expected}.",
    "decimal_type": "{field} must be an amount, such as 12.50.",
    "decimal_parsing": "{field} must be an amount, such as 12.50.",
    "decimal_max_places": "{field} may have at most {decimal_places} decimal places.",
    "decimal_max_digits": "{field} may have at most {max_digits} digits.",
    "decimal_whole_digits": "{field} has too many digits before the decimal point.",
    "json_invalid": "{field} must be valid JSON.",
    "uuid_parsing": "{field} must be a UUID.",
    "uuid_type": "{field} must be a UUID.",
}


def sentence(field: str, error_type: str, ctx: Mapping[str, Any] | None = None) -> str:
    """The message for one refused value: `error_type` and `ctx` as pydantic names them."""
    ctx = dict(ctx or {})
    if error_type in ("value_error", "assertion_error") and ctx.get("error") is not None:
        return _own_words(field, str(ctx["error"]))
    if error_type == "string_too_short":
        length = ctx.get("min_length", 1)
        return f"{field} must not be empty." if length == 1 else f"{field} must be at least {length} characters long."
    if error_type in ("literal_error", "enum") and not any(
        sep in str(ctx.get("expected", "")) for sep in (",", " or ")
    ):
        return f"{field} must be {ctx.get('expected')}."
    template = _TEMPLATES.get(error_type)
    if template is None:
        return f"{field} is not valid."
    money = field.rsplit(".", 1)[-1] in MONEY_FIELDS
    values = {key: _limit(value, money=money) for key, value in ctx.items()}
    try:
        return template.format(field=field, **values)
    except (KeyError, IndexError):
        return f"{field} is not valid."


def _own_words(field: str, fragment: str) -> str:
    # The portal's own validators raise a fragment that follows the field: "must have exactly 2 angles…".
    fragment = fragment.strip().removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"{field} {fragment.rstrip('.')}."


def _limit(value: Any, *, money: bool) -> Any:
    if money and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return format_money(to_micros(value))
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return value


def field_path(loc: Iterable[Any], prefix: str = "") -> str:
    """pydantic's `("params", "edges", 3)` → `params.edges[3]`, after an optional prefix."""
    path = prefix
    for part in loc:
        if part == "__root__":
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or "body"


def errors_of(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Every error of a pydantic ValidationError as `{"field", "message", "type"}`, in order."""
    return described(exc.errors(include_url=False), prefix)


def described(errors: Sequence[Mapping[str, Any]], prefix: str = "", loc_start: int = 0) -> list[dict[str, str]]:
    """`{"field", "message", "type"}` for pydantic-shaped error dicts (`loc`, `type`, `ctx`)."""
    out = []
    for err in errors:
        field = field_path(tuple(err.get("loc", ()))[loc_start:], prefix)
        out.append(
            {
                "field": field,
                "message": sentence(field, err.get("type", ""), err.get("ctx")),
                "type": err.get("type", ""),
            }
        )
    return out


def joined(errors: Sequence[Mapping[str, str]]) -> str:
    """One message for several refused fields: their sentences in order."""
    return " ".join(err["message"] for err in errors) or "The request is not valid."
