"""redis_vault_set (controller action) through real Ansible with real Vault encryption."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    env = dict(
        os.environ,
        PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        ANSIBLE_LIBRARY=str(ROLE / "library"),
        ANSIBLE_ACTION_PLUGINS=str(ROLE / "action_plugins"),
        ANSIBLE_NOCOLOR="1",
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
    assert run.returncode == 0, run.stdout + run.stderr
    assert "CHANGED" in run.stdout
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

    again = set_values(path, {"vault_redis_password": SECRET}, env)
    assert again.returncode == 0 and "SUCCESS" in again.stdout, again.stdout


def test_non_ascii_and_astral_characters_round_trip(tmp_path: Path, vault_password_file: Path) -> None:
    """Characters outside the BMP, and YAML's own line breaks, come back exactly as they were set."""
    env = ansible_env(vault_password_file)
    path = tmp_path / "vault.yml"
    write_vault(path, ORIGINAL, env)
    secret = "p\u00e4ss-\U0001f511-\u2028-\u00a0-" + "x" * 32
    run = set_values(path, {"vault_redis_password": secret}, env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert yaml.safe_load(vault(["view", str(path)], env))["vault_redis_password"] == secret


def test_updates_an_inline_vault_value_in_a_plain_file(tmp_path: Path, vault_password_file: Path) -> None:
    """The layout `ansible-vault encrypt_string --output vault.yml` makes (inventory/example)."""
    env = ansible_env(None)
    env["ANSIBLE_VAULT_IDENTITY_LIST"] = f"prod@{vault_password_file}"
    path = tmp_path / "vault.yml"
    inline = vault(["encrypt_string", "--encrypt-vault-id", "prod", "--stdin-name", "vault_redis_password"], env, "old")
    path.write_text("---\n# inline\nvault_other: plain and kept\n" + inline + "vault_last: kept\n", encoding="utf-8")
    path.chmod(0o600)

    run = set_values(path, {"vault_redis_password": SECRET}, env)
    assert run.returncode == 0, run.stdout + run.stderr
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text
    assert "vault_redis_password: !vault |\n          $ANSIBLE_VAULT;1.2;AES256;prod\n" in text
    assert text.startswith("---\n# inline\nvault_other: plain and kept\n") and text.endswith("vault_last: kept\n")
    # Ansible itself reads the new value back.
    json_env = dict(env, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    shown = adhoc(json_env, "-e", f"@{path}", "-m", "ansible.builtin.debug", "-a", "var=vault_redis_password").stdout
    assert json.loads(shown)["plays"][0]["tasks"][0]["hosts"]["localhost"]["vault_redis_password"] == SECRET

    again = set_values(path, {"vault_redis_password": SECRET}, env)
    assert again.returncode == 0 and "SUCCESS" in again.stdout, again.stdout
    assert path.read_text(encoding="utf-8") == text


def test_keeps_the_vault_id(tmp_path: Path, vault_password_file: Path) -> None:
    env = ansible_env(None)
    env["ANSIBLE_VAULT_IDENTITY_LIST"] = f"prod@{vault_password_file}"
    path = tmp_path / "vault.yml"
    write_vault(path, "vault_redis_password: old\n", env, "--encrypt-vault-id", "prod")
    run = set_values(path, {"vault_redis_password": SECRET}, env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert path.read_text(encoding="utf-8").startswith("$ANSIBLE_VAULT;1.2;AES256;prod")


def test_check_mode_writes_nothing(tmp_path: Path, vault_password_file: Path) -> None:
    env = ansible_env(vault_password_file)
    path = tmp_path / "vault.yml"
    write_vault(path, ORIGINAL, env)
    before = path.read_bytes()
    run = set_values(path, {"vault_redis_password": SECRET}, env, "--check")
    assert run.returncode == 0 and "CHANGED" in run.stdout, run.stdout
    assert path.read_bytes() == before


def test_creates_a_new_file_encrypted(tmp_path: Path, vault_password_file: Path) -> None:
    env = ansible_env(vault_password_file)
    path = tmp_path / "state.vault.yml"
    run = set_values(path, {"a": "1", "b": SECRET}, env, create=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert yaml.safe_load(vault(["view", str(path)], env)) == {"a": "1", "b": SECRET}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("plaintext", "holds vault_redis_password in plain text"),
        ("missing", "does not exist"),
        ("no_vault_password", "No vault password is loaded"),
        ("wrong_vault_password", "Cannot decrypt"),
        ("not_a_mapping", "does not hold a YAML mapping"),
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
    assert run.returncode != 0
    assert message in run.stdout + run.stderr, run.stdout + run.stderr
    assert SECRET not in run.stdout + run.stderr
    assert "old-secret-Zq9" not in run.stdout + run.stderr
    assert (path.read_bytes() if path.exists() else None) == before
