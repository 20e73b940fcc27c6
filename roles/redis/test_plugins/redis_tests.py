# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests (Jinja) of the redis role."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

# The one password rule of the role (Redis's, the exporter's, a rotation's new one): long enough to
# withstand guessing, and on one line, since it goes into env files and Redis's AUTH.
PASSWORD_MIN_LENGTH = 32
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def ip_address(value: Any) -> bool:
    """True for an IPv4 or IPv6 address (Redis `bind` accepts no host names)."""
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


def strong_password(value: Any) -> bool:
    """True for a string of at least PASSWORD_MIN_LENGTH characters without control characters."""
    return isinstance(value, str) and len(value) >= PASSWORD_MIN_LENGTH and not _CONTROL_CHARACTER.search(value)


class TestModule:
    def tests(self) -> dict[str, Callable[..., bool]]:
        return {"redis_ip_address": ip_address, "redis_strong_password": strong_password}
