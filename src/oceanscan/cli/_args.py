"""Argument types of the console script: a malformed value stops argparse before anything runs.

Each function here is an ``argparse`` ``type=``. It raises :class:`argparse.ArgumentTypeError`,
so argparse prints the usage and ``oceanscan <command>: error: argument --flag: <why>``, naming
the option the user typed, and exits with code 2 (bad input), never 1 (a scene failed). Limits
that depend on several options, or on a configuration file, stay in the configuration models.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["integer", "number", "stac_datetime", "time_window"]

#: Open ends of an interval, as STAC and ISO 8601 write them.
_OPEN = ("", "..")
#: A year or a year and month, which STAC APIs (and pystac-client) expand to the whole period.
_YEAR_MONTH = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argument type for a whole number within ``[minimum, maximum]``.

    Args:
        minimum: smallest value allowed.
        maximum: largest value allowed; defaults to no limit.

    Returns:
        The ``type=`` callable: text in, ``int`` out.
    """
    allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number {allowed}, got {text!r}"
            ) from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {value}")
        return value

    return parse


def number(
    minimum: float, maximum: float | None = None, *, exclusive_minimum: bool = False
) -> Callable[[str], float]:
    """An argument type for a finite number within ``[minimum, maximum]``.

    Args:
        minimum: smallest value allowed.
        maximum: largest value allowed; defaults to no limit.
        exclusive_minimum: when True, ``minimum`` itself is refused (a timeout must be > 0);
            defaults to False.

    Returns:
        The ``type=`` callable: text in, ``float`` out. NaN and infinities are refused.
    """
    low = f"> {minimum:g}" if exclusive_minimum else f">= {minimum:g}"
    allowed = low if maximum is None else f"{low} and <= {maximum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number {allowed}, got {text!r}") from None
        too_low = value <= minimum if exclusive_minimum else value < minimum
        if not math.isfinite(value) or too_low or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be a finite number {allowed}, got {text!r}")
        return value

    return parse


def _instant(text: str, whole: str) -> datetime:
    """One end of a time window: an ISO 8601 date or date-time, UTC when it has no offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        where = "" if text == whole else f" in {whole!r}"
        raise argparse.ArgumentTypeError(
            f"{text!r}{where} is not an ISO 8601 date or date-time "
            "(e.g. 2025-06-01 or 2025-06-01T10:30:00Z)"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def time_window(text: str) -> tuple[datetime, datetime | None]:
    """The ``START/END`` time window of an ad-hoc scan region.

    Args:
        text: ISO 8601 dates or date-times, ``2025-06-01/2025-06-30``; an empty or ``..`` END
            leaves the window open (up to now). Values without an offset are UTC.

    Returns:
        ``(start, end)``, both timezone-aware; ``end`` is None for an open window.

    Raises:
        argparse.ArgumentTypeError: without a ``/``, with an open or malformed START, a
            malformed END, or END not after START; the message quotes the value.
    """
    start_text, sep, end_text = text.partition("/")
    if not sep or "/" in end_text:
        raise argparse.ArgumentTypeError(
            f"expected START/END (ISO 8601, e.g. 2025-06-01/2025-06-30, or 2025-06-01/.. for "
            f"a window up to now), got {text!r}"
        )
    if start_text in _OPEN:
        raise argparse.ArgumentTypeError(f"the window needs a START date, got {text!r}")
    start = _instant(start_text, text)
    end = None if end_text in _OPEN else _instant(end_text, text)
    if end is not None and end <= start:
        raise argparse.ArgumentTypeError(f"END must be after START, got {text!r}")
    return start, end


def _stac_instant(text: str, whole: str) -> None:
    match = _YEAR_MONTH.match(text)
    if match is None:
        _instant(text, whole)
    elif match.group(2) is not None and not 1 <= int(match.group(2)) <= 12:
        where = "" if text == whole else f" in {whole!r}"
        raise argparse.ArgumentTypeError(f"{text!r}{where} has no month {match.group(2)}")


def stac_datetime(text: str) -> str:
    """A STAC search ``datetime``: an instant or an interval, checked and passed on as written.

    Args:
        text: an ISO 8601 date or date-time, a year (``2025``) or month (``2025-06``), or an
            interval of two of them ``A/B`` where one end may be ``..`` (open).

    Returns:
        ``text`` unchanged (pystac-client formats it for the API).

    Raises:
        argparse.ArgumentTypeError: for more than two parts, two open ends, or a malformed part.
    """
    parts = text.split("/")
    if len(parts) > 2 or all(p in _OPEN for p in parts):
        raise argparse.ArgumentTypeError(
            f"expected an instant or an interval A/B (ISO 8601, '..' for an open end, e.g. "
            f"2025-01-01/2025-02-01), got {text!r}"
        )
    for part in parts:
        if part not in _OPEN:
            _stac_instant(part, text)
    return text
