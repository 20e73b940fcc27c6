#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: bootstrap a Redis Sentinel's configuration once, then keep its settings live."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_sentinel
short_description: Write a Sentinel's first configuration once, then change its settings live
description:
  - Sentinel rewrites its own configuration file with its state (the replicas and sentinels it
    found, the current primary, epochs). Templating that file again would throw the state away or
    point Sentinel back at a primary it already failed over from. This module therefore writes the
    file only while it does not monitor O(master_name) yet (a new host, or the package's sample
    file), and afterwards changes settings on the running Sentinel, which persists them itself.
  - Live, it compares and sets the monitor's settings (C(SENTINEL SET)), Sentinel's own login to
    the other sentinels (C(SENTINEL CONFIG SET sentinel-user/sentinel-pass)) and Sentinel's ACL
    users (C(ACL SETUSER), then C(SENTINEL FLUSHCONFIG)). Where the primary is, is Sentinel's
    business and never touched.
  - The file holds C(auth-pass) and C(sentinel-pass) in plain text (Redis has no hashed form for
    them), so the bootstrap content is a C(no_log) value, never shown in a diff, and current values are
    read from the file only to compare them.
version_added: "1.4.0"
author:
  - redis-provisioning contributors
extends_documentation_fragment:
  - redis_connection
options:
  path:
    description: Sentinel's configuration file. Its directory must exist.
    type: path
    required: true
  bootstrap_content:
    description:
      - The whole file, written only while it does not monitor O(master_name).
      - Without it, a file that does not monitor O(master_name) fails the task (the password
        rotation only changes live settings).
    type: str
  owner:
    description: Owner of a bootstrapped file. Sentinel must be able to rewrite it.
    type: str
    default: redis
  group:
    description: Group of a bootstrapped file.
    type: str
    default: redis
  mode:
    description: Mode of a bootstrapped file.
    type: raw
    default: "0640"
  service:
    description:
      - Systemd unit of this Sentinel. It is stopped before the first write of the file (a running
        Sentinel may flush its own state over it) and left stopped for the role to start.
    type: str
  master_name:
    description: Name of the monitored primary.
    type: str
    required: true
  live:
    description:
      - Compare and set the settings below on the running Sentinel. The role turns it off while the
        file was just written (Sentinel then reads it when it starts).
    type: bool
    default: true
  login_passwords:
    description:
      - Passwords to log in with as O(username), tried in order (a rotation passes the new and the
        old one). Without it, O(password) is used.
    type: list
    elements: str
    default: []
  settings:
    description:
      - Monitor settings to keep, as C(SENTINEL SET) names them (V(quorum), V(down-after-milliseconds),
        V(failover-timeout), V(parallel-syncs), V(auth-user)). Values are compared as text.
    type: dict
    default: {}
  auth_pass:
    description: Password Sentinel logs in to the data nodes with (C(auth-pass)); not managed when left out.
    type: str
  sentinel_user:
    description: User the sentinels log in to each other with (C(sentinel-user)); not managed when left out.
    type: str
  sentinel_pass:
    description: Password of O(sentinel_user) (C(sentinel-pass)); not managed when left out.
    type: str
  users:
    description:
      - Sentinel's ACL users. Each is set with C(ACL SETUSER <name> reset on <passwords> <rules>)
        when its passwords or rules differ.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: User name.
        type: str
        required: true
      rules:
        description: ACL rules (commands, categories, C(allchannels)/C(resetchannels), keys).
        type: str
        required: true
      passwords:
        description: Passwords the user accepts (stored as SHA-256); empty for C(nopass).
        type: list
        elements: str
        default: []
notes:
  - Supports check mode and diff mode (the diff never shows the file's content).
  - A Sentinel that does not run (stopped, or not started yet) is left for the service task to
    start; its settings are compared on the next run (RV(running) is then false).
seealso:
  - module: redis_replication
  - name: Redis Sentinel
    link: https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/
"""

EXAMPLES = r"""
- name: Bootstrap Sentinel once, then keep its settings
  redis_sentinel:
    path: /etc/redis/sentinel.conf
    bootstrap_content: "{{ lookup('ansible.builtin.template', 'sentinel.conf.j2') }}"
    master_name: hsi
    port: 26379
    username: sentinel
    password: "{{ redis_sentinel_password }}"
    settings: {quorum: "2", down-after-milliseconds: "1000"}
    auth_pass: "{{ redis_sentinel_password }}"
  no_log: true
"""

RETURN = r"""
bootstrapped:
  description: Whether the file was written (or would be, in check mode).
  returned: success
  type: bool
  sample: false
running:
  description: Whether the live settings could be compared (the Sentinel answered).
  returned: success
  type: bool
  sample: true
changes:
  description: What was set live (names only, never values).
  returned: success
  type: list
  elements: str
  sample: [down-after-milliseconds, user default]
failure:
  description: On failure, which troubleshooting case applies (see M(redis_auth_ping)).
  returned: failure
  type: str
  sample: wrongpass
"""

import hashlib
import re
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
from ansible.module_utils.redis_files import FileError, read_existing, write_file

if HAS_REDIS:
    from redis import exceptions as redis_exceptions

WRITER = "redis_sentinel"


def file_values(text: str, master_name: str) -> dict[str, str]:
    """auth-user, auth-pass, sentinel-user and sentinel-pass as the file holds them."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if (
            len(words) == 4
            and words[0] == "sentinel"
            and words[1] in ("auth-user", "auth-pass")
            and words[2] == master_name
        ):
            values[words[1]] = words[3]
        elif len(words) == 3 and words[0] == "sentinel" and words[1] in ("sentinel-user", "sentinel-pass"):
            values[words[1]] = words[2]
    return values


def expected_acl(rules: str) -> dict[str, list[str]]:
    """The parts of ACL GETUSER (as redis-py returns them) that the rules decide."""
    words = rules.split()
    return {
        "categories": [w for w in words if w[:2] in ("+@", "-@")],
        "commands": [w for w in words if w[:1] in "+-" and w[:2] not in ("+@", "-@")],
        "keys": ["~*"] if "allkeys" in words or "~*" in words else [w for w in words if w.startswith("~")],
        "channels": ["&*"] if "allchannels" in words else [w for w in words if w.startswith("&")],
    }


def sha256_hex(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


PROBE_USER = "redis-provisioning-probe"
ACL_PARTS = ("categories", "commands", "keys", "channels")


def rules_differ(client: Any, current: dict[str, Any], rules: str) -> bool:
    """Whether the user's permissions differ from the rules.

    Redis 7.2+ reports the rules as they were given; Redis 7.0 rewrites them (`+ping +hello ...` comes
    back as `+@fast -publish ...`). Only where the text differs, a short-lived probe user with the same
    rules shows how this Redis describes them (never persisted: no FLUSHCONFIG, deleted at once)."""
    wanted = expected_acl(rules)
    if all([str(x) for x in current.get(part, [])] == wanted[part] for part in ACL_PARTS):
        return False
    client.execute_command("ACL", "SETUSER", PROBE_USER, "reset", *rules.split())
    try:
        probe = client.acl_getuser(PROBE_USER) or {}
    finally:
        client.execute_command("ACL", "DELUSER", PROBE_USER)
    # Redis 7.0 lists the commands it derived in no fixed order.
    return any(sorted(map(str, current.get(part, []))) != sorted(map(str, probe.get(part, []))) for part in ACL_PARTS)


def user_differs(client: Any, current: dict[str, Any] | None, spec: dict[str, Any]) -> bool:
    if not current or rules_differ(client, current, spec["rules"]):
        return True
    flags = [str(flag) for flag in current.get("flags", [])]
    if "on" not in flags:
        return True
    if not spec["passwords"]:
        return "nopass" not in flags
    return "nopass" in flags or {str(h) for h in current.get("passwords", [])} != {
        sha256_hex(p) for p in spec["passwords"]
    }


def reconcile(params: dict[str, Any], text: str, check_mode: bool) -> list[str] | None:
    """What differs (and, outside check mode, was set); None when the Sentinel does not answer."""
    name = params["master_name"]
    in_file = file_values(text, name)
    try:
        client, _ = login(params, params["login_passwords"] or [params.get("password")], "Sentinel")
    except RedisCheckError as exc:
        if exc.kind in ("connection_refused", "timeout"):
            return None
        raise
    changes: list[str] = []
    try:
        reply = with_retries(lambda: client.execute_command("SENTINEL", "MASTER", name), 0, 0.0, params)
        master = dict(zip(reply[::2], reply[1::2], strict=True)) if isinstance(reply, list) else dict(reply)
        to_set: list[str] = []
        for option, value in sorted(params["settings"].items()):
            current = in_file.get(option) if option == "auth-user" else master.get(option)
            if str(current) != str(value):
                to_set += [option, str(value)]
                changes.append(option)
        if params.get("auth_pass") is not None and in_file.get("auth-pass") != params["auth_pass"]:
            to_set += ["auth-pass", params["auth_pass"]]
            changes.append("auth-pass")
        own = [
            (option, params[key])
            for option, key in (("sentinel-user", "sentinel_user"), ("sentinel-pass", "sentinel_pass"))
            if params.get(key) is not None and in_file.get(option, "") != params[key]
        ]
        changes += [option for option, _ in own]
        users = [spec for spec in params["users"] if user_differs(client, client.acl_getuser(spec["name"]), spec)]
        changes += [f"user {spec['name']}" for spec in users]
        if check_mode:
            return changes
        if to_set:
            client.execute_command("SENTINEL", "SET", name, *to_set)
        for option, value in own:
            client.execute_command("SENTINEL", "CONFIG", "SET", option, value)
        for spec in users:
            secrets = [f"#{sha256_hex(p)}" for p in spec["passwords"]] or ["nopass"]
            client.execute_command("ACL", "SETUSER", spec["name"], "reset", "on", *secrets, *spec["rules"].split())
        if users:
            client.execute_command("SENTINEL", "FLUSHCONFIG")
    except RedisCheckError:
        raise
    except redis_exceptions.RedisError as exc:  # Ansible masks the no_log values sent, should Redis echo one
        raise RedisCheckError(
            "error", f"Sentinel at {endpoint(params)} refused a change: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        client.close()
    return changes


def run(module: Any) -> dict[str, Any]:
    params = module.params
    text, _ = read_existing(params["path"])
    monitors = text is not None and re.search(rf"^sentinel monitor {re.escape(params['master_name'])} ", text, re.M)
    if not monitors and params["bootstrap_content"] is None:
        raise FileError(f"Sentinel does not monitor {params['master_name']} yet; run the role (site.yml) first")
    if not monitors:
        if params["service"] and not module.check_mode:
            rc, _, err = module.run_command(["systemctl", "stop", params["service"]])
            if rc != 0:
                raise FileError(f"could not stop {params['service']} before writing its file: {err.strip()}")
        spec = {key: params[key] for key in ("path", "owner", "group", "mode")}
        _, diffs = write_file(module, dict(spec, content=params["bootstrap_content"]), WRITER, secret=True)
        output: dict[str, Any] = {"changed": True, "bootstrapped": True, "running": False, "changes": ["bootstrap"]}
        if module._diff:
            output["diff"] = diffs
        return output
    if params["live"] and not HAS_REDIS:
        # Only here: the first write needs no redis-py (in check mode on a new host it is not installed yet).
        module.fail_json(msg=missing_required_lib("redis (Debian: python3-redis)"), exception=REDIS_IMPORT_ERROR)
    changes = reconcile(params, text or "", module.check_mode) if params["live"] else []
    return {"changed": bool(changes), "bootstrapped": False, "running": changes is not None, "changes": changes or []}


def main() -> None:
    argument_spec = connection_argument_spec()
    argument_spec.update(
        path={"type": "path", "required": True},
        bootstrap_content={"type": "str", "no_log": True},
        owner={"type": "str", "default": "redis"},
        group={"type": "str", "default": "redis"},
        mode={"type": "raw", "default": "0640"},
        service={"type": "str"},
        master_name={"type": "str", "required": True},
        live={"type": "bool", "default": True},
        login_passwords={"type": "list", "elements": "str", "default": [], "no_log": True},
        settings={"type": "dict", "default": {}},
        auth_pass={"type": "str", "no_log": True},
        sentinel_user={"type": "str"},
        sentinel_pass={"type": "str", "no_log": True},
        users={
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "name": {"type": "str", "required": True},
                "rules": {"type": "str", "required": True},
                "passwords": {"type": "list", "elements": "str", "default": [], "no_log": True},
            },
        },
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        result = run(module)
    except RedisCheckError as exc:
        module.fail_json(msg=str(exc), failure=exc.kind)
    except (FileError, OSError) as exc:
        module.fail_json(msg=f"{module.params['path']}: {exc}", failure="error")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
