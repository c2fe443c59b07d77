"""All HTTP to STAC APIs goes through here: one session with urllib3 retries and a timeout.

Like pystac-client's own ``StacApiIO``, retries come from urllib3's ``Retry`` mounted on the
``requests`` session rather than from a hand-written loop; unlike it, every failure leaves this
module as :class:`oceanscan.errors.CatalogError` carrying the HTTP status and chained to its cause.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from urllib3 import Retry

from oceanscan.errors import CatalogError

__all__ = ["RETRY_STATUS_CODES", "catalog_errors", "make_stac_io", "open_client"]

log = logging.getLogger(__name__)

#: Responses worth retrying: rate limiting and transient server or gateway failures.
RETRY_STATUS_CODES = frozenset({429, 500, 502, 503, 504})


def make_stac_io(
    *,
    max_retries: int = 3,
    backoff_s: float = 0.5,
    timeout_s: float = 30.0,
    headers: dict[str, str] | None = None,
) -> StacApiIO:
    """A pystac-client I/O object that retries 429/5xx answers, refused connections and timeouts.

    Args:
        max_retries: retries after the first attempt, for each kind of failure; defaults to 3.
        backoff_s: urllib3 backoff factor in seconds: waits ``backoff_s * 2 ** (n - 1)`` before
            retry ``n`` (honouring a server's ``Retry-After``); defaults to 0.5 s.
        timeout_s: connect and read timeout of each request in seconds; defaults to 30 s.
        headers: extra request headers (for instance an API key).

    Raises:
        ValueError: for a negative ``max_retries`` or ``backoff_s`` or a non-positive ``timeout_s``.
    """
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries}")
    if backoff_s < 0:
        raise ValueError(f"backoff_s must be >= 0, got {backoff_s}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    retry = Retry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        backoff_factor=backoff_s,
        status_forcelist=RETRY_STATUS_CODES,
        # STAC item search by POST is a read: safe to repeat.
        allowed_methods=frozenset({"GET", "POST", "HEAD"}),
        # Hand the last error response back instead of raising MaxRetryError, so that its status
        # code reaches CatalogError.
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    return StacApiIO(headers=headers, timeout=timeout_s, max_retries=retry)


@contextmanager
def catalog_errors(url: str) -> Iterator[None]:
    """Turn pystac-client and transport errors raised inside the block into CatalogError."""
    try:
        yield
    except CatalogError:
        raise
    except APIError as err:
        status = getattr(err, "status_code", None)
        text = str(err).strip().replace("\n", " ")[:300]
        raise CatalogError(
            f"STAC API {url} failed (HTTP {status if status is not None else 'no response'}): {text}",
            status_code=status,
        ) from err
    except (OSError, ValueError, KeyError) as err:
        # pystac raises these for non-STAC JSON or unreachable local paths.
        raise CatalogError(
            f"STAC API {url} could not be read: {type(err).__name__}: {err}"
        ) from err


def open_client(
    url: str,
    *,
    max_retries: int = 3,
    backoff_s: float = 0.5,
    timeout_s: float = 30.0,
    headers: dict[str, str] | None = None,
    modifier: Callable[[Any], None] | None = None,
) -> Client:
    """Open a STAC API root with :func:`make_stac_io`'s retries and timeout.

    Raises:
        CatalogError: when the root cannot be fetched after retries, with ``status_code`` set to
            the last HTTP status (None when there was no response at all).
    """
    stac_io = make_stac_io(
        max_retries=max_retries, backoff_s=backoff_s, timeout_s=timeout_s, headers=headers
    )
    with catalog_errors(url):
        # Client.open passes timeout to stac_io.update, which would otherwise reset it to None.
        return Client.open(url, stac_io=stac_io, timeout=timeout_s, modifier=modifier)
