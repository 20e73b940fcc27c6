#!/usr/bin/python
# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: write several configuration files in one call, each replaced atomically."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_config_files
short_description: Write several configuration files in one call, each replaced atomically
description:
  - Compares each file's content, owner, group and mode with what is wanted and writes only the
    files that differ, in one module run (the role's C(redis.conf), ACL file and kernel-tuning files
    would otherwise cost two remote runs each through M(ansible.builtin.template)).
  - A file is replaced atomically, so that Redis, a reader or a crash finds the old file or the
    new one, never a mix. The temporary file is created private (C(0600)) in the same directory,
    written, given its owner and mode, fsynced and renamed over the file; then the directory is
    fsynced. On SELinux hosts the new file keeps the context of the one it replaces.
  - Render the content on the controller, for example with
    C(lookup('ansible.builtin.template', 'redis.conf.j2')).
version_added: "1.3.0"
author:
  - redis-provisioning contributors
options:
  files:
    description: Files whose content may be shown in a diff.
    type: list
    elements: dict
    default: []
    suboptions: &file_options
      path:
        description: Where the file goes. Its directory must exist (in check mode it may not yet).
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
  secret_files:
    description:
      - Files whose content must never be shown (for example an ACL file with password hashes).
        Their content is a C(no_log) value, and the diff only says that the content changed.
    type: list
    elements: dict
    default: []
    suboptions: *file_options
notes:
  - Supports check mode; it then reports what would change and writes nothing.
  - Supports diff mode; one diff per changed file, content and attributes apart.
  - The files are independent. When writing one fails, those before it stay written (each one
    atomically) and the task fails with the path.
"""

EXAMPLES = r"""
- name: Write the ACL file and redis.conf
  redis_config_files:
    files:
      - path: /etc/redis/redis.conf
        content: "{{ lookup('ansible.builtin.template', 'redis.conf.j2') }}"
        group: redis
        mode: "0640"
    secret_files:
      - path: /etc/redis/users.acl
        content: "{{ lookup('ansible.builtin.template', 'users.acl.j2') }}"
        group: redis
        mode: "0640"
  register: written

- name: Restart Redis when its files changed
  ansible.builtin.debug:
    msg: restart
  when: written.changed_paths | length > 0
"""

RETURN = r"""
changed_paths:
  description: The files that were (in check mode, would be) written or given new attributes.
  returned: always
  type: list
  elements: str
  sample: [/etc/redis/redis.conf]
files:
  description: Per file, what changed.
  returned: always
  type: dict
  sample:
    /etc/redis/redis.conf: {changed: true, created: false, content_changed: true, attributes_changed: false}
"""

import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
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

WRITER = "redis_config_files"
HIDDEN = "(secret content, not shown)\n"

FILE_OPTIONS: dict[str, Any] = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "required": True, "no_log": False},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "mode": {"type": "raw", "required": True},
}
SECRET_FILE_OPTIONS: dict[str, Any] = {**FILE_OPTIONS, "content": {"type": "str", "required": True, "no_log": True}}


def write_file(module: Any, spec: dict[str, Any], secret: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Write one file if it differs; its result and its diffs."""
    path = os.path.realpath(spec["path"])
    mode = parse_mode(spec["mode"])
    directory = os.path.dirname(path)
    present = os.path.isdir(directory)
    if not present and not module.check_mode:
        raise FileError(f"the directory {directory} of {spec['path']} does not exist")
    # In check mode on a new host, the package that brings the directory (and the user) is not
    # installed yet: the file would be created.
    uid = resolve_user(spec["owner"]) if present else -1
    gid = resolve_group(spec["group"]) if present else -1
    old_text, info = read_existing(path) if present else (None, None)
    new_text = spec["content"]
    created = info is None
    content_changed = new_text != old_text
    attributes_changed = attributes_differ(info, uid, gid, mode)
    result = {
        "changed": created or content_changed or attributes_changed,
        "created": created,
        "content_changed": content_changed,
        "attributes_changed": attributes_changed,
    }
    diffs: list[dict[str, Any]] = []
    if content_changed:
        before = "" if old_text is None else (HIDDEN if secret else printable(old_text))
        diffs.append(
            {
                "before_header": f"{path} (absent)" if created else path,
                "after_header": path,
                "before": before,
                "after": HIDDEN if secret else new_text,
            }
        )
    if attributes_changed and info is not None:
        diffs.append(attributes_diff(path, info, uid, gid, mode))
    if not module.check_mode:
        removed = remove_stale_temp_files(path, WRITER)
        result["changed"] = result["changed"] or bool(removed)
        if result["changed"]:
            data = new_text.encode("utf-8", errors="surrogateescape")
            write_atomic(path, data, uid, gid, mode, WRITER, selinux_hook(module, path))
    return result, diffs


def run(module: Any) -> dict[str, Any]:
    results: dict[str, Any] = {}
    diffs: list[dict[str, Any]] = []
    for specs, secret in ((module.params["files"], False), (module.params["secret_files"], True)):
        for spec in specs:
            try:
                result, file_diffs = write_file(module, spec, secret)
            except (FileError, OSError) as exc:
                raise FileError(f"{spec['path']}: {exc}") from exc
            results[spec["path"]] = result
            diffs.extend(file_diffs)
    changed_paths = [path for path, result in results.items() if result["changed"]]
    output: dict[str, Any] = {"changed": bool(changed_paths), "changed_paths": changed_paths, "files": results}
    if module._diff:
        output["diff"] = diffs
    return output


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "default": [], "options": FILE_OPTIONS},
            "secret_files": {"type": "list", "elements": "dict", "default": [], "options": SECRET_FILE_OPTIONS},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except FileError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
