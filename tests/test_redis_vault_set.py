"""redis_vault_set (controller action) through real Ansible with real Vault encryption."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PROJECT, ROLE, VENV_BIN

SECRET = "n3w-S3cret \"quoted\" 'single' $HOME ${X} #hash: colon \\ back"


@pytest.fixture
def vault_password_file(tmp_path: Path) -> Path:
    path = tmp_path / "vault-password"
    path.write_text("test-vault-key-for-redis-vault-set\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def ansible_env(vault_password_file: Path | None) -> dict[str, str]:
    """Real Ansible, results as JSON (the assertions hold whatever ANSIBLE_FORCE_COLOR says)."""
    env = dict(
        os.environ,
        PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        ANSIBLE_LIBRARY=str(ROLE / "library"),
        ANSIBLE_ACTION_PLUGINS=str(ROLE / "action_plugins"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
    )
    env.pop("ANSIBLE_VAULT_PASSWORD_FILE", None)
    if vault_password_file:
        env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(vault_password_file)
    return env


def vault(args: list[str], env: dict[str, str], data: str | None = None) -> str:
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-vault"), *args], input=data, capture_output=True, text=True, env=env, check=True
    )
    return proc.stdout


def set_values(
    path: Path, values: dict[str, str], env: dict[str, str], *extra: str, create: bool = False
) -> subprocess.CompletedProcess[str]:
    vars_file = path.parent / "values.json"
    vars_file.write_text(json.dumps({"test_values": values}), encoding="utf-8")
    vars_file.chmod(0o600)
    args = {"path": str(path), "values": "{{ test_values }}", "create": create}
    return adhoc(env, "-e", f"@{vars_file}", "-m", "redis_vault_set", "-a", json.dumps(args), "-vvv", *extra)


def adhoc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`ansible localhost` with the local connection and the venv's Python."""
    return subprocess.run(
        [
            str(VENV_BIN / "ansible"),
            "localhost",
            "-c",
            "local",
            "-i",
            "localhost,",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def json_run(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The json callback's document; with -vvv, Ansible's own lines come first."""
    lines = run.stdout.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip("\n") == "{"), None)
    assert start is not None, run.stdout + run.stderr
    document, _ = json.JSONDecoder().raw_decode("".join(lines[start:]))
    assert isinstance(document, dict)
    return document


def task_results(run: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """localhost's result of each task, in order."""
    tasks = json_run(run)["plays"][0]["tasks"]
    return [task["hosts"]["localhost"] for task in tasks]


def result(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """localhost's result of the one ad-hoc task."""
    (only,) = task_results(run)
    return only


def succeeded(run: subprocess.CompletedProcess[str], changed: bool) -> None:
    outcome = result(run)
    assert run.returncode == 0 and not outcome.get("failed"), run.stdout + run.stderr
    assert outcome["changed"] is changed, outcome


def refused(run: subprocess.CompletedProcess[str], message: str) -> str:
    """The refusal's message; asserts that it says message and that the run failed."""
    outcome = result(run)
    assert run.returncode != 0 and outcome.get("failed") is True, run.stdout + run.stderr
    assert outcome.get("changed", False) is False
    assert message in outcome["msg"], outcome["msg"]
    return str(outcome["msg"])


def site_vars(path: Path, keys: list[str], env: dict[str, str], *, whole_file: bool) -> dict[str, Any]:
    """The variables as a site.yml run gets them: the file in an inventory's group_vars; for a vault
    file also as the rotation reads it (lookup unvault | from_yaml)."""
    inventory = path.parent / "inventory"
    group_vars = inventory / "group_vars" / "redis"
    group_vars.mkdir(parents=True, exist_ok=True)
    (group_vars / "vault.yml").write_bytes(path.read_bytes())
    (inventory / "hosts.yml").write_text(
        "redis:\n  hosts:\n    localhost:\n      ansible_connection: local\n", encoding="utf-8"
    )
    unvault = "lookup('ansible.builtin.unvault', vault_file) | from_yaml" if whole_file else "{}"
    playbook = path.parent / "site-like.yml"
    playbook.write_text(
        f"""- hosts: redis
  gather_facts: false
  tasks:
    - ansible.builtin.include_vars:
        file: "{{{{ vault_file }}}}"
        name: included
    - ansible.builtin.debug:
        msg:
          inventory: "{{{{ dict(wanted | zip(query('ansible.builtin.vars', *wanted))) }}}}"
          included: "{{{{ included }}}}"
          unvaulted: "{{{{ {unvault} }}}}"
""",
        encoding="utf-8",
    )
    extra = json.dumps({"vault_file": str(path), "wanted": keys, "ansible_python_interpreter": sys.executable})
    run = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "-e", extra, str(playbook)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    message = task_results(run)[1]["msg"]
    assert isinstance(message, dict)
    return message


def write_vault(path: Path, text: str, env: dict[str, str], *vault_args: str) -> None:
    path.write_text(text, encoding="utf-8")
    vault(["encrypt", *vault_args, str(path)], env)
    path.chmod(0o640)


ORIGINAL = """---
# Secrets of group redis. Edit with ansible-vault edit.
vault_other_secret: keep me
vault_redis_password: |
  old-password-on-a-block-line
vault_exporter_password: "also kept"  # trailing comment
"""


def test_sets_one_key_and_keeps_everything_else(tmp_path: Path, vault_password_file: Path) -> None:
    env = ansible_env(vault_password_file)
    path = tmp_path / "vault.yml"
    write_vault(path, ORIGINAL, env)

    run = set_values(path, {"vault_redis_password": SECRET}, env)
    succeeded(run, changed=True)
    assert SECRET not in run.stdout + run.stderr

    raw = path.read_text(encoding="utf-8")
    assert raw.startswith("$ANSIBLE_VAULT;1.1;AES256")
    assert SECRET not in raw
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    plain = vault(["view", str(path)], env)
    assert yaml.safe_load(plain) == {
        "vault_other_secret": "keep me",
        "vault_redis_password": SECRET,
        "vault_exporter_password": "also kept",
    }
    assert "# Secrets of group redis." in plain and "# trailing comment" in plain

    succeeded(set_values(path, {"vault_redis_password": SECRET}, env), changed=False)


def test_non_ascii_and_astral_characters_round_trip(tmp_path: Path, vault_password_file: Path) -> None:
    """Characters outside the BMP, and YAML's own line breaks, come back exactly as they were set."""
    env = ansible_env(vault_password_file)
    path = tmp_path / "vault.yml"
    write_vault(path, ORIGINAL, env)
    secret = "p\u00e4ss-\U0001f511-\u2028-\u00a0-" + "x" * 32
    succeeded(set_values(path, {"vault_redis_password": secret}, env), changed=True)
    assert yaml.safe_load(vault(["view", str(path)], env))["vault_redis_password"] == secret


def test_updates_an_inline_vault_value_in_a_plain_file(tmp_path: Path, vault_password_file: Path) -> None:
    """The layout `ansible-vault encrypt_string --output vault.yml` makes (inventory/example)."""
    env = ansible_env(None)
    env["ANSIBLE_VAULT_IDENTITY_LIST"] = f"prod@{vault_password_file}"
    path = tmp_path / "vault.yml"
    inline = vault(["encrypt_string", "--encrypt-vault-id", "prod", "--stdin-name", "vault_redis_password"], env, "old")
    path.write_text("---\n# inline\nvault_other: plain and kept\n" + inline + "vault_last: kept\n", encoding="utf-8")
    path.chmod(0o600)

    succeeded(set_values(path, {"vault_redis_password": SECRET}, env), changed=True)
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text
    assert "vault_redis_password: !vault |\n          $ANSIBLE_VAULT;1.2;AES256;prod\n" in text
    assert text.startswith("---\n# inline\nvault_other: plain and kept\n") and text.endswith("vault_last: kept\n")
    # Ansible itself reads the new value back.
    shown = adhoc(env, "-e", f"@{path}", "-m", "ansible.builtin.debug", "-a", "var=vault_redis_password")
    assert result(shown)["vault_redis_password"] == SECRET

    succeeded(set_values(path, {"vault_redis_password": SECRET}, env), changed=False)
    assert path.read_text(encoding="utf-8") == text


def test_keeps_the_vault_id(tmp_path: Path, vault_password_file: Path) -> None:
    env = ansible_env(None)
    env["ANSIBLE_VAULT_IDENTITY_LIST"] = f"prod@{vault_password_file}"
    path = tmp_path / "vault.yml"
    write_vault(path, "vault_redis_password: old\n", env, "--encrypt-vault-id", "prod")
    succeeded(set_values(path, {"vault_redis_password": SECRET}, env), changed=True)
    assert path.read_text(encoding="utf-8").startswith("$ANSIBLE_VAULT;1.2;AES256;prod")


def test_check_mode_writes_nothing(tmp_path: Path, vault_password_file: Path) -> None:
    env = ansible_env(vault_password_file)
    path = tmp_path / "vault.yml"
    write_vault(path, ORIGINAL, env)
    before = path.read_bytes()
    succeeded(set_values(path, {"vault_redis_password": SECRET}, env, "--check"), changed=True)
    assert path.read_bytes() == before


def test_creates_a_new_file_encrypted(tmp_path: Path, vault_password_file: Path) -> None:
    env = ansible_env(vault_password_file)
    path = tmp_path / "state.vault.yml"
    succeeded(set_values(path, {"a": "1", "b": SECRET}, env, create=True), changed=True)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert yaml.safe_load(vault(["view", str(path)], env)) == {"a": "1", "b": SECRET}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("plaintext", "holds vault_redis_password in plain text"),
        ("missing", "does not exist"),
        ("no_vault_password", "No vault password is loaded"),
        ("wrong_vault_password", "Cannot decrypt"),
        ("not_a_mapping", "does not hold a YAML mapping of variables: its document is a block-style YAML sequence"),
        ("flow_list", "does not hold a YAML mapping of variables: its document is a flow-style YAML sequence"),
        ("json_array", "does not hold a YAML mapping of variables: it is a JSON array"),
        ("scalar", "does not hold a YAML mapping of variables: its document is a YAML scalar (a string)"),
        ("two_documents", "holds 2 YAML documents"),
        ("duplicate_block", "(a block-style YAML mapping) holds the key vault_redis_password 2 times (lines 3, 5)"),
        ("duplicate_json", "(a JSON object) holds the key vault_redis_password 2 times (lines 2, 4)"),
        ("duplicate_flow", "(a flow-style YAML mapping ({...})) holds the key vault_redis_password 2 times (line 2)"),
        ("explicit_key", "has vault_redis_password at line 2 after other text on that line"),
        ("broken_yaml", "is not valid YAML at line"),
    ],
)
def test_refusals_are_clear_and_change_nothing(
    tmp_path: Path, vault_password_file: Path, case: str, message: str
) -> None:
    env = ansible_env(vault_password_file)
    path = tmp_path / "vault.yml"
    if case == "plaintext":
        path.write_text("vault_redis_password: old\n", encoding="utf-8")
    elif case == "not_a_mapping":
        write_vault(path, "- a list\n", env)
    elif case == "flow_list":
        write_vault(path, "---\n[old-secret-Zq9, b]\n", env)
    elif case == "json_array":
        write_vault(path, '[{"vault_redis_password": "old-secret-Zq9"}]\n', env)
    elif case == "scalar":
        write_vault(path, "--- old-secret-Zq9\n", env)
    elif case == "two_documents":
        write_vault(path, "---\nvault_redis_password: old-secret-Zq9\n---\nother: x\n", env)
    elif case == "duplicate_block":
        text = "---\n# twice\nvault_redis_password: old-secret-Zq9\nother: x\n'vault_redis_password': again\n"
        write_vault(path, text, env)
    elif case == "duplicate_json":
        text = '{\n "vault_redis_password": "old-secret-Zq9",\n "a": 1,\n "vault_redis_password": "x"\n}\n'
        write_vault(path, text, env)
    elif case == "duplicate_flow":
        write_vault(path, "---\n{vault_redis_password: old-secret-Zq9, vault_redis_password: x}\n", env)
    elif case == "explicit_key":
        write_vault(path, "---\n? vault_redis_password\n: old-secret-Zq9\n", env)
    elif case == "broken_yaml":
        write_vault(path, "---\nvault_redis_password: 'old-secret-Zq9 [unclosed\n  : x\n", env)
    elif case != "missing":
        write_vault(path, ORIGINAL, env)
    if case == "no_vault_password":
        env = ansible_env(None)
    if case == "wrong_vault_password":
        other = tmp_path / "other-password"
        other.write_text("another key\n", encoding="utf-8")
        env = ansible_env(other)
    before = path.read_bytes() if path.exists() else None

    run = set_values(path, {"vault_redis_password": SECRET}, env)
    refused(run, message)
    assert SECRET not in run.stdout + run.stderr
    assert "old-secret-Zq9" not in run.stdout + run.stderr
    assert (path.read_bytes() if path.exists() else None) == before


def decrypted(path: Path, env: dict[str, str]) -> str:
    return vault(["view", str(path)], env)


# The layout: a vault file written as JSON (valid YAML, read by site.yml as it is).
JSON_VAULT = """{
  "vault_other_secret": "keep me",
  "vault_redis_password": "old-password",
  "vault_port": 6379,
  "vault_nested": {"list": [1, true, null], "text": "caf\\u00e9 \\u2028"}
}
"""


@pytest.mark.parametrize("one_line", [False, True], ids=["pretty", "one-line"])
def test_json_vault_file_is_rewritten_as_json(tmp_path: Path, vault_password_file: Path, one_line: bool) -> None:
    """A JSON object stays JSON: the value is replaced in place, a new key follows the last one."""
    env = ansible_env(vault_password_file)
    path = tmp_path / "vault.yml"
    original = json.dumps(json.loads(JSON_VAULT)) + "\n" if one_line else JSON_VAULT
    write_vault(path, original, env, "--vault-id", f"prod@{vault_password_file}", "--encrypt-vault-id", "prod")

    # As the rotation runs it: step 1 checks the file in check mode, step 5 writes it.
    check = set_values(path, {"vault_redis_password": "check-only"}, env, "--check")
    succeeded(check, changed=True)
    run = set_values(path, {"vault_redis_password": SECRET, "vault_added": "new key"}, env)
    succeeded(run, changed=True)
    assert SECRET not in run.stdout + run.stderr
    assert path.read_text(encoding="utf-8").startswith("$ANSIBLE_VAULT;1.2;AES256;prod")

    plain = decrypted(path, env)
    if one_line:
        assert plain == original.replace('"old-password"', json.dumps(SECRET)).replace(
            "}}\n", '}, "vault_added": "new key"}\n'
        )
    else:
        # Every other line is as it was; the new key is on its own line, indented like the others.
        last = '"text": "caf\\u00e9 \\u2028"}'
        assert plain == original.replace('"old-password"', json.dumps(SECRET)).replace(
            f"{last}\n", f'{last},\n  "vault_added": "new key"\n'
        )
    expected = dict(json.loads(original), vault_redis_password=SECRET, vault_added="new key")
    assert json.loads(plain) == expected
    assert yaml.safe_load(plain)["vault_redis_password"] == SECRET

    seen = site_vars(path, sorted(expected), env, whole_file=True)
    assert seen["inventory"] == expected
    assert seen["included"] == expected
    assert seen["unvaulted"]["vault_redis_password"] == SECRET
    assert seen["unvaulted"]["vault_other_secret"] == "keep me"
    assert seen["unvaulted"]["vault_port"] == 6379

    succeeded(set_values(path, {"vault_redis_password": SECRET}, env), changed=False)


def test_yaml_flow_mapping_with_document_markers(tmp_path: Path, vault_password_file: Path) -> None:
    """A flow mapping that is not JSON (plain keys, a comment, --- and ...) stays a flow mapping."""
    env = ansible_env(vault_password_file)
    path = tmp_path / "vault.yml"
    original = "%YAML 1.1\n---\n# flow\n{vault_other: keep me, vault_redis_password: old,\n  vault_list: [a, b]}\n...\n"
    write_vault(path, original, env)
    succeeded(set_values(path, {"vault_redis_password": SECRET, "vault_added": "x"}, env), changed=True)
    plain = decrypted(path, env)
    assert plain == original.replace("old,", json.dumps(SECRET) + ",").replace("b]}", 'b],\n  vault_added: "x"}')
    expected = {"vault_other": "keep me", "vault_redis_password": SECRET, "vault_list": ["a", "b"], "vault_added": "x"}
    assert site_vars(path, sorted(expected), env, whole_file=True) == {
        "inventory": expected,
        "included": expected,
        "unvaulted": expected,
    }


@pytest.mark.parametrize("quote", ['"', "'"])
def test_quoted_keys_in_block_style(tmp_path: Path, vault_password_file: Path, quote: str) -> None:
    """A quoted key is the same key: its entry is replaced (the quoting kept), not added a second time."""
    env = ansible_env(vault_password_file)
    path = tmp_path / "vault.yml"
    original = (
        f"---\n# quoted keys\n{quote}vault_other{quote}: keep me\n"
        f"{quote}vault_redis_password{quote}: old  # the current one\n\n# last\n{quote}vault_z{quote}: z\n...\n"
    )
    write_vault(path, original, env)
    succeeded(set_values(path, {"vault_redis_password": SECRET, "vault_added": "x"}, env), changed=True)
    plain = decrypted(path, env)
    new_line = f"{quote}vault_redis_password{quote}: {yaml_double_quoted(SECRET)}  # the current one\n"
    assert plain == original.replace(f"{quote}vault_redis_password{quote}: old  # the current one\n", new_line).replace(
        "...\n", f'{quote}vault_added{quote}: "x"\n...\n'
    )
    expected = {"vault_other": "keep me", "vault_redis_password": SECRET, "vault_z": "z", "vault_added": "x"}
    assert site_vars(path, sorted(expected), env, whole_file=True)["inventory"] == expected


def yaml_double_quoted(value: str) -> str:
    return str(yaml.safe_dump(value, default_style='"', width=float("inf"))).rstrip("\n")


def test_inline_vault_in_a_flow_mapping(tmp_path: Path, vault_password_file: Path) -> None:
    """`!vault |` cannot stand in a flow mapping: the value is `!vault "ciphertext"` on one line."""
    env = ansible_env(None)
    env["ANSIBLE_VAULT_IDENTITY_LIST"] = f"prod@{vault_password_file}"
    path = tmp_path / "vault.yml"
    old = vault(["encrypt_string", "--encrypt-vault-id", "prod", "old"], env).split("|", 1)[1]
    ciphertext = "\n".join(line.strip() for line in old.strip().splitlines())
    original = f"---\n{{vault_other: plain and kept, vault_redis_password: !vault {json.dumps(ciphertext)}}}\n"
    path.write_text(original, encoding="utf-8")
    path.chmod(0o600)

    succeeded(set_values(path, {"vault_redis_password": SECRET, "vault_added": "x"}, env), changed=True)
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text
    start = '---\n{vault_other: plain and kept, vault_redis_password: !vault "$ANSIBLE_VAULT;1.2;AES256;prod\\n'
    assert text.startswith(start)
    assert ', vault_added: !vault "$ANSIBLE_VAULT;1.2;AES256;prod\\n' in text and text.endswith('"}\n')
    expected = {"vault_other": "plain and kept", "vault_redis_password": SECRET, "vault_added": "x"}
    assert site_vars(path, sorted(expected), env, whole_file=False)["inventory"] == expected
    succeeded(set_values(path, {"vault_redis_password": SECRET}, env), changed=False)
    assert path.read_text(encoding="utf-8") == text


def test_inline_vault_in_a_plain_json_file(tmp_path: Path, vault_password_file: Path) -> None:
    """In JSON an encrypted value is {"__ansible_vault": ciphertext} (how Ansible reads JSON); the file stays JSON."""
    env = ansible_env(None)
    env["ANSIBLE_VAULT_IDENTITY_LIST"] = f"prod@{vault_password_file}"
    path = tmp_path / "vault.json"
    ciphertext = vault(["encrypt", "--encrypt-vault-id", "prod", "--output", "-"], env, "old")
    original = json.dumps({"vault_other": "plain", "vault_redis_password": {"__ansible_vault": ciphertext}}, indent=2)
    path.write_text(original, encoding="utf-8")
    path.chmod(0o600)

    succeeded(set_values(path, {"vault_redis_password": SECRET, "vault_added": "x"}, env), changed=True)
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text
    data = json.loads(text)
    assert list(data) == ["vault_other", "vault_redis_password", "vault_added"]
    assert data["vault_other"] == "plain"
    assert data["vault_redis_password"]["__ansible_vault"].startswith("$ANSIBLE_VAULT;1.2;AES256;prod\n")
    assert data["vault_added"]["__ansible_vault"].startswith("$ANSIBLE_VAULT;1.2;AES256;prod\n")
    expected = {"vault_other": "plain", "vault_redis_password": SECRET, "vault_added": "x"}
    assert site_vars(path, sorted(expected), env, whole_file=False)["inventory"] == expected

    # A plain value stays refused in JSON too.
    path.write_text('{"vault_redis_password": "old-secret-Zq9"}', encoding="utf-8")
    run = set_values(path, {"vault_redis_password": SECRET}, env)
    refused(run, "holds vault_redis_password in plain text")
    assert "old-secret-Zq9" not in run.stdout + run.stderr


@pytest.mark.parametrize(
    "original",
    [
        "---\n",
        "# nothing yet\n",
        "--- ~\n",
        "---\nnull\n...\n",
    ],
    ids=["header-only", "comment-only", "tilde", "null"],
)
def test_empty_documents_get_block_entries(tmp_path: Path, vault_password_file: Path, original: str) -> None:
    env = ansible_env(vault_password_file)
    path = tmp_path / "vault.yml"
    write_vault(path, original, env)
    succeeded(set_values(path, {"vault_redis_password": SECRET}, env), changed=True)
    assert yaml.safe_load(decrypted(path, env)) == {"vault_redis_password": SECRET}


def test_refuses_rather_than_writes_what_would_not_read_back(tmp_path: Path, vault_password_file: Path) -> None:
    """Another key refers to the value through an alias: replacing the value would break it."""
    env = ansible_env(vault_password_file)
    path = tmp_path / "vault.yml"
    write_vault(path, "---\nvault_redis_password: &current old-secret-Zq9\nvault_copy: *current\n", env)
    before = path.read_bytes()
    run = set_values(path, {"vault_redis_password": SECRET}, env)
    message = refused(run, "so that it reads back with the new values and every other variable unchanged")
    assert "(a block-style YAML mapping)" in message and "nothing was changed" in message
    assert "not valid YAML" not in message
    assert SECRET not in run.stdout + run.stderr and "old-secret-Zq9" not in run.stdout + run.stderr
    assert path.read_bytes() == before
