"""Strict marshmallow fields: a field accepts exactly what its OpenAPI description promises.

Marshmallow's own fields coerce: ``Integer`` turns 1.7 into 1 and ``true`` into 1, ``Decimal``
quantizes "1.005" to 1.00 on output, ``String`` lets NUL through to PostgreSQL (which refuses
it with a 500). These fields refuse instead, and each describes itself to the OpenAPI document
(:meth:`openapi_properties`) with the same rule it enforces, so generated clients and
schemathesis see the real contract.

``from_text=True`` marks a field read from the query string, where every value arrives as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma

# C0 and C1 control characters (Unicode category Cc), written as ECMA-262 and Python regex
# escapes alike, so one pattern string serves the validator and the document.
_CONTROL = r"\u0000-\u001f\u007f-\u009f"
# Multi-line text keeps tab, line feed and carriage return.
_CONTROL_MULTILINE = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
# What counts as blank: spaces and the invisible separators a name must not consist of only.
_BLANK_CHARS = (
    " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_BLANK = r" \u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
_SURROGATE = re.compile("[\ud800-\udfff]")

MAX_MONEY = Decimal("99999999.99")
# What Numeric(10, 2) holds: up to 8 integer digits, at most 2 decimals, no sign or exponent.
MONEY_PATTERN = r"^(0|[1-9][0-9]{0,7})(\.[0-9]{1,2})?$"
_MONEY = re.compile(MONEY_PATTERN)
_INTEGER_TEXT = re.compile(r"^-?[0-9]{1,18}$")
_CENT = Decimal("0.01")


class Text(ma.fields.String):
    """A string without control characters, optionally required not to be blank.

    Args:
        max_length: Longest accepted value, in characters (checked before stripping).
        min_length: Shortest accepted value.
        multiline: Allow tab, line feed and carriage return.
        blank: Allow a value made of whitespace only (a name must not be).
        strip: Store the value without leading and trailing whitespace.
        **kwargs: Passed to :class:`marshmallow.fields.String`.
    """

    default_error_messages = {
        "control": "Must not contain control characters.",
        "blank": "Must not be blank.",
        "surrogate": "Must be valid Unicode text.",
        "too_short": "Shorter than minimum length {min}.",
        "too_long": "Longer than maximum length {max}.",
    }

    def __init__(
        self,
        *,
        max_length: int,
        min_length: int = 0,
        multiline: bool = False,
        blank: bool = True,
        strip: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length
        self.min_length = min_length
        self.blank = blank
        self.strip = strip
        allowed = f"[^{_CONTROL_MULTILINE if multiline else _CONTROL}]"
        if blank:
            self.pattern = f"^{allowed}*$"
        else:
            visible = f"[^{_CONTROL_MULTILINE if multiline else _CONTROL}{_BLANK}]"
            self.pattern = f"^{allowed}*{visible}{allowed}*$"
        self._control = re.compile(f"^{allowed}*$")
        self._regex = re.compile(self.pattern)

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if _SURROGATE.search(text):
            raise self.make_error("surrogate")
        if not self._control.fullmatch(text):
            raise self.make_error("control")
        if len(text) < self.min_length:
            raise self.make_error("too_short", min=self.min_length)
        if len(text) > self.max_length:
            raise self.make_error("too_long", max=self.max_length)
        if not self._regex.fullmatch(text):
            raise self.make_error("blank")
        return text.strip(_BLANK_CHARS) if self.strip else text

    def openapi_properties(self) -> dict[str, Any]:
        """Return the OpenAPI constraints of this field.

        Returns:
            ``pattern``, ``minLength`` and ``maxLength``.
        """
        props: dict[str, Any] = {"pattern": self.pattern, "maxLength": self.max_length}
        if self.min_length:
            props["minLength"] = self.min_length
        return props


class StrictInteger(ma.fields.Integer):
    """An integer that is a JSON integer: 1.7, 2.0, ``true`` and "3" are refused.

    Args:
        from_text: The value comes from the query string: decimal digits are accepted.
        **kwargs: Passed to :class:`marshmallow.fields.Integer`.
    """

    def __init__(self, *, from_text: bool = False, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)
        self.from_text = from_text

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if self.from_text and isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            return int(value)
        raise self.make_error("invalid")


class StrictBoolean(ma.fields.Boolean):
    """A JSON boolean (or the words ``true``/``false`` in a query string), nothing else.

    Args:
        from_text: The value comes from the query string.
        **kwargs: Passed to :class:`marshmallow.fields.Boolean`.
    """

    def __init__(self, *, from_text: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.from_text = from_text

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs):
        if isinstance(value, bool):
            return value
        if self.from_text and value in ("true", "false"):
            return value == "true"
        raise self.make_error("invalid", input=value)


class Money(ma.fields.Field):
    """An amount that fits ``Numeric(10, 2)`` exactly, never rounded.

    Accepted: an integer (whole units) or a string with at most two decimals ("12.5", "12.50").
    Refused: fractional JSON numbers (binary floats cannot hold cents exactly), more decimals
    ("1.005"), signs, exponents, NaN and anything beyond 99999999.99. Serialised as a string
    with two decimals.

    Args:
        from_text: The value comes from the query string.
        **kwargs: Passed to :class:`marshmallow.fields.Field`.
    """

    default_error_messages = {
        "invalid": 'Not a valid amount: use an integer or a string such as "12.50".',
        "places": "Must have at most two decimal places.",
        "min": "Must be greater than or equal to 0.",
        "max": f"Must be less than or equal to {MAX_MONEY}.",
    }

    def __init__(self, *, from_text: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.from_text = from_text

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs) -> str | None:
        if value is None:
            return None
        return format(Decimal(value).quantize(_CENT), "f")

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs
    ) -> Decimal:
        if isinstance(value, int) and not isinstance(value, bool) and not self.from_text:
            amount = Decimal(value)
        elif isinstance(value, str):
            if _MONEY.fullmatch(value):
                return Decimal(value)
            try:
                amount = Decimal(value)
            except InvalidOperation:
                raise self.make_error("invalid") from None
            if not amount.is_finite() or not re.fullmatch(r"-?[0-9.]+", value):
                raise self.make_error("invalid")
        else:
            raise self.make_error("invalid")
        if amount < 0:
            raise self.make_error("min")
        if amount > MAX_MONEY:
            raise self.make_error("max")
        if amount != amount.quantize(_CENT):
            raise self.make_error("places")
        if isinstance(value, str):
            # In range with two decimals, yet not the plain form ("012", "1."): refused too.
            raise self.make_error("invalid")
        return amount

    def openapi_properties(self) -> dict[str, Any]:
        """Return the OpenAPI description of this field.

        Returns:
            A string pattern (query string), or integer-or-string (JSON body).
        """
        text = {"type": "string", "pattern": MONEY_PATTERN, "example": "12.50"}
        if self.from_text:
            return text
        whole = {"type": "integer", "minimum": 0, "maximum": int(MAX_MONEY)}
        return {"anyOf": [whole, text]}


def openapi_properties(self: Any, field: ma.fields.Field, **kwargs: Any) -> dict[str, Any]:
    """Apispec attribute function: the constraints a strict field documents about itself.

    Args:
        self: The apispec field converter.
        field: A marshmallow field.
        **kwargs: The properties gathered so far (``ret``).

    Returns:
        The extra OpenAPI properties of the field.
    """
    describe = getattr(field, "openapi_properties", None)
    return describe() if describe else {}
