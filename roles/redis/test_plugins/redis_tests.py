# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests (Jinja) of the redis role."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any


def ip_address(value: Any) -> bool:
    """True for an IPv4 or IPv6 address (Redis `bind` accepts no host names)."""
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


class TestModule:
    def tests(self) -> dict[str, Callable[..., bool]]:
        return {"redis_ip_address": ip_address}
