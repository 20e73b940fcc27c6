"""Every boolean option means what it says however it is passed: YAML false, `-e name=false`, `-e name=no`.

`-e name=false` reaches the role as the string "false", which Jinja treats as true. The role reads each
boolean option through `| bool` (checked statically for every option and every expression of the role),
and the validation, which reacts to most of them, proves it for real with the values as strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playbook_json import PlaybookRun
from test_validation import GOOD_PASSWORD, run_role

PROJECT = Path(__file__).resolve().parent.parent
ROLE = PROJECT / "roles/redis"
OPTIONS: dict[str, Any] = yaml.safe_load((ROLE / "meta/argument_specs.yml").read_text(encoding="utf-8"))[
    "argument_specs"
]["main"]["options"]
BOOLEANS = sorted(name for name, spec in OPTIONS.items() if spec["type"] == "bool")
# Task keywords whose values are bare Jinja expressions.
EXPRESSION_KEYS = {"when", "that", "failed_when", "changed_when", "until"}
TEMPLATE = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)


def expressions_in(node: Any, key: str | None = None) -> Iterator[str]:
    """Every Jinja expression of a parsed YAML file: conditionals, and what {{ }} and {% %} enclose."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from expressions_in(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from expressions_in(item, key)
    elif isinstance(node, str):
        if key in EXPRESSION_KEYS:
            yield node
        else:
            yield from (a or b for a, b in TEMPLATE.findall(node))


def role_expressions() -> Iterator[tuple[str, str]]:
    for path in sorted(ROLE.glob("*/*")):
        if path.parent.name in {"tasks", "handlers", "vars"} and path.suffix == ".yml":
            for expression in expressions_in(yaml.safe_load(path.read_text(encoding="utf-8"))):
                yield path.relative_to(ROLE).as_posix(), expression
        elif path.parent.name == "templates":
            text = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
            for a, b in TEMPLATE.findall(text):
                yield path.relative_to(ROLE).as_posix(), a or b


def test_there_are_boolean_options() -> None:
    assert {"redis_tls", "redis_host_tuning", "redis_exporter", "redis_verify"} <= set(BOOLEANS)


@pytest.mark.parametrize("option", BOOLEANS)
def test_the_role_reads_the_option_through_bool(option: str) -> None:
    # A quoted name (a group, groups['redis_sentinel']) is not a read of the variable.
    use = re.compile(rf"(?<![\w.'\"]){option}(?![\w'\"])")
    through_bool = re.compile(rf"(?<![\w.'\"]){option}\s*\|\s*bool\b")
    uses = [(where, e) for where, e in role_expressions() if use.search(e)]
    assert uses, f"{option} is never read"
    raw = [(where, " ".join(e.split())) for where, e in uses if len(use.findall(e)) != len(through_bool.findall(e))]
    assert not raw, f"{option} read without `| bool`: {raw}"


def run_validation(tmp_path: Path, strings: dict[str, str], extra: dict[str, Any]) -> PlaybookRun:
    """The role's validation on localhost with `strings` passed as `-e name=value` (strings)."""
    options = tuple(arg for name, value in strings.items() for arg in ("-e", f"{name}={value}"))
    _, run = run_role(tmp_path, {"redis_password": GOOD_PASSWORD, **extra}, only_validation=True, cli=options)
    return run


TLS_BROKEN = {"redis_tls_port": 6379}  # TLS on the plain port: refused when TLS is on
SWITCHES: dict[str, tuple[dict[str, Any], bool]] = {
    # option: (settings that validation refuses only when the option is true, refused when true)
    "redis_tls": (TLS_BROKEN, True),
    "redis_exporter": ({"redis_exporter_password": "short"}, True),
    "redis_host_tuning": ({"redis_sysctl": {"net.core.somaxconn": 100}}, True),
    "redis_dev_no_password": ({"redis_password": ""}, False),
    "redis_container_publish": ({"redis_install_method": "container"}, False),
    "redis_tls_client_certs": (
        {
            "redis_tls": True,
            "redis_tls_cert_file": "/etc/hostname",
            "redis_tls_key_file": "/etc/hostname",
            "redis_tls_ca_file": "/etc/hostname",
        },
        True,
    ),
    "redis_tls_check_hostname": (
        {
            "redis_tls": True,
            "redis_exporter": True,
            "redis_exporter_password": "E" * 40,
            "redis_tls_cert_file": "/etc/hostname",
            "redis_tls_key_file": "/etc/hostname",
            "redis_tls_ca_file": "/etc/hostname",
        },
        False,
    ),
}


# Every option as "false"; the reported case (redis_host_tuning) in every spelling Ansible accepts.
FALSE_CASES = [(option, "false") for option in sorted(SWITCHES)] + [
    ("redis_host_tuning", spelling) for spelling in ("no", "False", "0", "off")
]


@pytest.mark.parametrize(("option", "spelling"), FALSE_CASES)
def test_false_as_a_string_is_false(tmp_path: Path, option: str, spelling: str) -> None:
    settings, refused_when_true = SWITCHES[option]
    run = run_validation(tmp_path, {option: spelling}, settings)
    assert bool(run.failures()) != refused_when_true, (option, spelling, run.failure_messages())


@pytest.mark.parametrize("option", sorted(SWITCHES))
def test_true_as_a_string_is_true(tmp_path: Path, option: str) -> None:
    settings, refused_when_true = SWITCHES[option]
    run = run_validation(tmp_path, {option: "yes"}, settings)
    assert bool(run.failures()) == refused_when_true, (option, run.failure_messages())
