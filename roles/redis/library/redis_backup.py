#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: take a point-in-time RDB snapshot of a running Redis and check it on the host."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_backup
short_description: Take a consistent RDB snapshot of a running Redis and check it before it is fetched
description:
  - >-
    Asks Redis for a snapshot with C(BGSAVE SCHEDULE) (scheduled after an AOF rewrite in progress)
    and waits until Redis reports it written. The snapshot is one point in time (Redis forks and the
    child writes what the parent held at that moment) while Redis goes on serving clients; nothing
    is restarted and no setting is changed.
  - >-
    Links the snapshot into O(staging_dir) (a hard link on the same file system, so that a later
    snapshot Redis writes cannot replace it), computes its SHA-256 and checks it with Redis's own
    C(redis-check-rdb). The key count of each database is read from the file (the record Redis
    writes after selecting each database) and must add up to the keys C(redis-check-rdb) read.
  - >-
    Log in as a user that may run C(BGSAVE), C(INFO) and C(CONFIG GET) (the role uses the admin
    user C(default)).
version_added: "1.5.0"
author:
  - redis-provisioning contributors
extends_documentation_fragment:
  - redis_connection
options:
  data_dir:
    description: >-
      Redis's data directory (C(dir)) as this host sees it; for a container, the volume's directory on
      the host.
    type: path
    required: true
  staging_dir:
    description: >-
      Directory for the snapshot's link, created C(0700) and owned like O(data_dir). Must be on the
      file system of O(data_dir).
    type: path
    required: true
  check_command:
    description: Command that runs C(redis-check-rdb); the snapshot's path is appended.
    type: list
    elements: str
    default: [redis-check-rdb]
  check_dir:
    description: O(staging_dir) as O(check_command) sees it (inside a container). Defaults to O(staging_dir).
    type: str
  timeout:
    description: Seconds to wait for the snapshot.
    type: int
    default: 3600
  primary_only:
    description: Take no snapshot on a replica (RV(taken) is then false); with replicas the primary is backed up.
    type: bool
    default: false
notes:
  - Supports check mode; it then only logs in and reports the server's key counts, without a snapshot.
seealso:
  - module: redis_restore
  - name: Redis persistence (backing up Redis data)
    link: https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/
"""

EXAMPLES = r"""
- name: Snapshot Redis and check the snapshot
  redis_backup:
    password: "{{ redis_password }}"
    data_dir: /var/lib/redis
    staging_dir: /var/lib/redis/.redis-provisioning-backup
  register: snapshot
  no_log: false
"""

RETURN = r"""
taken:
  description: Whether a snapshot was taken (in check mode, would be); false on a replica with O(primary_only).
  returned: success
  type: bool
file:
  description: The checked snapshot on the host (in O(staging_dir)); absent in check mode.
  returned: success
  type: str
  sample: /var/lib/redis/.redis-provisioning-backup/dump.rdb
sha256:
  description: SHA-256 of the snapshot file.
  returned: success, not in check mode
  type: str
size:
  description: Size of the snapshot file in bytes.
  returned: success, not in check mode
  type: int
created:
  description: When Redis took the snapshot (seconds since the epoch, from the file).
  returned: success, not in check mode
  type: int
rdb_version:
  description: RDB format version of the file.
  returned: success, not in check mode
  type: int
redis_version:
  description: Version of the Redis server.
  returned: success
  type: str
  sample: 8.0.2
role:
  description: Replication role of the server, V(master) or V(slave).
  returned: success
  type: str
databases:
  description: Keys and keys with a TTL per database (in check mode, what the server holds now).
  returned: success
  type: dict
  sample: {"0": {"keys": 120000, "expires": 3000}}
keys:
  description: Keys in all databases.
  returned: success
  type: int
failure:
  description: On failure, which troubleshooting case applies (see M(redis_auth_ping)), or V(snapshot).
  returned: failure
  type: str
"""

import os
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.redis_connection import (
    HAS_REDIS,
    REDIS_IMPORT_ERROR,
    RedisCheckError,
    connection_argument_spec,
    describe,
    make_client,
    with_retries,
)
from ansible.module_utils.redis_rdb import RdbError, check_rdb, sha256_file

if HAS_REDIS:
    from redis import exceptions as redis_exceptions

SNAPSHOT_NAME = "dump.rdb"


def keyspace(info: dict[str, Any]) -> dict[str, dict[str, int]]:
    """INFO keyspace as {"0": {"keys": n, "expires": m}}."""
    return {
        name[2:]: {"keys": int(value["keys"]), "expires": int(value["expires"])}
        for name, value in info.items()
        if name.startswith("db") and isinstance(value, dict)
    }


def snapshot(client: Any, timeout: int) -> None:
    """BGSAVE and wait until this snapshot (not an earlier one) is written."""
    before = int(client.info("persistence")["rdb_saves"])
    client.execute_command("BGSAVE", "SCHEDULE")
    deadline = time.monotonic() + timeout
    while True:
        info = client.info("persistence")
        if int(info["rdb_saves"]) > before and not int(info["rdb_bgsave_in_progress"]):
            if info["rdb_last_bgsave_status"] != "ok":
                raise RedisCheckError("snapshot", "Redis could not write the snapshot (BGSAVE failed): see its log.")
            return
        if time.monotonic() > deadline:
            raise RedisCheckError("snapshot", f"Redis did not finish the snapshot within {timeout} s.")
        time.sleep(0.1)


def stage(params: dict[str, Any], dbfilename: str) -> str:
    staging = params["staging_dir"]
    owner = os.stat(params["data_dir"])
    os.makedirs(staging, mode=0o700, exist_ok=True)
    os.chown(staging, owner.st_uid, owner.st_gid)
    os.chmod(staging, 0o700)
    target = os.path.join(staging, SNAPSHOT_NAME)
    if os.path.lexists(target):
        os.unlink(target)
    os.link(os.path.join(params["data_dir"], dbfilename), target)
    return target


def run(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    client = make_client(params)
    try:
        server = with_retries(lambda: client.info("server"), params["retries"], params["delay"], params)
        result: dict[str, Any] = {
            "redis_version": str(server["redis_version"]),
            "role": str(client.info("replication")["role"]),
            "taken": True,
        }
        if params["primary_only"] and result["role"] != "master":
            return {**result, "changed": False, "taken": False}
        if check_mode:
            current = keyspace(client.info("keyspace"))
            return {
                **result,
                "changed": True,
                "databases": current,
                "keys": sum(db["keys"] for db in current.values()),
            }
        dbfilename = str(client.config_get("dbfilename")["dbfilename"])
        snapshot(client, params["timeout"])
    except redis_exceptions.RedisError as exc:
        raise describe(exc, params) from exc
    finally:
        client.close()
    target = stage(params, dbfilename)
    check_dir = params["check_dir"] or params["staging_dir"]
    described = check_rdb(params["check_command"], os.path.join(check_dir, SNAPSHOT_NAME), target)
    digest, size = sha256_file(target)
    return {
        **result,
        "changed": True,
        "file": target,
        "sha256": digest,
        "size": size,
        "created": described["created"],
        "rdb_version": described["rdb_version"],
        "databases": described["databases"],
        "keys": described["keys"],
    }


def main() -> None:
    argument_spec = connection_argument_spec()
    argument_spec.update(
        data_dir={"type": "path", "required": True},
        staging_dir={"type": "path", "required": True},
        check_command={"type": "list", "elements": "str", "default": ["redis-check-rdb"]},
        check_dir={"type": "str"},
        timeout={"type": "int", "default": 3600},
        primary_only={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_REDIS:
        module.fail_json(msg=missing_required_lib("redis (Debian: python3-redis)"), exception=REDIS_IMPORT_ERROR)
    try:
        result = run(module.params, module.check_mode)
    except RedisCheckError as exc:
        module.fail_json(msg=str(exc), failure=exc.kind)
    except RdbError as exc:
        module.fail_json(msg=f"The snapshot of this host failed its check: {exc}", failure="snapshot")
    except OSError as exc:
        module.fail_json(msg=f"Cannot stage the snapshot: {exc.strerror} ({exc.filename})", failure="snapshot")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
