#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: the kernel settings Redis asks for, persistent and in effect, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_kernel_tuning
short_description: Set the kernel settings Redis asks for, persistently and now, in one call
description:
  - Writes O(sysctl) to O(sysctl_file) (one C(name=value) line each) and sets every value that
    differs in C(/proc/sys) now, so that it holds now and after a reboot.
  - Writes the systemd unit O(thp_unit_content) to O(thp_unit_path) (a oneshot unit that turns
    transparent huge pages off before Redis starts), reloads systemd when the unit changed, enables
    it and starts it (restarts it when it changed), so that the setting holds now and at every boot.
  - One module run instead of M(ansible.posix.sysctl) per setting, M(ansible.builtin.template) and
    M(ansible.builtin.systemd_service); files are replaced atomically.
version_added: "1.3.0"
author:
  - redis-provisioning contributors
options:
  sysctl:
    description: Kernel parameters (dotted names) and their values.
    type: dict
    default: {}
  sysctl_file:
    description: The file under C(/etc/sysctl.d) that holds O(sysctl) for the next boot.
    type: path
    default: /etc/sysctl.d/60-redis.conf
  thp_unit_path:
    description: Where the unit goes. Its file name is the unit's name. Omit to leave transparent huge pages alone.
    type: path
  thp_unit_content:
    description: The unit file's content. Required with O(thp_unit_path).
    type: str
notes:
  - Supports check mode; it reports what would change and changes nothing. On a host where the unit
    is not written yet, systemd is not asked about it.
  - Supports diff mode; the files, and the kernel values that change as C(name=value) lines.
  - The kernel must let the host set these values. In a container, C(/proc/sys) is usually
    read-only and the task fails with the kernel's message.
"""

EXAMPLES = r"""
- name: Tune the kernel for Redis
  redis_kernel_tuning:
    sysctl:
      vm.overcommit_memory: 1
      net.core.somaxconn: 4096
    thp_unit_path: /etc/systemd/system/redis-disable-thp.service
    thp_unit_content: "{{ lookup('ansible.builtin.template', 'redis-disable-thp.service.j2') }}"
"""

RETURN = r"""
changed_sysctl:
  description: Kernel parameters whose running value was (in check mode, would be) changed.
  returned: always
  type: list
  elements: str
  sample: [vm.overcommit_memory]
changed_files:
  description: Files that were (would be) written.
  returned: always
  type: list
  elements: str
thp_unit_actions:
  description: What was (would be) done with the unit, in order (C(daemon-reload), C(enable), C(start), C(restart)).
  returned: always
  type: list
  elements: str
"""

import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.redis_files import FileError, write_file

WRITER = "redis_kernel_tuning"


class TuningError(Exception):
    pass


def proc_path(name: str) -> str:
    if not name or name.startswith(".") or ".." in name or "/" in name:
        raise TuningError(f"{name!r} is not a kernel parameter name")
    return os.path.join("/proc/sys", *name.split("."))


def sysctl_text(values: dict[str, Any]) -> str:
    return "".join(f"{name}={value}\n" for name, value in values.items())


def ensure_file(module: Any, path: str, content: str, diffs: list[dict[str, Any]]) -> bool:
    """Write a root-owned 0644 file if it differs; whether it did (would)."""
    result, file_diffs = write_file(
        module, {"path": path, "content": content, "owner": "root", "group": "root", "mode": "0644"}, WRITER
    )
    diffs.extend(file_diffs)
    return bool(result["changed"])


def apply_sysctl(module: Any, values: dict[str, str], diffs: list[dict[str, Any]]) -> list[str]:
    changed: list[str] = []
    before: list[str] = []
    for name, value in values.items():
        path = proc_path(name)
        try:
            with open(path, encoding="ascii") as handle:
                current = " ".join(handle.read().split())
        except FileNotFoundError:
            raise TuningError(f"the kernel has no parameter {name} ({path} does not exist)") from None
        if current == " ".join(value.split()):
            continue
        changed.append(name)
        before.append(f"{name}={current}\n")
        if not module.check_mode:
            try:
                with open(path, "w", encoding="ascii") as handle:
                    handle.write(value)
            except OSError as exc:
                raise TuningError(f"setting {name}={value} failed: {exc.strerror} ({path})") from exc
    if changed:
        diffs.append(
            {
                "before_header": "kernel parameters (running)",
                "after_header": "kernel parameters (running)",
                "before": "".join(before),
                "after": "".join(f"{name}={values[name]}\n" for name in changed),
            }
        )
    return changed


def systemctl(module: Any, *args: str) -> tuple[int, str]:
    rc, out, err = module.run_command([module.get_bin_path("systemctl", required=True), *args])
    return rc, (out + err).strip()


def ensure_unit(module: Any, path: str, content: str, diffs: list[dict[str, Any]]) -> tuple[bool, list[str]]:
    """Write, enable and start the unit; whether the file was written, and the systemctl actions."""
    unit = os.path.basename(path)
    new = not os.path.exists(path)
    written = ensure_file(module, path, content, diffs)
    if module.check_mode and new:
        return written, ["daemon-reload", "enable", "start"]
    actions: list[str] = []
    if written:
        actions.append("daemon-reload")
    if systemctl(module, "is-enabled", "--quiet", unit)[0] != 0:
        actions.append("enable")
    if written:
        actions.append("restart")
    elif systemctl(module, "is-active", "--quiet", unit)[0] != 0:
        actions.append("start")
    if not module.check_mode:
        for action in actions:
            command = [action] if action == "daemon-reload" else [action, unit]
            rc, output = systemctl(module, *command)
            if rc != 0:
                raise TuningError(f"systemctl {' '.join(command)} failed: {output}")
    return written, actions


def run(module: Any) -> dict[str, Any]:
    params = module.params
    values = {str(name): str(value) for name, value in params["sysctl"].items()}
    diffs: list[dict[str, Any]] = []
    changed_files: list[str] = []
    if values and ensure_file(module, params["sysctl_file"], sysctl_text(values), diffs):
        changed_files.append(params["sysctl_file"])
    changed_sysctl = apply_sysctl(module, values, diffs)
    actions: list[str] = []
    if params["thp_unit_path"]:
        written, actions = ensure_unit(module, params["thp_unit_path"], params["thp_unit_content"], diffs)
        if written:
            changed_files.append(params["thp_unit_path"])
    result: dict[str, Any] = {
        "changed": bool(changed_files or changed_sysctl or actions),
        "changed_sysctl": changed_sysctl,
        "changed_files": changed_files,
        "thp_unit_actions": actions,
    }
    if module._diff:
        result["diff"] = diffs
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "sysctl": {"type": "dict", "default": {}},
            "sysctl_file": {"type": "path", "default": "/etc/sysctl.d/60-redis.conf"},
            "thp_unit_path": {"type": "path"},
            "thp_unit_content": {"type": "str"},
        },
        required_by={"thp_unit_path": "thp_unit_content"},
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except (TuningError, FileError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
