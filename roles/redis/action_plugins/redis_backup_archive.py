# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin: the controller side of the role's backups (folders, Vault encryption, manifest, checks).

Layout: <backup_dir>/<host>/<UTC time>/ holds manifest.json and the snapshot, either dump.rdb.vault
(Ansible Vault, the run's vault id: `ansible-vault decrypt` gives the RDB file back) or dump.rdb.
Folders are 0700, files 0600. A backup folder without manifest.json is incomplete and never counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.parsing.vault import VaultLib, VaultSecretsContext, match_encrypt_secret
from ansible.plugins.action import ActionBase

MANIFEST = "manifest.json"
FORMAT = 1
INCOMING = ".incoming"
CHUNK = 1 << 20


def sha256_file(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def private_dirs(path: str) -> None:
    """Create path and its missing parents 0700; an existing folder is made 0700 too."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def write_private(path: str, data: bytes) -> None:
    """Write a 0600 file atomically (a reader never sees half of it)."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def complete_backups(host_dir: str) -> list[str]:
    """The host's complete backups, oldest first (folder names are UTC times, so they sort)."""
    if not os.path.isdir(host_dir):
        return []
    names = [
        n for n in os.listdir(host_dir) if not n.startswith(".") and os.path.isfile(os.path.join(host_dir, n, MANIFEST))
    ]
    return [os.path.join(host_dir, n) for n in sorted(names)]


class ActionModule(ActionBase):  # type: ignore[misc]  # ansible ships no type information
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("step", "backup_dir", "host", "encrypt", "keep", "src", "manifest", "path"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        args = self._task.args
        step = args.get("step")
        if step == "prepare":
            result.update(self.prepare(args))
        elif step == "store":
            result.update(self.store(args))
        elif step == "verify":
            result.update(self.verify(args))
        else:
            raise AnsibleActionFail("redis_backup_archive: step must be prepare, store or verify.")
        return result

    @staticmethod
    def vault() -> tuple[VaultLib, Any, str | None]:
        context = VaultSecretsContext.current(optional=True)
        secrets = context.secrets if context else []
        match = match_encrypt_secret(secrets) if secrets else None
        if not match:
            raise AnsibleActionFail(
                "redis_backup_encrypt is on but no vault password is loaded. Run with --vault-password-file, "
                "--vault-id or --ask-vault-pass (the inventory's), or set redis_backup_encrypt: false."
            )
        vault_id, secret = match
        return VaultLib(secrets), secret, (None if vault_id == "default" else vault_id)

    def host_dir(self, args: dict[str, Any]) -> str:
        backup_dir, host = args.get("backup_dir"), args.get("host")
        if not backup_dir or not host or "/" in str(host) or str(host).startswith("."):
            raise AnsibleActionFail("redis_backup_archive needs backup_dir and a host name without '/'.")
        return os.path.join(os.path.abspath(os.path.expanduser(str(backup_dir))), str(host))

    def prepare(self, args: dict[str, Any]) -> dict[str, Any]:
        """Before the host is touched: the folders can be made private and, if needed, a vault password is loaded."""
        if bool(args.get("encrypt", True)):
            self.vault()
        host_dir = self.host_dir(args)
        incoming = os.path.join(host_dir, INCOMING)
        if not self._task.check_mode:
            try:
                private_dirs(os.path.dirname(host_dir))
                private_dirs(host_dir)
                shutil.rmtree(incoming, ignore_errors=True)
                private_dirs(incoming)
            except OSError as exc:
                raise AnsibleActionFail(f"Cannot create the backup folder {host_dir}: {exc.strerror}.") from None
        return {"changed": False, "incoming": incoming, "backups": len(complete_backups(host_dir))}

    def store(self, args: dict[str, Any]) -> dict[str, Any]:
        """Encrypt (or keep) the fetched snapshot, write the manifest, prune beyond keep."""
        manifest = dict(args.get("manifest") or {})
        src = str(args.get("src") or "")
        keep = int(args.get("keep", 7))
        encrypt = bool(args.get("encrypt", True))
        host_dir = self.host_dir(args)
        if self._task.check_mode:
            return {"changed": True}
        digest, size = sha256_file(src)
        if digest != manifest.get("sha256") or size != manifest.get("size"):
            raise AnsibleActionFail(
                "The snapshot fetched to the controller differs from the one checked on the host "
                f"(SHA-256 {digest}, {size} bytes); nothing was stored."
            )
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(manifest.get("created") or time.time()))
        folder = os.path.join(host_dir, stamp)
        suffix = 1
        while os.path.exists(folder):
            suffix += 1
            folder = os.path.join(host_dir, f"{stamp}-{suffix}")
        private_dirs(folder)
        try:
            if encrypt:
                vault, secret, vault_id = self.vault()
                with open(src, "rb") as handle:
                    b_out = vault.encrypt(handle.read(), secret=secret, vault_id=vault_id)
                name = "dump.rdb.vault"
                write_private(os.path.join(folder, name), b_out)
                del b_out
            else:
                name = "dump.rdb"
                os.chmod(src, 0o600)
                os.rename(src, os.path.join(folder, name))
            stored_digest, stored_size = sha256_file(os.path.join(folder, name))
            manifest.pop("sha256", None)
            manifest.pop("size", None)
            manifest.update(
                format=FORMAT,
                files=[
                    {
                        "name": name,
                        "sha256": stored_digest,
                        "size": stored_size,
                        "encrypted": encrypt,
                        "content": "rdb",
                        "content_sha256": digest,
                        "content_size": size,
                    }
                ],
            )
            write_private(
                os.path.join(folder, MANIFEST), (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(os.path.dirname(src), ignore_errors=True)
        pruned = []
        for old in complete_backups(host_dir)[: max(0, len(complete_backups(host_dir)) - keep)]:
            shutil.rmtree(old)
            pruned.append(os.path.basename(old))
        return {"changed": True, "path": folder, "pruned": pruned}

    def verify(self, args: dict[str, Any]) -> dict[str, Any]:
        """Read a backup's manifest and prove every file is whole, before any host is touched."""
        path = os.path.abspath(os.path.expanduser(str(args.get("path") or "")))
        manifest_path = os.path.join(path, MANIFEST)
        if not args.get("path") or not os.path.isfile(manifest_path):
            raise AnsibleActionFail(
                f"{path} is not a backup folder (no {MANIFEST}); redis_restore_from names a folder that "
                "playbooks/backup.yml wrote, such as backups/<host>/<time>."
            )
        try:
            with open(manifest_path, encoding="utf-8") as handle:
                manifest = json.load(handle)
        except ValueError as exc:
            raise AnsibleActionFail(f"{manifest_path} is not valid JSON ({exc}); the backup cannot be used.") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not manifest.get("files"):
            raise AnsibleActionFail(f"{manifest_path} is not a manifest of format {FORMAT}; the backup cannot be used.")
        for entry in manifest["files"]:
            stored = os.path.join(path, os.path.basename(str(entry.get("name"))))
            if not os.path.isfile(stored):
                raise AnsibleActionFail(
                    f"The backup {path} lacks {entry.get('name')}; nothing on the host was changed."
                )
            digest, size = sha256_file(stored)
            if size != entry.get("size"):
                raise AnsibleActionFail(
                    f"The backup {path} is damaged: {entry['name']} has {size} bytes, the manifest records "
                    f"{entry.get('size')} (truncated or grown). Nothing on the host was changed."
                )
            if digest != entry.get("sha256"):
                raise AnsibleActionFail(
                    f"The backup {path} is damaged: the SHA-256 of {entry['name']} is {digest}, the manifest "
                    f"records {entry.get('sha256')}. Nothing on the host was changed."
                )
            if entry.get("encrypted"):
                self.vault()
        snapshot = manifest["files"][0]
        return {"changed": False, "manifest": manifest, "file": os.path.join(path, snapshot["name"])}
