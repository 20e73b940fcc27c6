#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: put an RDB snapshot in place as Redis's data, and prove what Redis loaded."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_restore
short_description: Check, put in place, undo and verify a restored Redis snapshot
description:
  - >-
    The host side of the role's restore, one O(step) at a time, so that the tasks around it stop and
    start Redis and can undo a failed restore.
  - >-
    V(check) changes nothing. It compares the snapshot copied to the host with the backup's SHA-256,
    checks it with this host's C(redis-check-rdb) (which also refuses an RDB format newer than this
    host's Redis reads) and finds out whether the target holds data. With keys in any database (or,
    when Redis does not answer, files in O(data_dir)) it fails unless O(force).
  - >-
    V(swap) runs while Redis is stopped. It moves everything in O(data_dir) (except the role's
    own C(.redis-provisioning*) and earlier C(replaced-*) folders) into O(keep_dir), then puts the
    snapshot in place. With O(appendonly) the snapshot becomes the base of a new multi-part AOF (the
    layout Redis itself writes with C(aof-use-rdb-preamble)), so Redis starts from it with
    C(appendonly yes) unchanged; it is also linked as O(dbfilename). Owner and group are those of O(data_dir).
  - V(revert) undoes V(swap), also after Redis has started from the snapshot.
  - >-
    V(verify) waits until Redis has loaded its data and compares the keys per database with
    O(expected). A database may hold fewer keys only by keys with a TTL that expired since the
    backup (the keys with a TTL are then fewer by exactly as many).
version_added: "1.5.0"
author:
  - redis-provisioning contributors
extends_documentation_fragment:
  - redis_connection
options:
  step:
    description: What to do.
    type: str
    required: true
    choices: [check, swap, revert, verify]
  data_dir:
    description: >-
      Redis's data directory (C(dir)) as this host sees it; for a container, the volume's directory on
      the host.
    type: path
  file:
    description: The snapshot copied to this host (V(check), V(swap)); on the file system of O(data_dir).
    type: path
  sha256:
    description: The backup's SHA-256 of the snapshot (V(check)).
    type: str
  check_command:
    description: Command that runs this host's C(redis-check-rdb); the snapshot's path is appended (V(check)).
    type: list
    elements: str
    default: [redis-check-rdb]
  check_file:
    description: O(file) as O(check_command) sees it (inside a container). Defaults to O(file).
    type: str
  force:
    description: Replace a target that holds data (V(check)).
    type: bool
    default: false
  keep_dir:
    description: Where V(swap) moves the data it replaces, and V(revert) takes it back from.
    type: path
  appendonly:
    description: Whether Redis runs with C(appendonly yes) (V(swap)).
    type: bool
    default: true
  appenddirname:
    description: Redis's C(appenddirname) (V(swap)).
    type: str
    default: appendonlydir
  appendfilename:
    description: Redis's C(appendfilename) (V(swap)).
    type: str
    default: appendonly.aof
  dbfilename:
    description: Redis's C(dbfilename) (V(swap)).
    type: str
    default: dump.rdb
  expected:
    description: The backup's keys per database, as its manifest records them (V(verify)).
    type: dict
    default: {}
  timeout:
    description: Seconds V(verify) waits for Redis to load its data.
    type: int
    default: 600
  primary_only:
    description: Refuse a replica (V(check)); with replicas a restore goes onto the primary and the replicas copy it.
    type: bool
    default: false
notes:
  - Supports check mode; V(check) then skips the file checks when the file was not copied, the other steps only report.
seealso:
  - module: redis_backup
"""

EXAMPLES = r"""
- name: Check the copied snapshot and whether the host holds data
  redis_restore:
    step: check
    password: "{{ redis_password }}"
    data_dir: /var/lib/redis
    file: /var/lib/redis/.redis-provisioning-restore/dump.rdb
    sha256: "{{ manifest.files[0].sha256 }}"
"""

RETURN = r"""
databases:
  description: Keys and keys with a TTL per database that Redis holds (V(check) when it answers, V(verify)).
  returned: check, verify
  type: dict
  sample: {"0": {"keys": 120000, "expires": 3000}}
held:
  description: Whether the target holds data (V(check)); null when Redis did not answer and O(data_dir) is empty.
  returned: check
  type: bool
rdb_version:
  description: RDB format version of the snapshot (V(check)).
  returned: check
  type: int
kept:
  description: Entries of O(data_dir) moved into O(keep_dir) (V(swap)) or back (V(revert)).
  returned: swap, revert
  type: list
  elements: str
expired:
  description: Keys with a TTL that expired since the backup, per database (V(verify)).
  returned: verify
  type: dict
failure:
  description: >-
    On failure, what failed (V(checksum), V(snapshot), V(holds_data), V(replica), V(mismatch)) or a
    troubleshooting case of M(redis_auth_ping).
  returned: failure
  type: str
"""

import os
import shutil
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
)
from ansible.module_utils.redis_rdb import RdbError, check_rdb, sha256_file

if HAS_REDIS:
    from redis import exceptions as redis_exceptions

ROLE_ENTRIES = (".redis-provisioning", "replaced-")
PLACED = ".redis-provisioning-placed"
REQUIRED = {
    "check": ("data_dir", "file", "sha256"),
    "swap": ("data_dir", "file", "keep_dir"),
    "revert": ("data_dir", "keep_dir"),
}


def data_entries(data_dir: str) -> list[str]:
    """What Redis keeps in its directory: everything but the role's staging and kept folders."""
    return sorted(name for name in os.listdir(data_dir) if not name.startswith(ROLE_ENTRIES))


def keyspace(client: Any) -> dict[str, dict[str, int]]:
    info = client.info("keyspace")
    return {
        name[2:]: {"keys": int(value["keys"]), "expires": int(value["expires"])}
        for name, value in info.items()
        if name.startswith("db") and isinstance(value, dict)
    }


def held_databases(params: dict[str, Any]) -> dict[str, dict[str, int]] | None:
    """The keys Redis holds, or None when it does not answer (stopped, or failing to start)."""
    client = make_client(params)
    try:
        replication = client.info("replication")
        if params["primary_only"] and replication.get("role") != "master":
            raise RedisCheckError(
                "replica",
                f"This host is a replica of {replication.get('master_host')}:{replication.get('master_port')}: "
                "restore onto the primary (--limit it); the replicas then copy its data. Nothing was changed.",
            )
        return keyspace(client)
    except redis_exceptions.AuthenticationError as exc:
        raise describe(exc, params) from exc
    except redis_exceptions.ResponseError as exc:
        raise describe(exc, params) from exc
    except redis_exceptions.RedisError:
        return None
    finally:
        client.close()


def check(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"changed": False}
    if os.path.exists(params["file"]) or not check_mode:
        digest, _ = sha256_file(params["file"])
        if digest != params["sha256"]:
            raise RedisCheckError(
                "checksum",
                f"The snapshot copied to this host has SHA-256 {digest}, the backup records "
                f"{params['sha256']}: the copy is damaged. Nothing on the host was changed.",
            )
        described = check_rdb(params["check_command"], params["check_file"] or params["file"], params["file"])
        result["rdb_version"] = described["rdb_version"]
    databases = held_databases(params)
    result["databases"] = databases
    held: bool | None
    if databases is not None:
        keys = sum(db["keys"] for db in databases.values())
        held = keys > 0
        what = f"{keys} keys (" + ", ".join(f"db{db}: {v['keys']}" for db, v in sorted(databases.items())) + ")"
    else:
        files = data_entries(params["data_dir"]) if os.path.isdir(params["data_dir"]) else []
        held = bool(files) or None
        what = f"files in {params['data_dir']} ({', '.join(files)}) and Redis does not answer"
    result["held"] = held
    if held and not params["force"]:
        raise RedisCheckError(
            "holds_data",
            f"This host holds data: {what}. A restore would replace it; rerun with "
            "-e redis_restore_force=true to replace it (the replaced files are kept on the host). "
            "Nothing on the host was changed.",
        )
    return result


def own_like(path: str, reference: os.stat_result) -> None:
    os.chown(path, reference.st_uid, reference.st_gid, follow_symlinks=False)


def swap(params: dict[str, Any]) -> dict[str, Any]:
    data_dir, keep_dir = params["data_dir"], params["keep_dir"]
    owner = os.stat(data_dir)
    moved = data_entries(data_dir)
    os.makedirs(keep_dir, mode=0o700, exist_ok=True)
    os.chmod(keep_dir, 0o700)
    own_like(keep_dir, owner)
    for name in moved:
        os.rename(os.path.join(data_dir, name), os.path.join(keep_dir, name))
    # From here on what is in data_dir is the restore's own: revert may remove it.
    with open(os.path.join(keep_dir, PLACED), "w", encoding="ascii") as handle:
        handle.write("\n".join(moved) + "\n")
    snapshot = params["file"]
    os.chmod(snapshot, 0o640)
    own_like(snapshot, owner)
    os.link(snapshot, os.path.join(data_dir, params["dbfilename"]))
    if params["appendonly"]:
        aof_dir = os.path.join(data_dir, params["appenddirname"])
        os.mkdir(aof_dir, 0o750)
        own_like(aof_dir, owner)
        base = f"{params['appendfilename']}.1.base.rdb"
        os.link(snapshot, os.path.join(aof_dir, base))
        manifest = os.path.join(aof_dir, f"{params['appendfilename']}.manifest")
        with open(manifest, "w", encoding="ascii") as handle:
            handle.write(f"file {base} seq 1 type b\n")
        os.chmod(manifest, 0o640)
        own_like(manifest, owner)
    return {"changed": True, "kept": moved}


def revert(params: dict[str, Any]) -> dict[str, Any]:
    """Undo swap. Only after swap moved everything (its marker) is what data_dir holds the restore's."""
    data_dir, keep_dir = params["data_dir"], params["keep_dir"]
    if not os.path.isdir(keep_dir):
        return {"changed": False, "kept": []}
    if os.path.exists(os.path.join(keep_dir, PLACED)):
        for name in data_entries(data_dir):
            path = os.path.join(data_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        os.unlink(os.path.join(keep_dir, PLACED))
    restored = sorted(os.listdir(keep_dir))
    for name in restored:
        os.rename(os.path.join(keep_dir, name), os.path.join(data_dir, name))
    os.rmdir(keep_dir)
    return {"changed": True, "kept": restored}


def verify(params: dict[str, Any]) -> dict[str, Any]:
    client = make_client(params)
    deadline = time.monotonic() + params["timeout"]
    try:
        while True:
            try:
                databases = keyspace(client)
                break
            except redis_exceptions.BusyLoadingError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
            except redis_exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    except redis_exceptions.RedisError as exc:
        raise describe(exc, params) from exc
    finally:
        client.close()
    expected: dict[str, Any] = params["expected"]
    expired: dict[str, int] = {}
    wrong: list[str] = []
    for db in sorted(set(expected) | set(databases), key=int):
        want = expected.get(db, {"keys": 0, "expires": 0})
        have = databases.get(db, {"keys": 0, "expires": 0})
        missing = int(want["keys"]) - have["keys"]
        if missing == 0:
            continue
        # Fewer keys only where exactly as many keys with a TTL are gone: they expired since the backup.
        if 0 < missing <= int(want["expires"]) and have["expires"] == int(want["expires"]) - missing:
            expired[db] = missing
            continue
        wrong.append(f"db{db}: {have['keys']} keys, the backup holds {want['keys']}")
    if wrong:
        raise RedisCheckError("mismatch", "Redis did not load what the backup holds: " + "; ".join(wrong) + ".")
    return {"changed": False, "databases": databases, "expired": expired}


def run(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    missing = [name for name in REQUIRED.get(params["step"], ()) if not params[name]]
    if missing:
        raise RedisCheckError("error", f"step {params['step']} needs {', '.join(missing)}.")
    if params["step"] == "check":
        return check(params, check_mode)
    if params["step"] == "verify":
        return verify(params)
    if check_mode:
        return {"changed": True, "kept": []}
    return swap(params) if params["step"] == "swap" else revert(params)


def main() -> None:
    argument_spec = connection_argument_spec()
    argument_spec.update(
        step={"type": "str", "required": True, "choices": ["check", "swap", "revert", "verify"]},
        data_dir={"type": "path"},
        file={"type": "path"},
        sha256={"type": "str"},
        check_command={"type": "list", "elements": "str", "default": ["redis-check-rdb"]},
        check_file={"type": "str"},
        force={"type": "bool", "default": False},
        keep_dir={"type": "path"},
        appendonly={"type": "bool", "default": True},
        appenddirname={"type": "str", "default": "appendonlydir"},
        appendfilename={"type": "str", "default": "appendonly.aof"},
        dbfilename={"type": "str", "default": "dump.rdb"},
        expected={"type": "dict", "default": {}},
        timeout={"type": "int", "default": 600},
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
        module.fail_json(
            msg=f"The backup's snapshot cannot be restored on this host: {exc}. Nothing on the host was changed.",
            failure="snapshot",
        )
    except OSError as exc:
        module.fail_json(
            msg=f"Restore step {module.params['step']} failed: {exc.strerror} ({exc.filename})", failure="error"
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
