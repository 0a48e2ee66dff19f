"""Argument checks that raise messages naming the allowed range."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cardlive.errors import ParameterError


def check_range(name: str, value: float, low: float, high: float) -> None:
    """Raise ParameterError unless low <= value <= high (and value is a finite number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r} is not a number; expected a value in [{low}, {high}]") from None
    if not (low <= number <= high):  # also false for NaN
        raise ParameterError(f"{name}={value!r} is outside the allowed range [{low}, {high}]")


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ParameterError unless value is one of choices."""
    allowed = list(choices)
    if value not in allowed:
        raise ParameterError(f"{name}={value!r} is not allowed; expected one of {allowed}")


def check_int_range(name: str, value: int, low: int, high: int) -> None:
    """Raise ParameterError unless value is an integer with low <= value <= high."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"{name}={value!r} is not an integer; expected an integer in [{low}, {high}]")
    check_range(name, value, low, high)
