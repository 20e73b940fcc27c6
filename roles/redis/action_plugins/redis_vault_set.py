# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin: set top-level keys in an Ansible Vault encrypted YAML file on the controller."""

from __future__ import annotations

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
INLINE_INDENT = " " * 10  # as ansible-vault encrypt_string writes it


def yaml_quoted(value: str) -> str:
    """value as one double-quoted YAML scalar, ASCII only (YAML's own escapes, astral characters too)."""
    quoted: str = yaml.safe_dump(value, default_style='"', width=float("inf"))
    return quoted.rstrip("\n")


def key_span(lines: list[str], key: str) -> tuple[int, int] | None:
    """First and past-the-end line of the top-level `key:` entry, with its continuation lines."""
    start = next((i for i, line in enumerate(lines) if re.match(rf"^{re.escape(key)}\s*:", line)), None)
    if start is None:
        return None
    end = start + 1
    # A block or multi-line value continues on indented or empty lines.
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or lines[end].strip() == ""):
        end += 1
    return start, end


def set_entry(text: str, key: str, entry: list[str]) -> str:
    """Replace the top-level entry of key with the given lines, or append them.

    Works on lines so that comments and the order of the other keys stay as they are.
    """
    lines = text.splitlines()
    span = key_span(lines, key)
    if span is None:
        if lines and lines[-1].strip() == "...":
            return "\n".join([*lines[:-1], *entry, lines[-1]]) + "\n"
        return "\n".join([*lines, *entry]) + "\n"
    return "\n".join([*lines[: span[0]], *entry, *lines[span[1] :]]) + "\n"


def inline_vaulttext(text: str, key: str) -> bytes | None:
    """The encrypted value of key when it is an inline `!vault |` value, else None."""
    lines = text.splitlines()
    span = key_span(lines, key)
    if span is None or not re.match(rf"^{re.escape(key)}\s*:\s*!vault\s*\|", lines[span[0]]):
        return None
    return "\n".join(line.strip() for line in lines[span[0] + 1 : span[1]] if line.strip()).encode()


def load_vars(text: str, path: str, vault: VaultLib) -> dict[str, Any]:
    """The file's variables, with inline `!vault` values decrypted (to compare before and after)."""

    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    def decrypt(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
        try:
            return str(to_text(vault.decrypt(to_bytes(loader.construct_scalar(node)))))
        except AnsibleVaultError as exc:
            raise AnsibleActionFail(f"Cannot decrypt a value in {path} with the loaded vault password: {exc}") from exc

    def unsafe(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
        return str(loader.construct_scalar(node))

    Loader.add_constructor("!vault", decrypt)
    Loader.add_constructor("!unsafe", unsafe)
    try:
        data = yaml.load(text, Loader=Loader) if text.strip() else {}  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        # The parser's message quotes the line, which may hold a secret: give only the position.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise AnsibleActionFail(f"{path} is not valid YAML{where}; fix it with ansible-vault edit.") from None
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

        whole_file = True
        if os.path.exists(path):
            with open(path, "rb") as handle:
                b_data = handle.read()
            mode = os.stat(path).st_mode & 0o7777
            if is_encrypted(b_data):
                b_plain, _, secret = self.decrypt(vault, b_data, path)
                # Keep the file's vault id (a 1.2 header names it; a 1.1 header does not).
                vault_id = self.header_vault_id(b_data)
                old_text = to_text(b_plain)
            else:
                # A plain YAML file whose secrets are inline `!vault |` values (encrypt_string).
                whole_file = False
                old_text = to_text(b_data)
        elif create:
            secret, vault_id = self.encrypt_secret(secrets)
            mode = 0o600
            old_text = "---\n"
        else:
            raise AnsibleActionFail(f"{path} does not exist.")

        old_vars = load_vars(old_text, path, vault)
        new_text = old_text
        for key, value in values.items():
            if whole_file:
                entry = [f"{key}: {yaml_quoted(str(value))}"]
            else:
                entry = self.inline_entry(vault, secrets, old_text, str(key), str(value), path)
            new_text = set_entry(new_text, str(key), entry)
        new_vars = load_vars(new_text, path, vault)
        expected = dict(old_vars, **{str(k): str(v) for k, v in values.items()})
        if new_vars != expected:
            raise AnsibleActionFail(
                f"Updating {path} line by line would change more than the given keys "
                "(an unusual YAML layout); edit it with ansible-vault instead."
            )

        # An inline value is encrypted with a new salt each time: compare the plaintexts.
        result.update(changed=new_vars != old_vars, path=path, keys=sorted(str(k) for k in values))
        if not result["changed"] or self._task.check_mode:
            return result

        b_out = (
            vault.encrypt(to_bytes(new_text), secret=secret, vault_id=vault_id) if whole_file else to_bytes(new_text)
        )
        directory = os.path.dirname(path)
        fd, tmp_path = tempfile.mkstemp(prefix=".redis-vault-", dir=directory)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(b_out)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_path, path)
            # Make the rename itself durable: the record and the promotion must survive a power loss.
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)
            raise
        return result

    @staticmethod
    def decrypt(vault: VaultLib, b_vaulttext: bytes, where: str) -> tuple[bytes, str, Any]:
        try:
            plain, vault_id, secret = vault.decrypt_and_get_vault_id(b_vaulttext)
        except AnsibleVaultError as exc:
            raise AnsibleActionFail(f"Cannot decrypt {where} with the loaded vault password: {exc}") from exc
        return plain, vault_id, secret

    @staticmethod
    def header_vault_id(b_vaulttext: bytes) -> str | None:
        header = b_vaulttext.lstrip().split(b"\n", 1)[0].split(b";")
        return to_text(header[3].strip()) if len(header) >= 4 else None

    @staticmethod
    def encrypt_secret(secrets: list[tuple[str, Any]]) -> tuple[Any, str | None]:
        match = match_encrypt_secret(secrets)
        if not match:
            raise AnsibleActionFail("No vault password is loaded that can encrypt.")
        encrypt_id, secret = match
        return secret, (None if encrypt_id == "default" else encrypt_id)

    def inline_entry(
        self, vault: VaultLib, secrets: list[tuple[str, Any]], text: str, key: str, value: str, path: str
    ) -> list[str]:
        """`key: !vault |` and the value encrypted like the key's current one (same vault id)."""
        lines = text.splitlines()
        b_current = inline_vaulttext(text, key)
        if b_current is not None:
            _, _, secret = self.decrypt(vault, b_current, f"{key} in {path}")
            vault_id = self.header_vault_id(b_current)
        elif key_span(lines, key) is not None:
            raise AnsibleActionFail(
                f"{path} holds {key} in plain text; encrypt the file (ansible-vault encrypt) "
                "or the value (ansible-vault encrypt_string) first."
            )
        else:
            secret, vault_id = self.encrypt_secret(secrets)
        b_encrypted = vault.encrypt(to_bytes(value), secret=secret, vault_id=vault_id)
        return [f"{key}: !vault |"] + [INLINE_INDENT + line for line in to_text(b_encrypted).splitlines()]
