# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the redis_vault_set action plugin (it runs on the controller, no module code)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_vault_set
short_description: Set variables in an Ansible Vault encrypted YAML file on the controller
description:
  - Decrypts a vault file with the vault password the run was started with, sets the given
    top-level variables and encrypts the file again with the same vault id. Comments and the
    other variables stay as they were; the file is replaced atomically and keeps its mode.
  - The password rotation uses it to store the pending new password before any host changes,
    and to leave the inventory's vault holding the new password at the end.
  - Refuses a file that is not vault encrypted, and a layout it cannot edit line by line.
version_added: "1.1.0"
author:
  - redis-provisioning contributors
options:
  path:
    description: The vault file on the controller.
    type: path
    required: true
  values:
    description: Top-level variables to set, as strings. Use C(no_log) on the task.
    type: dict
    required: true
  create:
    description: Create the file (mode 0600, the run's encrypt vault id) when it does not exist.
    type: bool
    default: false
notes:
  - Runs on the controller whatever the task's host is; supports check mode (nothing is written).
  - Never returns the values it wrote.
"""

EXAMPLES = r"""
- name: Store the new password in the inventory's vault
  redis_vault_set:
    path: inventory/production/group_vars/redis/vault.yml
    values:
      vault_redis_password: "{{ redis_rotation_password }}"
  no_log: true
  run_once: true
"""

RETURN = r"""
path:
  description: Absolute path of the file.
  returned: always
  type: str
keys:
  description: Names of the variables set.
  returned: always
  type: list
  elements: str
"""
