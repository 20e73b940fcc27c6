"""meta/argument_specs.yml and defaults/main.yml describe the same options with the same defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from test_validation import GOOD_PASSWORD, run_role

ROLE = Path(__file__).resolve().parent.parent / "roles/redis"
SPECS: dict[str, Any] = yaml.safe_load((ROLE / "meta/argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
DEFAULTS: dict[str, Any] = yaml.safe_load((ROLE / "defaults/main.yml").read_text(encoding="utf-8"))
PLAYBOOKS = Path(__file__).resolve().parent.parent / "playbooks"


def test_every_default_is_specified_with_the_same_value() -> None:
    options = SPECS["main"]["options"]
    assert set(options) == set(DEFAULTS)
    for name, spec in options.items():
        if "default" in spec:
            assert spec["default"] == DEFAULTS[name], name
        else:
            # Only options whose default is computed or long may leave it to defaults/main.yml.
            assert (
                isinstance(DEFAULTS[name], dict)
                or "{{" in str(DEFAULTS[name])
                or "\n" in str(DEFAULTS[name])
                or (isinstance(DEFAULTS[name], str) and len(DEFAULTS[name]) > 80)
            ), name


def test_every_entry_point_of_the_playbooks_has_the_same_options() -> None:
    entry_points = set()
    for playbook in PLAYBOOKS.glob("*.yml"):
        for play in yaml.safe_load(playbook.read_text(encoding="utf-8")):
            for task in play.get("tasks", []):
                tasks_from = task.get("ansible.builtin.include_role", {}).get("tasks_from")
                if tasks_from:
                    entry_points.add(tasks_from)
    assert entry_points, "the playbooks name no tasks_from"
    assert entry_points <= set(SPECS)
    for name in entry_points:
        assert SPECS[name]["options"] == SPECS["main"]["options"], name


@pytest.mark.parametrize("size", [*DEFAULTS["redis_maxmemory_by_size"], "xlarge"])
def test_every_size_of_the_memory_table_is_accepted(tmp_path: Path, size: str) -> None:
    table = {**DEFAULTS["redis_maxmemory_by_size"], "xlarge": "2gb"}
    proc, _ = run_role(
        tmp_path,
        {"redis_password": GOOD_PASSWORD, "redis_deployment_size": size, "redis_maxmemory_by_size": table},
        only_validation=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
