# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin: set top-level keys in an Ansible Vault encrypted YAML (or JSON) file on the controller.

The file is edited as text, never re-emitted from parsed data, so everything but the values set stays
byte for byte as it was. How depends on the layout of the file's one document:

- a block-style mapping (`key: value` lines): the lines of the key's entry are replaced, a new key is
  added as the last entry (before a closing `...`);
- a flow-style mapping (`{key: value, ...}`) or a JSON object: the key's value is replaced in place, a
  new key is added after the last entry, on its own line when the entries are one a line. A JSON file
  stays JSON (values as JSON strings, inline vault values as `{"__ansible_vault": ...}`, which is how
  Ansible reads JSON), a YAML flow mapping stays flow (inline vault values as `!vault "..."`).

Anything else (a list, a scalar, several documents, the key set twice) is refused before any change,
with a message that names what was found. The result is read back the way Ansible reads it (JSON first,
then YAML) and written only if every key holds the intended value and no other variable changed.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
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
LINE_BREAKS = "\r\n\x85\u2028\u2029"  # YAML 1.1's line breaks
STR_TAG = "tag:yaml.org,2002:str"
VAULT_TAGS = ("!vault", "!vault-encrypted")
RESOLVER = yaml.resolver.Resolver()
# Ansible parses YAML with libyaml when PyYAML has it: use the same parser, so that both agree on what is valid.
SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
JSON_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}
SCALAR_KINDS = {
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:timestamp": "a date",
    STR_TAG: "a string",
}


class UnreadableError(Exception):
    """A text that neither JSON nor YAML reads as Ansible variables; the message names no content."""


def yaml_quoted(value: str) -> str:
    """value as one double-quoted YAML scalar, ASCII only (YAML's own escapes, astral characters too)."""
    quoted: str = yaml.safe_dump(value, default_style='"', width=float("inf"))
    return quoted.rstrip("\n")


def json_string(value: str) -> str:
    """value as a JSON string that YAML reads as the same string.

    Printable characters stay as they are (JSON has no escape for astral characters that YAML reads back
    as one character); control characters, YAML's extra line breaks and the BOM are escaped as \\uXXXX.
    """
    out = ['"']
    for char in value:
        code = ord(char)
        if char in JSON_SHORT_ESCAPES:
            out.append(JSON_SHORT_ESCAPES[char])
        elif (
            0x20 <= code <= 0x7E
            or (0xA0 <= code <= 0xD7FF and char not in "\u2028\u2029")
            or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
            or code >= 0x10000
        ):
            out.append(char)
        else:
            out.append(f"\\u{code:04x}")
    out.append('"')
    return "".join(out)


def line_of(text: str, index: int) -> int:
    """1-based line number of a character index (the line breaks YAML counts)."""
    return text.count("\n", 0, index) + text.count("\r", 0, index) - text.count("\r\n", 0, index) + 1


def error_line(exc: Exception, text: str) -> str:
    """' at line N' for a parser error, without the parser's message: it quotes the file's text."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return f" at line {mark.line + 1}"
    position = getattr(exc, "position", None)
    if isinstance(position, int):
        return f" at line {line_of(text, position)}"
    return ""


@dataclass
class Entry:
    """One top-level key and its value, as positions in the text."""

    key: str | None  # the key as Ansible reads it; None when it is not a string
    line: int
    key_start: int
    key_column: int
    key_end: int
    key_style: str  # '"', "'" or "" (plain)
    value_start: int
    value_end: int
    value_end_column: int
    value_empty: bool  # `key:` with no value
    encrypted: bool  # an inline vault value (`!vault`, or {"__ansible_vault": ...} in JSON)
    vaulttext: str | None


LAYOUT_NAMES = {
    "block": "a block-style YAML mapping",
    "flow": "a flow-style YAML mapping ({...})",
    "json": "a JSON object",
    "empty": "an empty YAML document",
}


@dataclass
class Layout:
    kind: str  # one of LAYOUT_NAMES
    entries: list[Entry] = field(default_factory=list)
    open_brace: int = 0  # flow and json: the index just after the opening `{`
    append_at: int = 0  # block and empty: where new entries go (before an explicit `...`, else at the end)
    null_span: tuple[int, int] | None = None  # empty: a `~` or `null` that the new entries replace

    @property
    def name(self) -> str:
        return LAYOUT_NAMES[self.kind]

    def find(self, key: str) -> list[Entry]:
        return [entry for entry in self.entries if entry.key == key]


def skip_json_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\n\r":
        index += 1
    return index


def analyse_json(text: str) -> Layout:
    """The entries of a JSON object (the text is known to be one), with exact positions."""
    decoder = json.JSONDecoder()
    index = skip_json_space(text, 0)
    if text[index] != "{":
        raise ValueError("not a JSON object")
    layout = Layout("json", open_brace=index + 1)
    index = skip_json_space(text, index + 1)
    if text[index] == "}":
        return layout
    while True:
        key_start = index
        key, index = decoder.raw_decode(text, index)
        key_end = index
        index = skip_json_space(text, index)
        if text[index] != ":":
            raise ValueError("no colon after a key")
        value_start = index = skip_json_space(text, index + 1)
        value, index = decoder.raw_decode(text, index)
        # Ansible's JSON reader turns {"__ansible_vault": ciphertext} into an encrypted string.
        encrypted = isinstance(value, dict) and "__ansible_vault" in value and "__ansible_unsafe" not in value
        vaulttext = value["__ansible_vault"] if encrypted and isinstance(value["__ansible_vault"], str) else None
        line_start = max(text.rfind("\n", 0, key_start), text.rfind("\r", 0, key_start)) + 1
        layout.entries.append(
            Entry(
                key=key,
                line=line_of(text, key_start),
                key_start=key_start,
                key_column=key_start - line_start,
                key_end=key_end,
                key_style='"',
                value_start=value_start,
                value_end=index,
                value_end_column=-1,
                value_empty=False,
                encrypted=encrypted,
                vaulttext=vaulttext,
            )
        )
        index = skip_json_space(text, index)
        if text[index] == ",":
            index = skip_json_space(text, index + 1)
            continue
        if text[index] != "}":
            raise ValueError("no comma or closing brace after a value")
        return layout


def node_end(events: list[Any], index: int) -> tuple[int, Any]:
    """The index past the node that starts at events[index], and the end mark of its last content.

    A block collection ends where the next token starts (after any comments); its content ends with
    its last child. A flow collection ends with its closing bracket.
    """
    flow_stack: list[bool] = []
    end = events[index].end_mark
    while True:
        event = events[index]
        index += 1
        if isinstance(event, yaml.CollectionStartEvent):
            flow_stack.append(bool(event.flow_style))
            end = event.end_mark
        elif isinstance(event, yaml.CollectionEndEvent):
            if flow_stack.pop():
                end = event.end_mark
        else:
            end = event.end_mark
        if not flow_stack:
            return index, end


def scalar_tag(event: Any) -> str:
    """The tag a scalar event resolves to, as the composer (and Ansible's `!unsafe`) would resolve it."""
    tag: str | None = event.tag
    if tag in (None, "!"):
        return str(RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit))
    if tag == "!unsafe":
        return str(RESOLVER.resolve(yaml.ScalarNode, event.value, (True, False)))
    return str(tag)


def analyse_yaml(text: str, path: str) -> Layout:
    """The top-level entries of the YAML document, with positions; refuses what is not one mapping."""
    events = list(yaml.parse(text, Loader=SAFE_LOADER))
    documents = sum(isinstance(event, yaml.DocumentStartEvent) for event in events)
    if documents == 0:  # nothing but comments and blank lines
        return Layout("empty", append_at=len(text))
    if documents > 1:
        raise AnsibleActionFail(
            f"{path} holds {documents} YAML documents (separated by ---); a variables file is one YAML "
            "mapping in one document. Nothing was changed."
        )
    # The event each alias stands for, to see an inline vault value behind an alias.
    aliased: dict[int, Any] = {}
    anchors: dict[str, Any] = {}
    for position, event in enumerate(events):
        if isinstance(event, yaml.AliasEvent):
            aliased[position] = anchors.get(event.anchor)
        elif isinstance(event, yaml.NodeEvent) and event.anchor:
            anchors[event.anchor] = event

    root = events[2]  # after StreamStart and DocumentStart
    if isinstance(root, yaml.ScalarEvent):
        kind = SCALAR_KINDS.get(scalar_tag(root), "a tagged value")
        if kind != "null" or root.tag is not None or root.style not in (None, ""):
            raise AnsibleActionFail(
                f"{path} does not hold a YAML mapping of variables: its document is a YAML scalar ({kind}). "
                "Nothing was changed."
            )
        # No value, or a plain `~` / `null`: Ansible reads no variables, and the entries take its place.
        layout, index = Layout("empty", null_span=(root.start_mark.index, root.end_mark.index)), 3
    elif isinstance(root, yaml.SequenceStartEvent):
        style = "flow" if root.flow_style else "block"
        raise AnsibleActionFail(
            f"{path} does not hold a YAML mapping of variables: its document is a {style}-style YAML "
            "sequence (a list). Nothing was changed."
        )
    else:
        layout = Layout("flow" if root.flow_style else "block")
        if root.flow_style:
            layout.open_brace = text.index("{", root.start_mark.index) + 1
        index = 3
        while not isinstance(events[index], yaml.MappingEndEvent):
            key_event = events[index]
            index, key_end = node_end(events, index)
            value_position = index
            value_event = events[index]
            index, value_end = node_end(events, index)
            target = aliased.get(value_position) if isinstance(value_event, yaml.AliasEvent) else value_event
            vaulttext: str | None = None
            if isinstance(target, yaml.ScalarEvent) and target.tag in VAULT_TAGS:
                vaulttext = str(target.value)
            is_string_key = isinstance(key_event, yaml.ScalarEvent) and scalar_tag(key_event) == STR_TAG
            layout.entries.append(
                Entry(
                    key=key_event.value if is_string_key else None,
                    line=key_event.start_mark.line + 1,
                    key_start=key_event.start_mark.index,
                    key_column=key_event.start_mark.column,
                    key_end=key_end.index,
                    key_style=(getattr(key_event, "style", None) or "") if is_string_key else "",
                    value_start=value_event.start_mark.index,
                    value_end=value_end.index,
                    value_end_column=value_end.column,
                    value_empty=isinstance(value_event, yaml.ScalarEvent)
                    and value_event.value == ""
                    and value_event.tag is None
                    and value_event.start_mark.index == value_event.end_mark.index,
                    encrypted=vaulttext is not None,
                    vaulttext=vaulttext,
                )
            )
        index += 1
    document_end = events[index]
    if layout.kind != "flow":
        mark = document_end.start_mark
        layout.append_at = mark.index - mark.column if document_end.explicit else len(text)
    return layout


def analyse(text: str, path: str) -> Layout:
    """The layout of the file, read the way Ansible reads it: JSON first, then YAML."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return analyse_yaml(text, path)
    if isinstance(data, dict):
        return analyse_json(text)
    if isinstance(data, list):
        raise AnsibleActionFail(
            f"{path} does not hold a YAML mapping of variables: it is a JSON array (a list). Nothing was changed."
        )
    return analyse_yaml(text, path)  # a JSON scalar is a YAML scalar too


def read_vars(text: str, vault: VaultLib, json_first: bool = True) -> dict[str, Any]:
    """The file's variables as Ansible reads them (JSON first, then YAML), inline vault values decrypted.

    Raises UnreadableError (the message names a line at most) or AnsibleActionFail (a value that does not decrypt).
    """

    def decrypt(ciphertext: Any) -> str:
        if not isinstance(ciphertext, str):
            raise UnreadableError(" (an inline vault value that is not a string)")
        try:
            return str(to_text(vault.decrypt(to_bytes(ciphertext))))
        except AnsibleVaultError as exc:
            raise AnsibleActionFail(
                f"Cannot decrypt an inline vault value with the loaded vault password: {exc}"
            ) from exc

    def json_object(pairs: dict[str, Any]) -> Any:
        # As ansible._internal._json._profiles._legacy reads them.
        if "__ansible_unsafe" in pairs:
            return pairs["__ansible_unsafe"]
        if "__ansible_vault" in pairs:
            return decrypt(pairs["__ansible_vault"])
        return pairs

    if json_first:
        try:
            data = json.loads(text, object_hook=json_object)
        except (ValueError, RecursionError):
            pass
        else:
            if not isinstance(data, dict):
                raise UnreadableError(" (not a mapping)")
            return data

    class Loader(SAFE_LOADER):  # type: ignore[misc]  # a SafeLoader, with Ansible's own tags
        pass

    def resolved(loader: Any, node: Any) -> Any:
        copied = copy.copy(node)
        copied.tag = loader.resolve(type(node), node.value, (True, False))
        return loader.construct_object(copied, deep=True)

    Loader.add_constructor("!unsafe", resolved)
    for tag in VAULT_TAGS:
        Loader.add_constructor(tag, lambda loader, node: decrypt(resolved(loader, node)))
    try:
        data = yaml.load(text, Loader=Loader) if text.strip() else {}
    except yaml.constructor.ConstructorError as exc:
        raise UnreadableError(
            f"{error_line(exc, text)} (a value Ansible cannot construct, such as an unknown tag)"
        ) from None
    except yaml.YAMLError as exc:
        raise UnreadableError(error_line(exc, text)) from None
    except (ValueError, TypeError, OverflowError):  # e.g. a timestamp that is no date
        raise UnreadableError(" (a value Ansible cannot construct)") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UnreadableError(" (not a mapping)")
    return data


def apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str:
    """text with the spans replaced; the spans must not overlap. Insertions at one place keep their order."""
    result = text
    limit = len(text)
    ordered = sorted(enumerate(edits), key=lambda item: (item[1][0], item[1][1], item[0]), reverse=True)
    for _, (start, end, replacement) in ordered:
        if end > limit or start > end:
            raise ValueError("overlapping edits")
        result = result[:start] + replacement + result[end:]
        limit = start
    return result


def line_end(text: str, index: int) -> tuple[int, int]:
    """The index of the line break at or after index (or the end of the text), and the index past it."""
    end = index
    while end < len(text) and text[end] not in LINE_BREAKS:
        end += 1
    if text.startswith("\r\n", end):
        return end, end + 2
    return end, min(end + 1, len(text))


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
        new_values = {str(key): str(value) for key, value in values.items()}
        for key, value in new_values.items():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise AnsibleActionFail(f"The value for {key} is not valid Unicode text (a lone surrogate).") from None

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
        editor = "ansible-vault edit" if whole_file else "an editor"

        # Everything that can refuse the file does so here, before anything is written.
        try:
            layout = analyse(old_text, path)
        except yaml.YAMLError as exc:
            raise AnsibleActionFail(
                f"{path} is not valid YAML{error_line(exc, old_text)}; fix it with {editor}."
            ) from None
        except ValueError:  # json read it as an object, the scanner of its keys did not: a bug here
            raise AnsibleActionFail(
                f"redis_vault_set cannot find the top-level keys of {path} (a JSON object); nothing was changed. "
                f"Set the values with {editor}."
            ) from None
        try:
            old_vars = read_vars(old_text, vault)
        except UnreadableError as exc:
            raise AnsibleActionFail(f"{path} cannot be read as Ansible variables{exc}; fix it with {editor}.") from None
        for key in new_values:
            found = layout.find(key)
            if len(found) > 1:
                numbers = sorted({entry.line for entry in found})
                lines = ("lines " if len(numbers) > 1 else "line ") + ", ".join(map(str, numbers))
                raise AnsibleActionFail(
                    f"{path} ({layout.name}) holds the key {key} {len(found)} times ({lines}), and "
                    f"Ansible uses only the last; remove the others with {editor}. Nothing was changed."
                )

        rendered: dict[str, list[str]] = {}
        for key, value in new_values.items():
            found = layout.find(key)
            if whole_file:
                rendered[key] = self.render_value(layout.kind, value, encrypted=False)
                continue
            if found and found[0].encrypted and found[0].vaulttext is not None:
                # Re-encrypt with the vault id (and password) of the key's current value.
                b_current = to_bytes(found[0].vaulttext.strip())
                _, _, key_secret = self.decrypt(vault, b_current, f"{key} in {path}")
                key_vault_id = self.header_vault_id(b_current)
            elif found:
                raise AnsibleActionFail(
                    f"{path} holds {key} in plain text; encrypt the file (ansible-vault encrypt) "
                    "or the value (ansible-vault encrypt_string) first."
                )
            else:
                key_secret, key_vault_id = self.encrypt_secret(secrets)
            vaulttext = to_text(vault.encrypt(to_bytes(value), secret=key_secret, vault_id=key_vault_id))
            rendered[key] = self.render_value(layout.kind, vaulttext, encrypted=True)

        try:
            new_text = apply_edits(old_text, self.edits(old_text, layout, rendered, path, editor))
        except ValueError:
            new_text = ""  # overlapping edits: refused just below

        # Read the result back as Ansible will: the given keys hold the new values, nothing else changed.
        refusal = AnsibleActionFail(
            f"redis_vault_set could not write {', '.join(sorted(new_values))} into {path} ({layout.name}) "
            "so that it reads back with the new values and every other variable unchanged; nothing was "
            f"changed. Set the values with {editor}."
        )
        new_vars = self.read_or_none(new_text, vault, json_first=True)
        if new_vars != dict(old_vars, **new_values):
            raise refusal
        if whole_file:
            # The rotation also reads the decrypted file as YAML (unvault | from_yaml), JSON or not.
            yaml_old = self.read_or_none(old_text, vault, json_first=False)
            yaml_new = self.read_or_none(new_text, vault, json_first=False)
            if yaml_old is not None and yaml_new != dict(yaml_old, **new_values):
                raise refusal

        # An inline value is encrypted with a new salt each time: compare the plaintexts.
        result.update(changed=new_vars != old_vars, path=path, keys=sorted(new_values))
        if not result["changed"] or self._task.check_mode:
            return result

        b_new = to_bytes(new_text)
        if whole_file:
            b_out = vault.encrypt(b_new, secret=secret, vault_id=vault_id)
            if vault.decrypt(b_out) != b_new:
                raise AnsibleActionFail(
                    f"Encrypting the new content of {path} did not round-trip; nothing was changed."
                )
        else:
            b_out = b_new
        directory = os.path.dirname(path)
        fd, tmp_path = tempfile.mkstemp(prefix=".redis-vault-", dir=directory)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(b_out)
                handle.flush()
                os.fsync(handle.fileno())
            with open(tmp_path, "rb") as handle:
                if handle.read() != b_out:
                    raise AnsibleActionFail(
                        f"The new content of {path} did not read back as written; nothing was changed."
                    )
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
    def read_or_none(text: str, vault: VaultLib, json_first: bool) -> dict[str, Any] | None:
        if not text:
            return None
        try:
            return read_vars(text, vault, json_first=json_first)
        except UnreadableError:
            return None

    @staticmethod
    def render_value(kind: str, text: str, encrypted: bool) -> list[str]:
        """The value as it follows `key: `; a block scalar continues on further lines (indented for the key)."""
        if kind == "json":
            return [f'{{"__ansible_vault": {json_string(text)}}}' if encrypted else json_string(text)]
        if kind == "flow":
            # A block scalar (`!vault |`) cannot stand in a flow mapping: the ciphertext as one quoted line.
            return [f"!vault {json_string(text)}" if encrypted else json_string(text)]
        if encrypted:
            return ["!vault |", *(INLINE_INDENT + line for line in text.splitlines())]
        return [yaml_quoted(text)]

    @staticmethod
    def new_key(layout: Layout, key: str) -> str:
        """A key to add, quoted like the mapping's first key (JSON: always double quotes)."""
        style = layout.entries[0].key_style if layout.entries else ('"' if layout.kind in ("json", "flow") else "")
        plain_ok = RESOLVER.resolve(yaml.ScalarNode, key, (True, False)) == STR_TAG  # not `null`, `true`, `on`...
        if style == "'":
            return f"'{key}'"
        if style == '"' or not plain_ok:
            return json_string(key)
        return key

    def edits(
        self, text: str, layout: Layout, rendered: dict[str, list[str]], path: str, editor: str
    ) -> list[tuple[int, int, str]]:
        newline = "\r\n" if "\r\n" in text else "\n"
        edits: list[tuple[int, int, str]] = []
        added: list[str] = []
        if layout.kind in ("block", "empty"):
            indent = " " * (layout.entries[0].key_column if layout.entries else 0)
            for key, value in rendered.items():
                found = layout.find(key)
                if not found:
                    lines = [f"{self.new_key(layout, key)}: {value[0]}", *value[1:]]
                    added.append("".join(indent + line + newline for line in lines))
                    continue
                entry = found[0]
                start = entry.key_start - entry.key_column
                if text[start : entry.key_start].strip():
                    raise AnsibleActionFail(
                        f"{path} ({layout.name}) has {key} at line {entry.line} after other text on that line "
                        f"(an explicit `? key`?); write it as `{key}: value` with {editor}. Nothing was changed."
                    )
                comment = ""
                end = entry.value_end
                if entry.value_end_column == 0 and end > entry.key_end:
                    # The value ends at the start of a line: trailing blank lines stay outside the entry.
                    lines = text[start:end].splitlines(keepends=True)
                    while len(lines) > 1 and not lines[-1].strip():
                        end -= len(lines.pop())
                else:
                    eol, end = line_end(text, end)
                    tail = text[entry.value_end : eol].strip()
                    if tail and not tail.startswith("#"):
                        raise AnsibleActionFail(
                            f"{path} ({layout.name}) has more than {key}'s value on line {line_of(text, eol)}; "
                            f"edit it with {editor}. Nothing was changed."
                        )
                    comment = f"  {tail}" if tail else ""  # a comment after the value stays
                lines = [f"{text[entry.key_start : entry.key_end]}: {value[0]}{comment}", *value[1:]]
                edits.append((start, end, "".join(indent + line + newline for line in lines)))
            if layout.null_span is not None:
                edits.append((*layout.null_span, ""))
            if added:
                at = layout.append_at
                before = newline if at > 0 and text[at - 1] not in LINE_BREAKS else ""
                edits.append((at, at, before + "".join(added)))
            return edits

        # Flow mapping or JSON object: one-line values, replaced or added in place.
        for key, value in rendered.items():
            found = layout.find(key)
            if not found:
                added.append(f"{self.new_key(layout, key)}{self.separator(text, layout)}{value[0]}")
                continue
            entry = found[0]
            if not entry.value_empty:
                edits.append((entry.value_start, entry.value_end, value[0]))
            elif ":" in text[entry.key_end : entry.value_start]:
                space = "" if text[entry.value_start - 1] in " \t" else " "
                edits.append((entry.value_start, entry.value_end, f"{space}{value[0]}"))
            else:  # `{key}` or `{key, ...}`: a key without a value
                edits.append((entry.key_end, entry.key_end, f": {value[0]}"))
        if added:
            if layout.entries:
                last = layout.entries[-1]
                at = max(last.key_end, last.value_end)
                line_start = last.key_start - last.key_column
                own_line = line_start >= layout.open_brace and not text[line_start : last.key_start].strip()
                separator = f",{newline}{text[line_start : last.key_start]}" if own_line else ", "
                edits.append((at, at, separator + separator.join(added)))
            else:
                edits.append((layout.open_brace, layout.open_brace, ", ".join(added)))
        return edits

    @staticmethod
    def separator(text: str, layout: Layout) -> str:
        """Between a new key and its value: like the last entry's in JSON (`": "`, `":"`), else `: `."""
        if layout.kind == "json" and layout.entries:
            last = layout.entries[-1]
            between = text[last.key_end : last.value_start]
            if re.fullmatch(r"[ \t]*:[ \t]*", between):
                return between
        return ": "

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
