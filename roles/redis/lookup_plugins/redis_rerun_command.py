# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup: the ansible-playbook command that runs a playbook with this run's inventory and vault options."""

from __future__ import annotations

import os
import shlex
from typing import Any

from ansible import context
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: redis_rerun_command
short_description: The command line that runs a playbook the way the current run was started
description:
  - Returns C(ansible-playbook) with the inventories, vault options, C(-e @file) extra-vars files,
    remote user, private key and become-password prompt of the running C(ansible-playbook), and the
    playbook given as the term, so that a message can tell the operator exactly what to run next.
  - Extra vars given inline (C(-e name=value)) are left out, since they may hold secrets; files are
    named by path only.
options:
  _terms:
    description: Path of the playbook to run.
    required: true
"""

RETURN = r"""
_raw:
  description: One command line (a string).
  type: list
  elements: str
"""


def rerun_command(playbook: str, cliargs: Any) -> str:
    """ansible-playbook with the options of cliargs that select hosts, secrets and logins."""
    words = ["ansible-playbook"]
    for inventory in cliargs.get("inventory") or ():
        words += ["-i", inventory]
    for vault_id in cliargs.get("vault_ids") or ():
        words += ["--vault-id", vault_id]
    for password_file in cliargs.get("vault_password_files") or ():
        words += ["--vault-password-file", password_file]
    if cliargs.get("ask_vault_pass"):
        words.append("--ask-vault-pass")
    for extra in cliargs.get("extra_vars") or ():
        if isinstance(extra, str) and extra.startswith("@"):
            words += ["-e", extra]
    if cliargs.get("remote_user"):
        words += ["-u", cliargs["remote_user"]]
    if cliargs.get("private_key_file"):
        words += ["--private-key", cliargs["private_key_file"]]
    if cliargs.get("become_ask_pass"):
        words.append("--ask-become-pass")
    words.append(playbook)
    return shlex.join(words)


class LookupModule(LookupBase):  # type: ignore[misc]
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
        playbook = str(terms[0])
        relative = os.path.relpath(playbook) if os.path.isabs(playbook) else playbook
        shown = playbook if relative.startswith("..") else relative
        return [rerun_command(shown, context.CLIARGS)]
