"""A stand-in for ``planetary_computer.sign_inplace`` that needs no network.

``--sign tests.helpers.fake_signer:sign`` maps every href under ``$OCEANSCAN_TEST_UNSIGNED`` to
the same path under ``$OCEANSCAN_TEST_SIGNED``, as signing turns an unreadable URL into a readable
one, and counts its calls in ``CALLS``.
"""

from __future__ import annotations

import os

CALLS: list[str] = []


def sign(href: str) -> str:
    """The href with the unsigned prefix replaced by the signed one."""
    CALLS.append(href)
    return href.replace(os.environ["OCEANSCAN_TEST_UNSIGNED"], os.environ["OCEANSCAN_TEST_SIGNED"])
