#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: the read-only host look-ups of the redis role's validation, in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_host_lookup
short_description: Look up what the redis role's validation needs to know about a host, in one call
description:
  - Reads, and never changes, what the role checks on a host before anything changes there
    whether the directories of the client env files exist; whether their owners and groups exist;
    whether the container runtime answers C(<runtime> version); and who on the host shares the
    containers' gids (accounts whose primary group it is, members of the group with that gid).
  - One call instead of one task per look-up, so that the validation costs one round trip.
version_added: "1.2.0"
author:
  - redis-provisioning contributors
options:
  directories:
    description: Directories that must exist.
    type: list
    elements: path
    default: []
  users:
    description: User names that must exist.
    type: list
    elements: str
    default: []
  groups:
    description: Group names that must exist.
    type: list
    elements: str
    default: []
  container_runtime:
    description: Run C(<container_runtime> version) and report whether it succeeded.
    type: str
  gids:
    description: Group ids whose sharers on the host to list.
    type: list
    elements: int
    default: []
notes:
  - Supports check mode; the module never changes anything.
"""

EXAMPLES = r"""
- name: Look up the host
  redis_host_lookup:
    directories: [/opt/hsi]
    users: [hsi]
    groups: [hsi]
    container_runtime: docker
    gids: [6379]
  register: lookup
"""

RETURN = r"""
missing_directories:
  description: Directories of O(directories) that do not exist (or are not directories).
  returned: always
  type: list
  elements: str
missing_users:
  description: Names of O(users) that no account has.
  returned: always
  type: list
  elements: str
missing_groups:
  description: Names of O(groups) that no group has.
  returned: always
  type: list
  elements: str
runtime:
  description: The result of C(<container_runtime> version), when O(container_runtime) is set.
  returned: when O(container_runtime) is set
  type: dict
  contains:
    ok:
      description: Whether the command succeeded.
      type: bool
    error:
      description: Its error output (or why it could not run), at most 500 characters.
      type: str
gid_sharers:
  description: For each gid of O(gids) (as a string), the accounts and group members that have it.
  returned: always
  type: dict
"""

import contextlib
import grp
import os
import pwd
from typing import Any

from ansible.module_utils.basic import AnsibleModule


def gid_sharers(gid: int) -> list[str]:
    """Accounts whose primary group is gid, and the members of the group with that gid."""
    sharers = [entry.pw_name for entry in pwd.getpwall() if entry.pw_gid == gid]
    with contextlib.suppress(KeyError):
        sharers += [member for member in grp.getgrgid(gid).gr_mem if member not in sharers]
    return sharers


def exists(lookup: Any, name: str) -> bool:
    try:
        lookup(name)
    except KeyError:
        return False
    return True


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "directories": {"type": "list", "elements": "path", "default": []},
            "users": {"type": "list", "elements": "str", "default": []},
            "groups": {"type": "list", "elements": "str", "default": []},
            "container_runtime": {"type": "str"},
            "gids": {"type": "list", "elements": "int", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    result: dict[str, Any] = {
        "changed": False,
        "missing_directories": [d for d in params["directories"] if not os.path.isdir(d)],
        "missing_users": [u for u in params["users"] if not exists(pwd.getpwnam, u)],
        "missing_groups": [g for g in params["groups"] if not exists(grp.getgrnam, g)],
        "gid_sharers": {str(gid): gid_sharers(gid) for gid in params["gids"]},
    }
    if params["container_runtime"]:
        runtime = module.get_bin_path(params["container_runtime"])
        if runtime is None:
            result["runtime"] = {"ok": False, "error": f"{params['container_runtime']}: command not found"}
        else:
            rc, _, err = module.run_command([runtime, "version"])
            result["runtime"] = {"ok": rc == 0, "error": err.strip()[:500]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
