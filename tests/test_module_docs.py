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


def action_plugin_options(module: str) -> set[str]:
    """`_VALID_ARGS` of the action plugin of the same name, for a module that is only documentation."""
    path = PROJECT / "roles/redis/action_plugins" / f"{module}.py"
    if not path.exists():
        return set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_VALID_ARGS" for t in node.targets
        ):
            return {str(item.value) for item in ast.walk(node.value) if isinstance(item, ast.Constant)}
    return set()


def literal_spec_options(source: str) -> set[str]:
    """Keys of a dict literal passed as `argument_spec=` to AnsibleModule."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.keyword) and node.arg == "argument_spec" and isinstance(node.value, ast.Dict):
            return {str(key.value) for key in node.value.keys if isinstance(key, ast.Constant)}
    return set()


MODULES = sorted(path.stem for path in LIBRARY.glob("redis_*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_documented_options_are_the_accepted_ones(module: str) -> None:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-M", str(LIBRARY), "-j", module],
        capture_output=True,
        text=True,
        env=dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg")),
        check=True,
    ).stdout
    options = json.loads(out)[module]["doc"]["options"]
    source = (LIBRARY / f"{module}.py").read_text(encoding="utf-8")
    shared = connection_options() if "connection_argument_spec()" in source else set()
    accepted = shared | own_options(source) | literal_spec_options(source) | action_plugin_options(module)
    assert accepted and set(options) == accepted
