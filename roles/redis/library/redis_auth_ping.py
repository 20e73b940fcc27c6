#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: authenticated PING that also proves anonymous access is refused."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_auth_ping
short_description: Prove that Redis answers an authenticated PING and refuses anonymous clients
description:
  - Connects to a Redis server with the given credentials and sends C(PING).
  - Then opens a second connection without credentials and checks that Redis refuses it with
    C(NOAUTH), which proves that authentication is enforced.
  - Reads C(INFO) to report the server version, replication role, AOF state and memory limits.
  - Read-only, so it runs unchanged in check mode and never reports a change.
  - Failures are worded after the HSI Redis guide's troubleshooting section
    (C(NOAUTH), C(WRONGPASS), connection refused). The password is never echoed.
version_added: "1.0.0"
author:
  - redis-provisioning contributors
extends_documentation_fragment:
  - redis_connection
options:
  expect_auth_required:
    description:
      - Fail unless an unauthenticated connection is refused with C(NOAUTH).
      - Set to V(false) only for a development server that deliberately runs without a password.
    type: bool
    default: true
  read_info:
    description:
      - Read C(INFO) for the fields below. V(false) for a user that may only C(PING), such as the
        replicas' user; the module then proves the login alone, and the C(INFO) fields are empty.
    type: bool
    default: true
notes:
  - Supports check mode; the module never changes anything.
seealso:
  - name: Redis ACL documentation
    description: How Redis authenticates users and what C(NOAUTH) and C(WRONGPASS) mean.
    link: https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/
"""

EXAMPLES = r"""
- name: Verify Redis on the local host with the vault-held password
  redis_auth_ping:
    host: 127.0.0.1
    port: 6379
    password: "{{ redis_password }}"
    retries: 10
  register: redis_check

- name: Verify a development server that runs without a password
  redis_auth_ping:
    unix_socket: /run/redis/redis-server.sock
    expect_auth_required: false
"""

RETURN = r"""
pong:
  description: Whether the authenticated C(PING) was answered with C(PONG).
  returned: success
  type: bool
  sample: true
redis_version:
  description: Server version from C(INFO server).
  returned: success
  type: str
  sample: 7.0.15
auth_required:
  description: Whether a connection without credentials was refused with C(NOAUTH).
  returned: success
  type: bool
  sample: true
aof_enabled:
  description: Whether append-only-file persistence is on, from C(INFO persistence).
  returned: success
  type: bool
  sample: true
maxmemory:
  description: Memory limit in bytes from C(INFO memory); V(0) means no limit.
  returned: success
  type: int
  sample: 209715200
maxmemory_policy:
  description: Eviction policy from C(INFO memory).
  returned: success
  type: str
  sample: noeviction
role:
  description: Replication role from C(INFO replication).
  returned: success
  type: str
  sample: master
used_memory:
  description: Memory Redis uses for data, in bytes, from C(INFO memory).
  returned: success
  type: int
  sample: 1048576
connected_clients:
  description: Client connections, from C(INFO clients) (this check's own connection included).
  returned: success
  type: int
  sample: 3
rejected_auth:
  description:
    - Refused authentications since the server started, from C(acl_access_denied_auth) of
      C(INFO stats) (Redis 7.2+) or else the C(WRONGPASS) count of C(INFO errorstats) (6.2+);
      V(-1) when the server reports neither. A rising count means clients with a wrong password.
  returned: success
  type: int
  sample: 0
primary:
  description: For a replica, the address (C(host:port)) of the primary it replicates from; empty otherwise.
  returned: success
  type: str
  sample: 10.0.0.1:6379
master_link_status:
  description: For a replica, C(up) or C(down) (C(INFO replication)); empty otherwise.
  returned: success
  type: str
  sample: up
replication_lag:
  description:
    - Seconds behind. For a replica, since it last heard from its primary (C(master_last_io_seconds_ago));
      for a primary, the largest C(lag) its replicas report. V(-1) when unknown or not replicating.
  returned: success
  type: int
  sample: 0
connected_replicas:
  description: For a primary, how many replicas are connected.
  returned: success
  type: int
  sample: 2
latency_ms:
  description: Round-trip time of an authenticated C(PING) on an open connection, in milliseconds.
  returned: success
  type: float
  sample: 0.21
failure:
  description:
    - On failure, which troubleshooting case applies.
    - One of V(noauth), V(wrongpass), V(no_password_configured), V(connection_refused),
      V(timeout), V(loading), V(auth_not_enforced), V(tls_verify_failed), V(tls_error), V(error).
  returned: failure
  type: str
  sample: wrongpass
attempts:
  description: On a connection failure, how many times the module tried (1 + the retries used).
  returned: failure
  type: int
  sample: 1
"""

import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.redis_connection import (
    HAS_REDIS,
    REDIS_IMPORT_ERROR,
    RedisCheckError,
    connection_argument_spec,
    describe,
    endpoint,
    is_noauth,
    make_client,
    with_retries,
)

if HAS_REDIS:
    from redis import exceptions as redis_exceptions


def timed_ping(client: Any) -> float:
    """PING once to connect and authenticate, then time a second PING on the open connection."""
    if not client.ping():
        raise RedisCheckError("error", "Redis did not answer PING with PONG")
    started = time.perf_counter()
    client.ping()
    return (time.perf_counter() - started) * 1000.0


def anonymous_access_refused(params: dict[str, Any]) -> bool:
    """True when a connection without credentials is refused with NOAUTH."""
    client = make_client(params, authenticate=False)
    try:
        client.ping()
    except redis_exceptions.RedisError as exc:
        if is_noauth(exc):
            return True
        raise describe(exc, params) from exc
    finally:
        client.close()
    return False


def rejected_auth(info: dict[str, Any]) -> int:
    """Refused logins: acl_access_denied_auth (Redis 7.2+), else the WRONGPASS error count (6.2+)."""
    if "acl_access_denied_auth" in info:
        return int(info["acl_access_denied_auth"])
    wrongpass = info.get("errorstat_WRONGPASS")
    if isinstance(wrongpass, dict):
        return int(wrongpass.get("count", 0))
    return 0 if "total_error_replies" in info else -1


def check(params: dict[str, Any]) -> dict[str, Any]:
    client = make_client(params)
    try:
        latency_ms = with_retries(lambda: timed_ping(client), params["retries"], params["delay"], params)
        info = with_retries(client.info, 0, 0.0, params) if params["read_info"] else {}
    finally:
        client.close()

    credentials_given = bool(params.get("password")) or bool(params.get("username"))
    # Without credentials the authenticated PING above already was an anonymous one, and it passed.
    auth_required = anonymous_access_refused(params) if credentials_given else False
    return {
        "pong": True,
        "redis_version": str(info.get("redis_version", "")),
        "auth_required": auth_required,
        "aof_enabled": bool(int(info.get("aof_enabled", 0))),
        "maxmemory": int(info.get("maxmemory", 0)),
        "maxmemory_policy": str(info.get("maxmemory_policy", "")),
        "role": str(info.get("role", "")),
        "used_memory": int(info.get("used_memory", 0)),
        "connected_clients": int(info.get("connected_clients", 0)),
        "rejected_auth": rejected_auth(info),
        "latency_ms": round(latency_ms, 3),
        **replication(info),
    }


def replication(info: dict[str, Any]) -> dict[str, Any]:
    """Primary, link and lag of a replica, or replicas and their largest lag for a primary."""
    if info.get("role") == "slave":
        return {
            "primary": f"{info.get('master_host', '')}:{info.get('master_port', '')}",
            "master_link_status": str(info.get("master_link_status", "")),
            "replication_lag": int(info.get("master_last_io_seconds_ago", -1)),
            "connected_replicas": int(info.get("connected_slaves", 0)),
        }
    lags = [int(v.get("lag", -1)) for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
    return {
        "primary": "",
        "master_link_status": "",
        "replication_lag": max(lags) if lags else -1,
        "connected_replicas": int(info.get("connected_slaves", 0)),
    }


def main() -> None:
    argument_spec = connection_argument_spec()
    argument_spec.update(
        expect_auth_required={"type": "bool", "default": True},
        read_info={"type": "bool", "default": True},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_REDIS:
        module.fail_json(msg=missing_required_lib("redis (Debian: python3-redis)"), exception=REDIS_IMPORT_ERROR)

    params = module.params
    try:
        result = check(params)
    except RedisCheckError as exc:
        module.fail_json(msg=str(exc), failure=exc.kind, attempts=exc.attempts)

    if params["expect_auth_required"] and not result["auth_required"]:
        module.fail_json(
            msg=(
                f"Redis at {endpoint(params)} accepted a connection without a password: authentication is "
                "not enforced. Configure a password (redis_password), or set expect_auth_required=false "
                "for a development server."
            ),
            failure="auth_not_enforced",
            **result,
        )
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
