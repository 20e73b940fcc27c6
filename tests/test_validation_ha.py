"""Bad settings for replicas and Sentinel fail in the role's validation, before anything changes.

The role runs on the controller (in check mode) as one host of an inventory whose group `redis` also
names hosts that are never contacted: the checks that look at the whole group see all of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_validation import GOOD_PASSWORD, VALIDATION_TASKS, run_role, started_role_tasks

HA = {
    "redis_password": GOOD_PASSWORD,
    "redis_replication_primary": "localhost",
    "redis_sentinel": True,
    "redis_bind": ["127.0.0.1", "192.0.2.10"],
    "redis_advertise_address": "192.0.2.10",
    "redis_replication_password": "R" * 40,
    "redis_sentinel_password": "S" * 40,
}

CASES: dict[str, tuple[dict[str, object], int, str]] = {
    "two sentinels": ({}, 2, "at least 3 sentinels on separate machines (groups redis and redis_sentinel have 2)"),
    "quorum above the sentinels": ({"redis_sentinel_quorum": 4}, 3, "a number between 1 and the number of sentinels"),
    "primary outside the group": (
        {"redis_replication_primary": "elsewhere"},
        3,
        "redis_replication_primary=elsewhere is not a host of group redis",
    ),
    "loopback-only bind": (
        {"redis_bind": ["127.0.0.1"], "redis_advertise_address": "127.0.0.1"},
        3,
        "which must list an address other than loopback",
    ),
    "advertise address not listened on": (
        {"redis_advertise_address": "192.0.2.99"},
        3,
        "reach this host at 192.0.2.99 (redis_advertise_address, default the primary IPv4)",
    ),
    "shared password": (
        {"redis_replication_password": GOOD_PASSWORD},
        3,
        "every purpose (clients, replication, Sentinel, exporter) needs its own password",
    ),
    "weak Sentinel password": ({"redis_sentinel_password": "short"}, 3, "at least 32 characters"),
    "container method": (
        {"redis_install_method": "container"},
        3,
        "replicas and Sentinel need redis_install_method=native",
    ),
    "replication without Sentinel": ({"redis_sentinel": False}, 3, "redis_sentinel=true (replication without"),
    "replication user named default": (
        {"redis_replication_user": "default"},
        3,
        "distinct from each other, from default",
    ),
}


def inventory(tmp_path: Path, hosts: int) -> str:
    """Group redis: this controller and hosts-1 others (never contacted) with their addresses."""
    members: dict[str, dict[str, object]] = {"localhost": {"ansible_connection": "local"}}
    for index in range(2, hosts + 1):
        members[f"node{index}"] = {"redis_advertise_address": f"192.0.2.{10 + index}"}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"redis": {"hosts": members}}), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_ha_input_fails_before_any_change(tmp_path: Path, case: str) -> None:
    extra, hosts, message = CASES[case]
    proc, run = run_role(tmp_path, {**HA, **extra}, only_validation=False, inventory=inventory(tmp_path, hosts))
    assert proc.returncode != 0, run.summary()
    assert any(message in failure for failure in run.failure_messages()), run.summary()
    started = started_role_tasks(run)
    assert started <= VALIDATION_TASKS, started - VALIDATION_TASKS
    output = proc.stdout + proc.stderr
    for secret in ("R" * 40, "S" * 40, GOOD_PASSWORD):
        assert secret not in output


def test_good_ha_settings_pass_the_validation(tmp_path: Path) -> None:
    proc, run = run_role(tmp_path, HA, only_validation=True, inventory=inventory(tmp_path, 3))
    assert proc.returncode == 0, run.summary()
