"""While a rotation is pending, site.yml refuses with the full command that finishes it."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

from test_validation import GOOD_PASSWORD, run_role

PROJECT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "redis_rerun_command", PROJECT / "roles/redis/lookup_plugins/redis_rerun_command.py"
)
assert spec and spec.loader
lookup = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lookup)


def test_command_keeps_inventories_vault_options_and_vars_files_but_no_inline_values() -> None:
    command = lookup.rerun_command(
        "playbooks/rotate-password.yml",
        {
            "inventory": ("inventory/prod", "extra hosts.yml"),
            "vault_ids": ["prod@prompt"],
            "vault_password_files": ["/etc/ansible/vault-pass"],
            "ask_vault_pass": True,
            "extra_vars": ("@secrets.yml", "redis_password=do-not-show", '{"x": 1}'),
            "remote_user": "deploy",
            "private_key_file": "~/.ssh/id_hsi",
            "become_ask_pass": True,
        },
    )
    assert shlex.split(command) == [
        "ansible-playbook",
        *("-i", "inventory/prod", "-i", "extra hosts.yml"),
        *("--vault-id", "prod@prompt", "--vault-password-file", "/etc/ansible/vault-pass", "--ask-vault-pass"),
        *("-e", "@secrets.yml", "-u", "deploy", "--private-key", "~/.ssh/id_hsi", "--ask-become-pass"),
        "playbooks/rotate-password.yml",
    ]
    assert "do-not-show" not in command


def test_the_guard_shows_the_command_of_the_refused_run(tmp_path: Path) -> None:
    state = tmp_path / ".redis-rotation.vault.yml"
    state.write_text("pending\n", encoding="utf-8")
    vault_key = tmp_path / "vault-key"
    vault_key.write_text("test vault key\n", encoding="utf-8")
    proc, run = run_role(
        tmp_path,
        {"redis_password": GOOD_PASSWORD, "redis_rotation_state_file": str(state)},
        only_validation=False,
        cli=("--vault-password-file", str(vault_key)),
    )
    message = " ".join(run.task("redis : Check that no password rotation is half done", "localhost").msg.split())
    assert proc.returncode != 0
    vars_file = tmp_path / "vars.json"
    expected = f"--vault-password-file {vault_key} -e @{vars_file} playbooks/rotate-password.yml"
    assert message.endswith(f"ansible-playbook -i localhost, {expected}"), message
