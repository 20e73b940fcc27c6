# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin: set top-level keys in an Ansible Vault encrypted YAML file on the controller."""

from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any

import yaml
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import (
    AnsibleVaultError,
    VaultLib,
    VaultSecretsContext,
    is_encrypted,
    match_encrypt_secret,
)
from ansible.plugins.action import ActionBase

KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def set_key(text: str, key: str, value: str) -> str:
    """Replace the top-level `key:` entry of a YAML mapping (with any continuation lines), or append it.

    Works on lines so that comments and the order of the other keys stay as they are.
    """
    lines = text.splitlines()
    new_line = f"{key}: {json.dumps(value)}"
    start = next((i for i, line in enumerate(lines) if re.match(rf"^{re.escape(key)}\s*:", line)), None)
    if start is None:
        if lines and lines[-1].strip() == "...":
            return "\n".join([*lines[:-1], new_line, lines[-1]]) + "\n"
        return "\n".join([*lines, new_line]) + "\n"
    end = start + 1
    # A block or multi-line value continues on indented or empty lines.
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or lines[end].strip() == ""):
        end += 1
    return "\n".join([*lines[:start], new_line, *lines[end:]]) + "\n"


def mapping(text: str, path: str) -> dict[str, Any]:
    data = yaml.safe_load(text) if text.strip() else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AnsibleActionFail(f"{path} does not hold a YAML mapping of variables.")
    return data


class ActionModule(ActionBase):  # type: ignore[misc]  # ansible ships no type information
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("path", "values", "create"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        args = self._task.args
        path = os.path.abspath(os.path.expanduser(str(args.get("path") or "")))
        values = args.get("values")
        create = bool(args.get("create", False))
        if not args.get("path") or not isinstance(values, dict) or not values:
            raise AnsibleActionFail("redis_vault_set needs path and a non-empty values mapping.")
        for key in values:
            if not KEY_PATTERN.match(str(key)):
                raise AnsibleActionFail(f"redis_vault_set: '{key}' is not a plain variable name.")

        context = VaultSecretsContext.current(optional=True)
        secrets = context.secrets if context else []
        if not secrets:
            raise AnsibleActionFail(
                f"No vault password is loaded, so {path} cannot be written encrypted. "
                "Run with --vault-password-file, --vault-id or --ask-vault-pass."
            )
        vault = VaultLib(secrets)

        if os.path.exists(path):
            with open(path, "rb") as handle:
                b_data = handle.read()
            if not is_encrypted(b_data):
                raise AnsibleActionFail(f"{path} is not Ansible Vault encrypted; refusing to write a secret into it.")
            try:
                b_plain, vault_id, secret = vault.decrypt_and_get_vault_id(b_data)
            except AnsibleVaultError as exc:
                raise AnsibleActionFail(f"Cannot decrypt {path} with the loaded vault password: {exc}") from exc
            # Keep the file's vault id (a 1.2 header names it; a 1.1 header does not).
            header = b_data.split(b"\n", 1)[0].split(b";")
            vault_id = to_text(header[3].strip()) if len(header) >= 4 else None
            mode = os.stat(path).st_mode & 0o7777
            old_text = to_text(b_plain)
        elif create:
            encrypt_id, secret = match_encrypt_secret(secrets)
            vault_id = None if encrypt_id == "default" else encrypt_id
            mode = 0o600
            old_text = "---\n"
        else:
            raise AnsibleActionFail(f"{path} does not exist.")

        old_vars = mapping(old_text, path)
        new_text = old_text
        for key, value in values.items():
            new_text = set_key(new_text, str(key), str(value))
        new_vars = mapping(new_text, path)
        expected = dict(old_vars, **{str(k): str(v) for k, v in values.items()})
        if new_vars != expected:
            raise AnsibleActionFail(
                f"Updating {path} line by line would change more than the given keys "
                "(an unusual YAML layout); edit it with ansible-vault instead."
            )

        result.update(changed=new_text != old_text, path=path, keys=sorted(str(k) for k in values))
        if not result["changed"] or self._task.check_mode:
            return result

        b_encrypted = vault.encrypt(to_bytes(new_text), secret=secret, vault_id=vault_id)
        directory = os.path.dirname(path)
        fd, tmp_path = tempfile.mkstemp(prefix=".redis-vault-", dir=directory)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(b_encrypted)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_path, path)
        except BaseException:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)
            raise
        return result
