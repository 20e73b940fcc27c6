# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the redis_backup_archive action plugin (it runs on the controller, no module code)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_backup_archive
short_description: Keep Redis backups on the controller - private folders, Vault encryption, manifest, checks
description:
  - >-
    The controller side of the role's backups. A backup is the folder
    O(backup_dir)/O(host)/<UTC time of the snapshot>, mode C(0700), holding C(manifest.json) and the
    snapshot, both C(0600). The snapshot is C(dump.rdb.vault), encrypted with Ansible Vault (the
    run's vault id, so C(ansible-vault view) and C(ansible-vault decrypt) read it), or C(dump.rdb)
    without O(encrypt).
  - >-
    V(prepare) runs before the host is touched. It refuses O(encrypt) without a loaded vault password and
    creates the private folders, with an empty C(.incoming) folder for the fetched snapshot.
  - >-
    V(store) compares the fetched snapshot with the SHA-256 and size measured on the host, encrypts
    it, writes the manifest (what O(manifest) holds, plus each file's name, size, SHA-256, and the
    SHA-256 of the content before encryption), removes the plain copy and then removes the host's
    oldest complete backups beyond O(keep). A folder without a manifest is incomplete and never counts.
  - >-
    V(verify) reads the manifest of the backup O(path) and proves every file whole (size and SHA-256)
    before a restore touches a host.
version_added: "1.5.0"
author:
  - redis-provisioning contributors
options:
  step:
    description: What to do.
    type: str
    required: true
    choices: [prepare, store, verify]
  backup_dir:
    description: Controller folder of all backups (V(prepare), V(store)).
    type: path
  host:
    description: Inventory name of the host backed up (V(prepare), V(store)).
    type: str
  encrypt:
    description: Encrypt the snapshot with the loaded vault password (V(prepare), V(store)).
    type: bool
    default: true
  keep:
    description: Complete backups to keep for the host (V(store)).
    type: int
    default: 7
  src:
    description: The fetched snapshot (V(store)); its folder is removed afterwards.
    type: path
  manifest:
    description: >-
      What the manifest records about the snapshot (V(store)); C(sha256) and C(size) are those measured
      on the host.
    type: dict
  path:
    description: The backup folder to check (V(verify)).
    type: path
notes:
  - Runs on the controller whatever the task's host is. In check mode V(prepare) and V(store) write nothing.
  - >-
    Vault holds the whole snapshot in memory while it encrypts: the controller needs about six times the
    snapshot's size in free memory.
"""

EXAMPLES = r"""
- name: Check a backup before a restore
  redis_backup_archive:
    step: verify
    path: backups/redis1/20261205T101500Z
  register: backup
"""

RETURN = r"""
incoming:
  description: Folder for the fetched snapshot (V(prepare)).
  returned: prepare
  type: str
path:
  description: The new backup folder (V(store)).
  returned: store
  type: str
pruned:
  description: Names of the older backups removed (V(store)).
  returned: store
  type: list
  elements: str
manifest:
  description: The backup's manifest (V(verify)).
  returned: verify
  type: dict
file:
  description: The backup's snapshot file (V(verify)).
  returned: verify
  type: str
"""
