#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: what a Redis Sentinel knows about the primary it monitors (read-only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_sentinel_status
short_description: Report a Sentinel's view of the primary it monitors
description:
  - Asks a Sentinel (C(SENTINEL MASTER), C(SENTINEL CKQUORUM)) where the primary is, what it
    thinks of it, how many replicas and other sentinels it knows and whether the sentinels it
    can reach are enough to authorise a failover.
  - Read-only; it never reports a change.
version_added: "1.4.0"
author:
  - redis-provisioning contributors
extends_documentation_fragment:
  - redis_connection
options:
  master_name:
    description: Name of the monitored primary.
    type: str
    default: hsi
notes:
  - Supports check mode.
seealso:
  - module: redis_sentinel
"""

EXAMPLES = r"""
- name: Ask the local Sentinel
  redis_sentinel_status:
    port: 26379
    username: sentinel
    password: "{{ redis_sentinel_password }}"
  register: sentinel_view
"""

RETURN = r"""
primary:
  description: Address (C(host:port)) of the primary as this Sentinel knows it.
  returned: success
  type: str
  sample: 10.0.0.1:6379
flags:
  description: Sentinel's flags for the primary (C(master), C(s_down), C(o_down), ...).
  returned: success
  type: str
  sample: master
replicas:
  description: Replicas this Sentinel knows.
  returned: success
  type: int
  sample: 2
other_sentinels:
  description: Other sentinels this Sentinel knows.
  returned: success
  type: int
  sample: 2
quorum:
  description: The configured quorum.
  returned: success
  type: int
  sample: 2
quorum_reachable:
  description: Whether C(SENTINEL CKQUORUM) says that enough sentinels are reachable to fail over.
  returned: success
  type: bool
  sample: true
quorum_message:
  description: Sentinel's own answer to C(SENTINEL CKQUORUM).
  returned: success
  type: str
  sample: OK 3 usable Sentinels. Quorum and failover authorization can be reached
failure:
  description: On failure, which troubleshooting case applies (see M(redis_auth_ping)).
  returned: failure
  type: str
  sample: connection_refused
"""

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

if HAS_REDIS:
    from redis import exceptions as redis_exceptions


def status(params: dict[str, Any]) -> dict[str, Any]:
    client = make_client(params)
    name = params["master_name"]
    try:
        reply = with_retries(
            lambda: client.execute_command("SENTINEL", "MASTER", name), params["retries"], params["delay"], params
        )
        master = dict(zip(reply[::2], reply[1::2], strict=True)) if isinstance(reply, list) else dict(reply)
        try:
            message = str(client.execute_command("SENTINEL", "CKQUORUM", name))
            reachable = message.startswith("OK")
        except redis_exceptions.ResponseError as exc:
            message, reachable = str(exc), False
    finally:
        client.close()
    return {
        "changed": False,
        "primary": f"{master.get('ip', '')}:{master.get('port', '')}",
        "flags": str(master.get("flags", "")),
        "replicas": int(master.get("num-slaves", 0)),
        "other_sentinels": int(master.get("num-other-sentinels", 0)),
        "quorum": int(master.get("quorum", 0)),
        "quorum_reachable": reachable,
        "quorum_message": message,
    }


def main() -> None:
    argument_spec = connection_argument_spec()
    argument_spec.update(master_name={"type": "str", "default": "hsi"})
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_REDIS:
        module.fail_json(msg=missing_required_lib("redis (Debian: python3-redis)"), exception=REDIS_IMPORT_ERROR)
    try:
        result = status(module.params)
    except RedisCheckError as exc:
        module.fail_json(msg=str(exc), failure=exc.kind)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
