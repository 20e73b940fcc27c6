#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: make a Redis ACL user accept exactly a set of passwords, live."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_user_passwords
short_description: Make a Redis ACL user accept exactly the given passwords, without a restart
description:
  - Reads the password hashes of an ACL user with C(ACL GETUSER) and changes them with one
    C(ACL SETUSER) so that the user accepts exactly the passwords in O(passwords). Hashes to add
    and to remove are applied in the same command, so no moment exists in between.
  - Only SHA-256 hashes (C(#<hash>), C(!<hash>)) are sent to Redis; the passwords themselves never
    leave the host that runs the module, so they cannot show up in C(MONITOR) or the slow log.
  - The change is live only. Redis keeps its ACL file as it is; write that file too (the role's
    C(users.acl) template) so that a restart keeps the same passwords. C(ACL LOAD) is never used, as
    before Redis 7.4 it disconnects every client of a user other than C(default) (replicas,
    sentinels, the exporter).
  - Used by the password rotation to accept the old and the new password side by side, and then
    the new one alone.
version_added: "1.1.0"
author:
  - redis-provisioning contributors
extends_documentation_fragment:
  - redis_connection
options:
  login_passwords:
    description:
      - Passwords to log in with, tried in order until one is accepted. During a rotation these
        are the new and the old password, so a rerun logs in whichever step the last run reached.
    type: list
    elements: str
    required: true
  user:
    description: The ACL user whose passwords are set.
    type: str
    default: default
  passwords:
    description:
      - Every password the user must accept afterwards; any other password of the user is removed.
      - Must not be empty; to run without authentication use the role's development mode instead.
    type: list
    elements: str
    required: true
  sentinel:
    description:
      - The server is a Redis Sentinel. Sentinel has no ACL file; the module then persists the
        change in Sentinel's configuration file with C(SENTINEL FLUSHCONFIG).
    type: bool
    default: false
notes:
  - Supports check mode; it then reports what would change and changes nothing.
  - Supports no diff; the hashes are not shown.
seealso:
  - module: redis_auth_ping
  - name: Redis ACL SETUSER
    description: The C(#<hash>) and C(!<hash>) password rules.
    link: https://redis.io/docs/latest/commands/acl-setuser/
"""

EXAMPLES = r"""
- name: Accept the old and the new password side by side
  redis_user_passwords:
    port: 6379
    login_passwords: ["{{ redis_password_new }}", "{{ redis_password }}"]
    passwords: ["{{ redis_password }}", "{{ redis_password_new }}"]
  no_log: true

- name: Accept only the new password
  redis_user_passwords:
    port: 6379
    login_passwords: ["{{ redis_password_new }}"]
    passwords: ["{{ redis_password_new }}"]
  no_log: true
"""

RETURN = r"""
added:
  description: How many passwords were added to the user (or would be, in check mode).
  returned: success
  type: int
  sample: 1
removed:
  description: How many passwords were removed from the user (or would be, in check mode).
  returned: success
  type: int
  sample: 0
accepted:
  description: How many passwords the user accepts afterwards.
  returned: success
  type: int
  sample: 2
login_index:
  description: Position in O(login_passwords) of the password that logged in (0 is the first).
  returned: success
  type: int
  sample: 0
failure:
  description:
    - On failure, which troubleshooting case applies.
    - One of V(wrongpass), V(noauth), V(no_password_configured), V(connection_refused), V(timeout),
      V(loading), V(no_such_user), V(tls_verify_failed), V(tls_error), V(error).
  returned: failure
  type: str
  sample: wrongpass
"""

import hashlib
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.redis_connection import (
    HAS_REDIS,
    REDIS_IMPORT_ERROR,
    RedisCheckError,
    connection_argument_spec,
    endpoint,
    login,
    with_retries,
)


def sha256_hex(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def set_passwords(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    client, login_index = login(params, params["login_passwords"])
    try:
        user = with_retries(lambda: client.acl_getuser(params["user"]), 0, 0.0, params)
        if not user:
            raise RedisCheckError("no_such_user", f"Redis at {endpoint(params)} has no ACL user '{params['user']}'.")
        flags = [str(flag) for flag in user.get("flags", [])]
        if "nopass" in flags:
            raise RedisCheckError(
                "no_password_configured",
                f"ACL user '{params['user']}' on Redis at {endpoint(params)} accepts any password (nopass); "
                "configure a password with the role first.",
            )
        current = {str(h) for h in user.get("passwords", [])}
        wanted = {sha256_hex(p) for p in params["passwords"]}
        to_add = sorted(wanted - current)
        to_remove = sorted(current - wanted)
        if (to_add or to_remove) and not check_mode:
            rules = [f"#{h}" for h in to_add] + [f"!{h}" for h in to_remove]
            with_retries(lambda: client.execute_command("ACL", "SETUSER", params["user"], *rules), 0, 0.0, params)
            if params["sentinel"]:
                with_retries(lambda: client.execute_command("SENTINEL", "FLUSHCONFIG"), 0, 0.0, params)
    finally:
        client.close()
    return {
        "changed": bool(to_add or to_remove),
        "added": len(to_add),
        "removed": len(to_remove),
        "accepted": len(wanted),
        "login_index": login_index,
    }


def main() -> None:
    argument_spec = connection_argument_spec()
    argument_spec.update(
        login_passwords={"type": "list", "elements": "str", "required": True, "no_log": True},
        user={"type": "str", "default": "default"},
        passwords={"type": "list", "elements": "str", "required": True, "no_log": True},
        sentinel={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_REDIS:
        module.fail_json(msg=missing_required_lib("redis (Debian: python3-redis)"), exception=REDIS_IMPORT_ERROR)

    params = module.params
    if not params["passwords"] or any(p == "" for p in params["passwords"]):
        module.fail_json(msg="passwords must list at least one non-empty password.", failure="error")
    if not params["login_passwords"]:
        module.fail_json(msg="login_passwords must list at least one password.", failure="error")
    try:
        result = set_passwords(params, module.check_mode)
    except RedisCheckError as exc:
        module.fail_json(msg=str(exc), failure=exc.kind)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
