"""Argument checks shared by the plots; each error names the argument and the allowed values."""

from __future__ import annotations

import math
import operator

__all__ = ["as_int_at_least", "as_unit_float"]


def as_unit_float(name: str, value: object) -> float:
    """``value`` as a float in [0, 1] (a threshold or a probability).

    Raises:
        TypeError: if ``value`` is not a real number (bools are refused).
        ValueError: if it is NaN or outside [0, 1].
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return number


def as_int_at_least(name: str, value: object, minimum: int) -> int:
    """``value`` as an int no smaller than ``minimum``.

    Raises:
        TypeError: if ``value`` is not an integer (bools are refused).
        ValueError: if it is smaller than ``minimum``.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return number
