# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the redis_vault_set action plugin (it runs on the controller, no module code)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_vault_set
short_description: Set variables in an Ansible Vault encrypted YAML file on the controller
description:
  - >-
    Decrypts a vault file with the vault password the run was started with, sets the given
    top-level variables and encrypts the file again with the same vault id. Comments and the
    other variables stay as they were; the file is replaced atomically and keeps its mode.
  - >-
    Also edits a plain YAML or JSON file whose secrets are inline vault values (the layout
    C(ansible-vault encrypt_string) writes); each value set is encrypted with the vault id of the
    value it replaces, a new key with the run's encrypt vault id. A key held there in plain text is refused.
  - >-
    The file is edited as text, not re-emitted from parsed data, so everything but the values set
    stays byte for byte as it was. How depends on the layout of the document.
  - >-
    A block-style YAML mapping (C(key: value) lines, with or without C(---) and C(...), keys plain or
    quoted) keeps that layout. The lines of the key's entry are replaced by C(key: "value") (a
    double-quoted ASCII string) or C(key: !vault |) and the ciphertext; a comment after a one-line
    value stays. A new key becomes the last entry, before a closing C(...).
  - >-
    A flow-style mapping (C({key: value, ...})) or a JSON object keeps that layout and is not converted
    to block style. The key's value is replaced in place, a new key is added after the last entry (on
    its own line, indented the same, when the entries are one a line). Values are written as JSON
    strings that YAML reads the same way, so a JSON file stays valid JSON. An inline vault value is
    C(!vault "ciphertext") in a YAML flow mapping (a C(!vault |) block scalar cannot stand in a flow
    mapping) and C({"__ansible_vault": "ciphertext"}) in a JSON file, which is how Ansible reads
    encrypted values from JSON.
  - >-
    An empty document, or one holding only C(~) or C(null), gets block-style entries.
  - >-
    Refused before anything is written, with a message that names the layout or what was found - a
    document that is not a mapping (a list, a string, ...), several YAML documents, a key to set that is
    present more than once, a key that does not start its own line (C(? key)), a file that is not valid
    YAML. Messages give line numbers only, never the file's text.
  - >-
    After the edit the result is read back as Ansible reads it (JSON first, then YAML; inline vault values
    decrypted) and, for an encrypted file, also as YAML; unless the given keys hold exactly the new values
    and every other variable is unchanged, nothing is written. The encrypted bytes are decrypted and the
    temporary file read back before it replaces the file.
  - >-
    The password rotation uses it to store the pending new password before any host changes,
    and to leave the inventory's vault holding the new password at the end.
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
