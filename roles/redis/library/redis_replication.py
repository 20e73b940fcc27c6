#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: find the current primary (the sentinels' view first) and point this node at it."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_replication
short_description: Find the current Redis primary from the sentinels and make this node follow it
description:
  - Asks the sentinels in O(sentinels), without credentials (the discovery command
    C(SENTINEL GET-MASTER-ADDR-BY-NAME) that Sentinel's anonymous clients may run), where the
    primary named O(master_name) is. Only when no sentinel knows it (a new group) does
    O(initial_primary) count.
  - Then compares the role of the Redis node it connects to (C(ROLE)) with that primary. A node that
    is the primary and a replica of the primary are left alone. A node that is not the primary but
    acts as one (a new node, or one restarted after a failover) is made a replica of the primary
    with C(REPLICAOF). The primary itself is only promoted (C(REPLICAOF NO ONE)) in a new group.
  - After a failover it therefore changes nothing where Sentinel already did the work, never
    demotes the primary Sentinel chose and never re-points replicas at the inventory's primary.
  - Log in as a user that may run C(REPLICAOF) (the role uses Sentinel's user, which has
    C(+slaveof)); the command is sent as C(SLAVEOF), which Redis treats the same.
version_added: "1.4.0"
author:
  - redis-provisioning contributors
extends_documentation_fragment:
  - redis_connection
options:
  sentinels:
    description: Sentinels to ask, as C(host:port). Empty when the group runs without Sentinel.
    type: list
    elements: str
    default: []
  master_name:
    description: Name under which the sentinels monitor the primary.
    type: str
    default: hsi
  initial_primary:
    description: Address (C(host:port)) of the primary when no sentinel knows one.
    type: str
    required: true
  self_address:
    description: Address (C(host:port)) under which the other nodes and the sentinels know this node.
    type: str
    required: true
  sentinel_timeout:
    description: Seconds to wait for each sentinel.
    type: float
    default: 1.0
notes:
  - Supports check mode; it then reports what it would change.
seealso:
  - module: redis_sentinel
  - name: Redis replication
    link: https://redis.io/docs/latest/operate/oss_and_stack/management/replication/
"""

EXAMPLES = r"""
- name: Follow the primary the sentinels know (or the inventory's in a new group)
  redis_replication:
    username: sentinel
    password: "{{ redis_sentinel_password }}"
    sentinels: [10.0.0.1:26379, 10.0.0.2:26379, 10.0.0.3:26379]
    initial_primary: 10.0.0.1:6379
    self_address: 10.0.0.2:6379
  no_log: true
"""

RETURN = r"""
primary:
  description: Address (C(host:port)) of the primary this node follows or is.
  returned: success
  type: str
  sample: 10.0.0.1:6379
primary_source:
  description: V(sentinel) when the sentinels named the primary, V(inventory) in a new group.
  returned: success
  type: str
  sample: sentinel
sentinels_answered:
  description: How many of O(sentinels) answered.
  returned: success
  type: int
  sample: 3
role:
  description: Role of this node afterwards, V(master) or V(slave) (in check mode, the role it would have).
  returned: success
  type: str
  sample: slave
following:
  description: Address the node replicated from before the module ran; null when it acted as a primary.
  returned: success
  type: str
  sample: 10.0.0.1:6379
change:
  description: What was done (or would be, in check mode), V(none), V(replicaof) or V(promote).
  returned: success
  type: str
  sample: none
failure:
  description: On failure, which troubleshooting case applies (see M(redis_auth_ping)).
  returned: failure
  type: str
  sample: wrongpass
"""

from collections import Counter
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
    import redis
    from redis import exceptions as redis_exceptions


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RedisCheckError("error", f"'{address}' is not an address of the form host:port.")
    return host.strip("[]"), int(port)


def sentinels_primary(params: dict[str, Any]) -> tuple[str | None, int]:
    """The primary most of the answering sentinels name, and how many answered."""
    answers: list[str] = []
    for address in params["sentinels"]:
        host, port = split_address(address)
        client: Any = redis.Redis(
            host=host,
            port=port,
            socket_connect_timeout=params["sentinel_timeout"],
            socket_timeout=params["sentinel_timeout"],
            decode_responses=True,
        )
        try:
            reply = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", params["master_name"])
        except redis_exceptions.RedisError:
            continue
        finally:
            client.close()
        answers.append(f"{reply[0]}:{reply[1]}" if reply else "")
    known = Counter(answer for answer in answers if answer)
    return (known.most_common(1)[0][0] if known else None), len(answers)


def run(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    discovered, answered = sentinels_primary(params)
    primary = discovered or params["initial_primary"]
    primary_host, primary_port = split_address(primary)
    is_primary = split_address(params["self_address"]) == (primary_host, primary_port)

    client = make_client(params)
    try:
        role = with_retries(lambda: client.execute_command("ROLE"), params["retries"], params["delay"], params)
        current = str(role[0])
        following = f"{role[1]}:{role[2]}" if current == "slave" else None
        action = "none"
        if is_primary and current != "master" and discovered is None:
            action = "promote"
        elif not is_primary and current == "master":
            action = "replicaof"
        if action != "none" and not check_mode:
            target = ("NO", "ONE") if action == "promote" else (primary_host, str(primary_port))
            with_retries(lambda: client.execute_command("SLAVEOF", *target), 0, 0.0, params)
    finally:
        client.close()
    result_role = {"promote": "master", "replicaof": "slave"}.get(action, current)
    return {
        "changed": action != "none",
        "change": action,
        "primary": primary,
        "primary_source": "sentinel" if discovered else "inventory",
        "sentinels_answered": answered,
        "role": result_role,
        "following": following,
    }


def main() -> None:
    argument_spec = connection_argument_spec()
    argument_spec.update(
        sentinels={"type": "list", "elements": "str", "default": []},
        master_name={"type": "str", "default": "hsi"},
        initial_primary={"type": "str", "required": True},
        self_address={"type": "str", "required": True},
        sentinel_timeout={"type": "float", "default": 1.0},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_REDIS:
        module.fail_json(msg=missing_required_lib("redis (Debian: python3-redis)"), exception=REDIS_IMPORT_ERROR)
    try:
        result = run(module.params, module.check_mode)
    except RedisCheckError as exc:
        module.fail_json(msg=str(exc), failure=exc.kind)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
