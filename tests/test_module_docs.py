"""The modules' documentation (with the shared doc fragment) lists exactly the options they accept."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
LIBRARY = PROJECT / "roles/redis/library"


def connection_options() -> set[str]:
    path = PROJECT / "roles/redis/module_utils/redis_connection.py"
    spec = importlib.util.spec_from_file_location("redis_connection", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return set(module.connection_argument_spec())


def own_options(source: str) -> set[str]:
    """Keyword names of the module's `argument_spec.update(...)` call."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "update"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "argument_spec"
        ):
            return {kw.arg for kw in node.keywords if kw.arg}
    return set()


@pytest.mark.parametrize("module", ["redis_auth_ping", "redis_user_passwords"])
def test_documented_options_are_the_accepted_ones(module: str) -> None:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-M", str(LIBRARY), "-j", module],
        capture_output=True,
        text=True,
        env=dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg")),
        check=True,
    ).stdout
    options = json.loads(out)[module]["doc"]["options"]
    accepted = connection_options() | own_options((LIBRARY / f"{module}.py").read_text(encoding="utf-8"))
    assert set(options) == accepted
