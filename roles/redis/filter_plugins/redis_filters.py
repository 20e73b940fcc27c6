# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the redis role: Redis memory sizes, env-file items, the nodes' addresses, package versions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Redis's own units (see redis.conf): k/m/g are powers of 1000, kb/mb/gb powers of 1024.
_MEMORY_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
_MEMORY_RE = re.compile(r"^\s*([0-9]+)\s*([kmg]?b?)\s*$", re.IGNORECASE)


def memory_bytes(value: Any) -> int:
    """Bytes in a Redis memory size such as 200mb, 1gb, 100k or 1048576."""
    match = _MEMORY_RE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a Redis memory size such as 200mb, 1gb or a number of bytes")
    number, unit = match.groups()
    return int(number) * _MEMORY_UNITS[unit.lower()]


def env_file_items(value: Any) -> list[dict[str, str]]:
    """redis_client_env_files as a list of {path, owner, group}; a plain string is shorthand for {path: ...}."""
    if not isinstance(value, list):
        raise TypeError(
            "redis_client_env_files must be a list of paths or {path, owner, group} items, "
            f"got {type(value).__name__}"
        )
    items = []
    for entry in value:
        item = {"path": entry} if isinstance(entry, str) else entry
        well_formed = isinstance(item, dict) and isinstance(item.get("path"), str)
        if not well_formed or set(item) - {"path", "owner", "group"}:
            raise ValueError(
                f"redis_client_env_files: {entry!r} is neither a path nor a {{path, owner, group}} item "
                "(for example /opt/hsi/.env or {path: /opt/hsi/.env, owner: hsi, group: hsi})"
            )
        items.append({"owner": "root", "group": "root", **{k: str(v) for k, v in item.items()}})
    return items


def node_addresses(hosts: Any, hostvars: Any) -> list[str]:
    """Each host's address for the other nodes: the one chosen in this run (redis_node_address), else
    the inventory's redis_advertise_address, else '' (a host outside a --limit run without one)."""
    addresses = []
    for host in hosts:
        variables = hostvars.get(host, {})
        chosen = variables.get("redis_node_address") or variables.get("redis_advertise_address") or ""
        addresses.append(str(chosen).strip())
    return addresses


# A package version's upstream part: no epoch (`5:`), no Debian revision or distribution suffix.
_UPSTREAM_RE = re.compile(r"^(?:[0-9]+:)?([^-~+]*)")


def package_version(lines: Any, package: str) -> str:
    """The upstream version of `package` in the role's package query lines (`<name> installed <version>`),
    '' when it is not installed: `5:7.0.15-1~deb12u4` and `6:8.0.2-1rl1~bookworm1` give 7.0.15 and 8.0.2."""
    for line in lines or []:
        fields = str(line).split()
        if len(fields) == 3 and fields[0] == package and fields[1] == "installed":
            match = _UPSTREAM_RE.match(fields[2])
            return match.group(1) if match else ""
    return ""


class FilterModule:
    """Filters of the redis role."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "redis_memory_bytes": memory_bytes,
            "redis_env_file_items": env_file_items,
            "redis_node_addresses": node_addresses,
            "redis_package_version": package_version,
        }
