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

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.redis_files import FILE_OPTIONS, SECRET_FILE_OPTIONS, FileError, write_file

WRITER = "redis_config_files"


def run(module: Any) -> dict[str, Any]:
    results: dict[str, Any] = {}
    diffs: list[dict[str, Any]] = []
    for specs, secret in ((module.params["files"], False), (module.params["secret_files"], True)):
        for spec in specs:
            try:
                result, file_diffs = write_file(module, spec, WRITER, secret)
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
