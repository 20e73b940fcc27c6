#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: set keys of a client env file (.env) in one atomic write."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_env_file
short_description: Set the Redis keys of a client env file in one atomic write
description:
  - Sets every given key of an env file (the HSI backend's C(.env)) in one step and replaces the
    file atomically, so that a reader, a crash or a killed run finds either the old file or the
    new one, never a mix.
  - The file is read the way python-dotenv reads it. The first definition of a key is replaced in
    place (an C(export) in front of it stays); later definitions of the same key are removed,
    since they would win. Keys the file does not define yet are appended, O(settings) first, then
    O(secrets), each in the given order. Every other line (comments, blank lines, other keys,
    line endings) stays byte for byte.
  - Values of O(secrets) are always written in single quotes so that python-dotenv reads them
    back byte for byte (the role's C(redis_dotenv_quote) filter; C(${) is written as C(${:-$}{)).
    Values of O(settings) are written bare, as C(KEY=value), unless python-dotenv would read the
    bare value differently; then they are quoted the same way.
  - The new file is written to a temporary file in the same directory that is created with mode
    C(0600), given O(owner), O(group) and O(mode), fsynced and renamed over the file; then the
    directory is fsynced. The secrets are never in a file with wider permissions than O(mode).
    Temporary files that an interrupted run left behind are removed by the next run.
  - A missing file is created. Its directory must exist.
version_added: "1.2.0"
author:
  - redis-provisioning contributors
options:
  path:
    description:
      - The env file. A symlink is followed; the file it points to is replaced and the link stays.
    type: path
    required: true
  owner:
    description: User (name or numeric ID) that owns the file afterwards.
    type: str
    default: root
  group:
    description: Group (name or numeric ID) of the file afterwards.
    type: str
    default: root
  mode:
    description:
      - Permissions of the file afterwards, in octal, such as V("0600"). Quote it in YAML.
      - A mode that lets other users read the file draws a warning when O(secrets) sets a value.
    type: raw
    default: "0600"
  settings:
    description:
      - Keys to set, each with its value (a string). V(null) removes every definition of the key.
      - Their values show in the diff. Keys must be names such as C(REDIS_URL) (letters, digits,
        underscores; no digit first); values must be on one line.
    type: dict
    default: {}
  secrets:
    description:
      - Like O(settings), for values that must not be shown, such as C(REDIS_PASSWORD).
      - Never shown in output, in logs or in the diff (C(no_log)), always written quoted.
      - A key must not be in both O(settings) and O(secrets).
    type: dict
    default: {}
  keep_if_one_of:
    description:
      - Keys of O(settings) to leave as they are when the file already gives them one of these values,
        for example C(REDIS_URL) when it names any node of a replicated group (after a failover the
        file is not rewritten behind the clients; a sentinel-aware client does not read it).
    type: dict
    default: {}
notes:
  - Supports check mode; it then reports what would change and changes nothing.
  - Supports diff mode. The diff shows the values of O(settings) only; every other value in the
    file (O(secrets), and keys the module does not manage, which may hold other credentials) is
    shown as C(********), and a changed secret as C(******** # new value (not shown)).
  - Changes to O(owner), O(group) and O(mode) alone also replace the file (same content).
  - Two runs that write the same file at the same time are not supported; the last rename wins.
  - A hard link to the file keeps the old content, since the file is replaced by a new one.
seealso:
  - name: python-dotenv file format
    description: How python-dotenv reads the file (quoting, C(export), variable expansion).
    link: https://saurabh-kumar.com/python-dotenv/#file-format
"""

EXAMPLES = r"""
- name: Set the Redis settings of the HSI backend in one write
  redis_env_file:
    path: /srv/hsi/backend/.env
    owner: hsi
    group: hsi
    mode: "0600"
    settings:
      REDIS_URL: redis://127.0.0.1:6379/0
      REDIS_SSL_ENABLED: "false"
      REDIS_SSL_CA_CERTS: null
    secrets:
      REDIS_PASSWORD: "{{ redis_password }}"

- name: Write the new password during a rotation
  redis_env_file:
    path: "{{ item.path }}"
    owner: "{{ item.owner }}"
    group: "{{ item.group }}"
    secrets:
      REDIS_PASSWORD: "{{ redis_rotation_password }}"
  loop: "{{ redis_env_files }}"
  loop_control:
    label: "{{ item.path }}"
"""

RETURN = r"""
path:
  description: The file written (a symlink resolved), or that would be in check mode.
  returned: success
  type: str
  sample: /srv/hsi/backend/.env
created:
  description: Whether the file did not exist before (and was, or would be, created).
  returned: success
  type: bool
  sample: false
changed_keys:
  description:
    - Keys of O(settings) and O(secrets) whose definitions were (or would be) added, changed or
      removed, in the order given. Names only, never values.
  returned: success
  type: list
  elements: str
  sample: [REDIS_PASSWORD]
attributes_changed:
  description: Whether the owner, group or mode of an existing file was (or would be) changed.
  returned: success
  type: bool
  sample: false
uid:
  description: Owner of the file afterwards (in check mode, as it is now); Ansible adds it to a result with a path.
  returned: success, when the file exists
  type: int
  sample: 1001
gid:
  description: Group of the file afterwards (in check mode, as it is now).
  returned: success, when the file exists
  type: int
  sample: 1001
owner:
  description: User name of the file's owner afterwards (in check mode, as it is now).
  returned: success, when the file exists
  type: str
  sample: hsi
group:
  description: Group name of the file afterwards (in check mode, as it is now).
  returned: success, when the file exists
  type: str
  sample: hsi
mode:
  description: Permissions of the file afterwards, in octal (in check mode, as they are now).
  returned: success, when the file exists
  type: str
  sample: "0600"
size:
  description: Size of the file in bytes afterwards (in check mode, as it is now).
  returned: success, when the file exists
  type: int
  sample: 212
state:
  description: V(file) when the file exists.
  returned: success, when the file exists
  type: str
  sample: file
removed_temp_files:
  description:
    - Temporary files of an interrupted earlier run that were removed; removing one is a change.
    - Always empty in check mode (they are only looked for when the module writes).
  returned: success
  type: list
  elements: str
  sample: [/srv/hsi/backend/..env.redis_env_file.0c1f3b5e9a7d2468.tmp]
"""

import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.redis_dotenv import KEY_RE, Edit, EditError, masked_text, parse, set_keys, value_problem
from ansible.module_utils.redis_files import (
    FileError,
    attributes_diff,
    attributes_differ,
    parse_mode,
    printable,
    read_existing,
    remove_stale_temp_files,
    resolve_group,
    resolve_user,
    selinux_hook,
    write_atomic,
)

WRITER = "redis_env_file"


class EnvFileError(Exception):
    pass


def wanted_values(settings: dict[str, Any], secrets: dict[str, Any]) -> dict[str, str | None]:
    """settings and then secrets as one mapping, checked; error messages never hold a value."""
    both = sorted(set(settings) & set(secrets))
    if both:
        raise EnvFileError(f"keys must not be in both settings and secrets: {', '.join(both)}")
    wanted: dict[str, str | None] = {}
    for option, values in (("settings", settings), ("secrets", secrets)):
        for key, value in values.items():
            if not isinstance(key, str) or not KEY_RE.match(key):
                raise EnvFileError(
                    f"{option}: {key!r} is not an env variable name (letters, digits and underscores, no digit first)"
                )
            problem = None if value is None else value_problem(value)
            if problem:
                raise EnvFileError(f"{option}.{key} {problem}")
            wanted[key] = value
    return wanted


def run(module: Any) -> dict[str, Any]:
    params = module.params
    settings: dict[str, Any] = dict(params["settings"] or {})
    secrets: dict[str, Any] = params["secrets"] or {}
    mode = parse_mode(params["mode"])
    uid = resolve_user(params["owner"])
    gid = resolve_group(params["group"])

    path = os.path.realpath(params["path"])
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise EnvFileError(f"the directory {directory} of {params['path']} does not exist")
    old_text, info = read_existing(path)
    current = {segment.key: segment.value for segment in parse(old_text or "") if segment.key}
    for key, allowed in (params["keep_if_one_of"] or {}).items():
        if key in settings and current.get(key) in [str(value) for value in allowed or []]:
            del settings[key]
    wanted = wanted_values(settings, secrets)
    edit: Edit = set_keys(old_text or "", wanted, quoted=secrets)
    new_text = edit.text
    created = info is None
    attributes_changed = attributes_differ(info, uid, gid, mode)
    changed = created or attributes_changed or new_text != old_text

    if mode & 0o004 and any(value is not None for value in secrets.values()):
        module.warn(f"mode {mode:04o} lets every user of the host read the secrets in {path}; use 0600 or 0640")

    result: dict[str, Any] = {
        "changed": changed,
        "path": path,
        "created": created,
        "changed_keys": edit.changed_keys,
        "attributes_changed": attributes_changed,
        "removed_temp_files": [],
    }
    if module._diff:
        hidden = [value for value in secrets.values() if value is not None]
        hidden += [s.value for s in edit.before if s.key in secrets and s.value]
        diffs: list[dict[str, Any]] = []
        if new_text != old_text or created:
            diffs.append(
                {
                    "before_header": path if not created else f"{path} (absent)",
                    "after_header": path,
                    "before": printable(masked_text(edit.before, settings, hidden)),
                    "after": printable(masked_text(edit.after, settings, hidden)),
                }
            )
        if attributes_changed and info is not None:
            diffs.append(attributes_diff(path, info, uid, gid, mode))
        result["diff"] = diffs

    if module.check_mode:
        return result
    result["removed_temp_files"] = remove_stale_temp_files(path, WRITER)
    result["changed"] = changed or bool(result["removed_temp_files"])
    if changed:
        data = new_text.encode("utf-8", errors="surrogateescape")
        write_atomic(path, data, uid, gid, mode, WRITER, selinux_hook(module, path))
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "owner": {"type": "str", "default": "root"},
            "group": {"type": "str", "default": "root"},
            "mode": {"type": "raw", "default": "0600"},
            "settings": {"type": "dict", "default": {}, "no_log": False},
            "secrets": {"type": "dict", "default": {}, "no_log": True},
            "keep_if_one_of": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except (EnvFileError, FileError, EditError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
