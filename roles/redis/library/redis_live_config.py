#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: apply Redis settings to the running server (CONFIG SET), without a restart."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_live_config
short_description: Apply settings to a running Redis with CONFIG SET, without a restart
description:
  - Reads the current values of O(settings) with C(CONFIG GET) and sets those that differ in one
    C(CONFIG SET) (Redis 7 sets several parameters at once, all or none), so that Redis keeps
    running and its clients stay connected.
  - A value Redis refuses fails the task with Redis's own message, and Redis keeps every old value.
    Write the settings to the configuration file only after this module succeeded, so that a
    restart reads the same values.
  - Values are compared as Redis means them. Memory sizes such as C(200mb) equal C(209715200), and
    C(yes)/C(no) and whitespace compare without regard to case and spacing.
  - Only for settings that Redis accepts at run time (its C(MODIFIABLE_CONFIG) parameters). Settings
    such as C(port), C(bind), C(unixsocket), C(aclfile) or C(databases) need a restart.
version_added: "1.2.0"
author:
  - redis-provisioning contributors
extends_documentation_fragment:
  - redis_connection
options:
  settings:
    description: Parameter names (as in C(redis.conf)) and the values they must have.
    type: dict
    required: true
  secret_settings:
    description:
      - Settings whose values are secrets, such as C(masterauth). Applied like O(settings), but a
        C(no_log) value, never shown in a diff; with them, O(file) is treated as secret too.
    type: dict
    default: {}
  reload:
    description:
      - Parameters to set again even when their value is unchanged, for example C(tls-cert-file),
        C(tls-key-file) and C(tls-ca-cert-file) after new certificate files were written under the
        same names. Setting them makes Redis load the files again.
    type: list
    elements: str
    default: []
  down_ok:
    description:
      - When Redis refuses the connection (it is not running), return C(running=false) instead of
        failing. Redis then reads the settings from its configuration file when it starts.
    type: bool
    default: false
  apply:
    description:
      - Set the changes on the running server. V(false) only writes O(file), for example when Redis
        restarts anyway and reads the file then.
    type: bool
    default: true
  file:
    description:
      - The file that holds the same settings for the next start (included by C(redis.conf)). It is
        written after the settings were applied, and only then (a value Redis refuses leaves it as
        it was), replaced atomically.
    type: dict
    suboptions:
      path:
        description: Where the file goes. Its directory must exist.
        type: path
        required: true
      content:
        description: The whole content of the file.
        type: str
        required: true
      owner:
        description: User name or uid.
        type: str
        default: root
      group:
        description: Group name or gid.
        type: str
        default: root
      mode:
        description: Octal mode, for example C('0640').
        type: raw
        required: true
notes:
  - Supports check mode; it then reports which parameters would change and sets nothing.
  - Supports diff mode; the diff shows C(name value) lines of the parameters that change, and the
    file's change.
"""

EXAMPLES = r"""
- name: Apply a new memory limit and fsync policy without a restart
  redis_live_config:
    password: "{{ redis_password }}"
    settings:
      maxmemory: 300mb
      maxmemory-policy: noeviction
      appendfsync: everysec
"""

RETURN = r"""
changed_keys:
  description: Parameters that were (in check mode, would be) set.
  returned: always
  type: list
  elements: str
  sample: [maxmemory]
running:
  description: Whether Redis answered. V(false) only with O(down_ok=true), or with O(apply=false).
  returned: always
  type: bool
applied:
  description: Whether the changed parameters were (in check mode, would be) set on the running server.
  returned: always
  type: bool
file_changed:
  description: Whether O(file) was (would be) written.
  returned: always
  type: bool
"""

import re
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.redis_connection import (
    HAS_REDIS,
    REDIS_IMPORT_ERROR,
    RedisCheckError,
    connection_argument_spec,
    make_client,
    with_retries,
)
from ansible.module_utils.redis_files import FILE_OPTIONS, FileError, write_file

WRITER = "redis_live_config"

# Redis's units (see redis.conf): k/m/g are powers of 1000, kb/mb/gb powers of 1024.
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}
_MEMORY = re.compile(r"^([0-9]+)([kmg]?b?)$", re.IGNORECASE)


def normalized(value: Any) -> str:
    """A value as Redis reports it in CONFIG GET: memory sizes in bytes, lower case, single spaces."""
    text = " ".join(str(value).split()).lower()
    match = _MEMORY.match(text)
    if match and match.group(2):
        return str(int(match.group(1)) * _UNITS[match.group(2)])
    return text


def config_get(client: Any, names: list[str]) -> dict[str, str]:
    reply = client.execute_command("CONFIG", "GET", *names)
    if isinstance(reply, dict):
        return {str(k): str(v) for k, v in reply.items()}
    pairs = list(reply)
    return {str(pairs[i]): str(pairs[i + 1]) for i in range(0, len(pairs) - 1, 2)}


def shown(key: str, value: str, secret_keys: set[str]) -> str:
    return "(secret, not shown)" if key in secret_keys else value


def apply(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    secret_keys = {str(k) for k in params["secret_settings"]}
    wanted = {str(k): str(v) for k, v in {**params["settings"], **params["secret_settings"]}.items()}
    client = make_client(params)
    try:
        current = with_retries(lambda: config_get(client, list(wanted)), params["retries"], params["delay"], params)
        unknown = sorted(set(wanted) - set(current))
        if unknown:
            raise RedisCheckError("error", f"Redis does not know the parameter(s) {', '.join(unknown)}.")
        changed = [k for k in wanted if normalized(current[k]) != normalized(wanted[k]) or k in params["reload"]]
        if changed and not check_mode:
            arguments = [part for key in changed for part in (key, wanted[key])]
            with_retries(lambda: client.execute_command("CONFIG", "SET", *arguments), 0, 0.0, params)
    finally:
        client.close()
    return {
        "changed": bool(changed),
        "changed_keys": changed,
        "running": True,
        "applied": bool(changed),
        "diff": [
            {
                "before_header": "running Redis (CONFIG GET)",
                "after_header": "running Redis (CONFIG SET)",
                "before": "".join(f"{k} {shown(k, current[k], secret_keys)}\n" for k in changed),
                "after": "".join(f"{k} {shown(k, wanted[k], secret_keys)}\n" for k in changed),
            }
        ]
        if changed
        else [],
    }


def main() -> None:
    argument_spec = connection_argument_spec()
    argument_spec.update(
        settings={"type": "dict", "required": True},
        secret_settings={"type": "dict", "default": {}, "no_log": True},
        reload={"type": "list", "elements": "str", "default": []},
        down_ok={"type": "bool", "default": False},
        apply={"type": "bool", "default": True},
        file={"type": "dict", "options": FILE_OPTIONS},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params["apply"] and not HAS_REDIS:
        module.fail_json(msg=missing_required_lib("redis (Debian: python3-redis)"), exception=REDIS_IMPORT_ERROR)
    not_applied: dict[str, Any] = {"changed": False, "changed_keys": [], "running": False, "applied": False, "diff": []}
    try:
        result = apply(module.params, module.check_mode) if module.params["apply"] else not_applied
    except RedisCheckError as exc:
        if exc.kind != "connection_refused" or not module.params["down_ok"]:
            module.fail_json(msg=str(exc), failure=exc.kind)
        result = not_applied
    result["file_changed"] = False
    if module.params["file"]:
        try:
            secret = bool(module.params["secret_settings"])
            written, file_diffs = write_file(module, module.params["file"], WRITER, secret)
            result["file_changed"] = written["changed"]
        except (FileError, OSError) as exc:
            module.fail_json(msg=f"{module.params['file']['path']}: {exc}", **result)
        result["diff"].extend(file_diffs)
        result["changed"] = result["changed"] or result["file_changed"]
    if not module._diff:
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
