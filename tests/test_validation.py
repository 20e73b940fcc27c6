"""Bad input fails in the role's validation with a clear message, before anything changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from playbook_json import TRACEBACK_ENV, PlaybookRun, callback_env, parse_json

PROJECT = Path(__file__).resolve().parent.parent
VALIDATION_TASKS = {
    task["name"]
    for part in ("node-address.yml", "validate.yml", "validate-ha.yml", "rotation-guard.yml")
    for task in yaml.safe_load((PROJECT / "roles/redis/tasks" / part).read_text(encoding="utf-8"))
} | {"Validating arguments against arg spec 'main' - Install, secure and verify Redis for HSI"}
GOOD_PASSWORD = "K7mP9xQ2nL4hR6wY8vB1tF3jD5gS0aZ/cE9uI2oA+Xk="


def run_role(
    tmp_path: Path,
    extra_vars: dict[str, object],
    only_validation: bool,
    extra_files: tuple[Path, ...] = (),
    cli: tuple[str, ...] = (),
    inventory: str = "localhost,",
) -> tuple[subprocess.CompletedProcess[str], PlaybookRun]:
    """The role on localhost in check mode: the run (its raw output, for secrets) and its results.

    extra_vars go through a 0600 file; `cli` adds options as an operator types them (`-e name=false`).
    """
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(extra_vars), encoding="utf-8")
    vars_file.chmod(0o600)
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        **callback_env(),
        **TRACEBACK_ENV,  # keeps the error of a failed no_log check in its (censored) result
    )
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            inventory,
            "--check",
            *(["--tags", "redis_validate"] if only_validation else []),
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-e",
            f"@{vars_file}",
            *[arg for path in extra_files for arg in ("-e", f"@{path}")],
            *cli,
            str(PROJECT / "tests/playbooks/role-on-localhost.yml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
        cwd=PROJECT,
    )
    return proc, parse_json(proc.stdout)


def started_role_tasks(run: PlaybookRun) -> set[str]:
    """The role's tasks (and handlers) that began, named without the `redis : ` prefix."""
    return {name.removeprefix("redis : ") for name in run.started if name.startswith("redis : ")}


CASES: dict[str, tuple[dict[str, object], str]] = {
    "empty password": ({"redis_password": ""}, "redis_password is empty"),
    "short password": ({"redis_password": "short-secret-XYZ"}, "too weak for production"),
    "newline in password": ({"redis_password": "a" * 20 + "\nsecret-after-newline-XYZ"}, "no newline, NUL"),
    "NUL in password": ({"redis_password": "a" * 40 + "\x00"}, "no newline, NUL"),
    "port out of range": ({"redis_port": 70000}, "redis_port=70000 is not a TCP port"),
    "host name as bind": ({"redis_bind": ["127.0.0.1", "localhost"]}, "not addresses: localhost"),
    "empty bind list": ({"redis_bind": []}, "redis_bind must list IP addresses"),
    "unknown deployment size": (
        {"redis_deployment_size": "huge"},
        "Unknown deployment size huge (known: small, medium, large)",
    ),
    "bad maxmemory": (
        {"redis_maxmemory": "lots"},
        "redis_maxmemory=lots or a value of redis_maxmemory_by_size is not a size",
    ),
    "unknown install method": ({"redis_install_method": "snap"}, "redis_install_method must be one of"),
    "container neither published nor networked": (
        {"redis_install_method": "container", "redis_container_publish": False},
        "publish the port (redis_container_publish) or attach a network",
    ),
    "container ulimit format": (
        {"redis_install_method": "container", "redis_container_ulimits": ["nofile 10"]},
        "entries look like nofile=10000:10000",
    ),
    "unknown container runtime": ({"redis_container_runtime": "lxc"}, "redis_container_runtime must be one of"),
    "unknown eviction policy": ({"redis_maxmemory_policy": "evict-all"}, "redis_maxmemory_policy must be one of"),
    "relative env file": ({"redis_client_env_files": [{"path": "hsi/.env"}]}, "is not an absolute path"),
    "env file without path": (
        {"redis_client_env_files": [{"owner": "root"}]},
        "is neither a path nor a {path, owner, group} item",
    ),
    "env file directory missing": (
        {"redis_client_env_files": [{"path": "/nonexistent-hsi/.env"}]},
        "the directory /nonexistent-hsi of /nonexistent-hsi/.env does not exist",
    ),
    "env file owner missing": (
        {"redis_client_env_files": [{"path": "/tmp/hsi.env", "owner": "no-such-user-hsi"}]},
        "user 'no-such-user-hsi' does not exist",
    ),
    "env file group missing": (
        {"redis_client_env_files": [{"path": "/tmp/hsi.env", "group": "no-such-group-hsi"}]},
        "group 'no-such-group-hsi' does not exist",
    ),
    "bad size in table": ({"redis_maxmemory_by_size": {"small": "1tb", "medium": "200mb"}}, "is not a size"),
    "directive injection": ({"redis_extra_config": {"loglevel": "notice\nrequirepass x"}}, "on one line"),
    "bad directive name": ({"redis_extra_config": {"Bad Key": "1"}}, "lower-case directive name"),
    "client service of no kind": (
        {"redis_client_services": [{}]},
        "one of the following is required: systemd, command",
    ),
    "client service of two kinds": (
        {"redis_client_services": [{"systemd": "hsi.service", "command": ["true"]}]},
        "parameters are mutually exclusive: systemd|command",
    ),
    "rotation in progress": (
        {"redis_rotation_state_file": "/etc/hostname"},
        "A password rotation is in progress (/etc/hostname exists)",
    ),
    "TLS file that does not exist": (
        {
            "redis_tls": True,
            "redis_tls_cert_file": "/nonexistent-hsi/server.crt",
            "redis_tls_key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
            "redis_tls_ca_file": "/etc/hostname",
        },
        "The file /nonexistent-hsi/server.crt does not exist or is not absolute.",
    ),
    "TLS key that is not PEM": (
        {
            "redis_tls": True,
            "redis_tls_cert_file": "/etc/hostname",
            "redis_tls_key": "secret",
            "redis_tls_ca_file": "/etc/hostname",
        },
        "The value of redis_tls_key is not PEM.",
    ),
    "TLS without a key": (
        {"redis_tls": True, "redis_tls_cert_file": "/etc/hostname", "redis_tls_ca_file": "/etc/hostname"},
        "TLS server key: set exactly one of redis_tls_key_file",
    ),
    "mutual TLS without a client certificate": (
        {"redis_tls": True, "redis_tls_client_certs": True},
        "mutual TLS (redis_tls_client_certs) needs a client certificate",
    ),
    "TLS on the plain port": ({"redis_tls": True, "redis_tls_port": 6379}, "must be a TCP port other than redis_port"),
    "TLS client key without its certificate": (
        {
            "redis_tls": True,
            "redis_tls_cert_file": "/etc/hostname",
            "redis_tls_key_file": "/etc/hostname",
            "redis_tls_ca_file": "/etc/hostname",
            "redis_tls_client_key_file": "/etc/hostname",
        },
        "a client key needs its client certificate",
    ),
    "container gid of a login account": (
        {"redis_install_method": "container", "redis_container_gid": 0},
        "redis_container_gid=0 is also the group of root on this host",
    ),
    "container gid of a daemon account": (
        {"redis_install_method": "container", "redis_container_gid": 65534},
        "redis_container_gid=65534 is also the group of",  # nobody and others, depending on the host
    ),
    "exporter container gid of a login account": (
        {
            "redis_install_method": "container",
            "redis_exporter": True,
            "redis_exporter_password": "E" * 40,
            "redis_exporter_container_gid": 0,
        },
        "redis_exporter_container_gid=0 is also the group of root on this host",
    ),
    "exporter password too short": (
        {"redis_exporter": True, "redis_exporter_password": "short-exporter-secret"},
        "redis_exporter_password must be set (from the vault), at least 32 characters",
    ),
    "exporter container without a published port": (
        {
            "redis_install_method": "container",
            "redis_container_publish": False,
            "redis_container_network": "hsi",
            "redis_exporter": True,
            "redis_exporter_password": "E" * 40,
        },
        "or as a container next to a Redis container whose port is published",
    ),
    "unknown package source": ({"redis_package_source": "ppa"}, "redis_package_source must be one of"),
    "package repository that is not a URL": (
        {"redis_package_source": "redis", "redis_package_repo_url": "packages.redis.io"},
        "redis_package_repo_url must be an http(s):// or file:// URL (packages.redis.io)",
    ),
    "package key file that does not exist": (
        {"redis_package_source": "redis", "redis_package_repo_key": "/nonexistent-hsi/redis.asc"},
        "the absolute path of an ASCII-armored public key on the controller (/nonexistent-hsi/redis.asc",
    ),
    "package key file that is not an armored key": (
        {"redis_package_source": "redis", "redis_package_repo_key": "/etc/hostname"},
        "the absolute path of an ASCII-armored public key on the controller (/etc/hostname",
    ),
    "version line without Redis's packages": (
        {"redis_package_version": "7.4.*"},
        "applies only to redis_package_source=redis",
    ),
    "version line that is not a version": (
        {"redis_package_source": "redis", "redis_package_version": "latest"},
        "is a line such as 7.4.* or 7.* or an exact 7.4.2",
    ),
    "minimum version that is not a version": (
        {"redis_min_version": "7.4-rc1"},
        "redis_min_version (7.4-rc1) looks like 7.4",
    ),
    "unsupported OS family": ({"test_os_family": "Gentoo"}, "Unsupported OS family Gentoo"),
    "vault variable missing": ({"redis_password": "{{ vault_redis_password }}"}, "vault_redis_password"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_fails_before_any_change(tmp_path: Path, case: str) -> None:
    extra, message = CASES[case]
    extra_vars: dict[str, object] = {"redis_password": GOOD_PASSWORD, **extra}
    # The whole role, in check mode: validation must stop it before any other task starts.
    proc, run = run_role(tmp_path, extra_vars, only_validation=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, run.summary()
    assert any(message in failure for failure in run.failure_messages()), run.summary()
    started = started_role_tasks(run)
    assert started <= VALIDATION_TASKS, started - VALIDATION_TASKS
    password = extra_vars.get("redis_password")
    if isinstance(password, str) and password and "{{" not in password:
        assert password not in output


def test_missing_vault_password_fails_before_any_change(tmp_path: Path) -> None:
    """The password is vault-encrypted but the run has no vault password: a clear error, nothing run."""
    key = tmp_path / "vault-key"
    key.write_text("a test vault key\n", encoding="utf-8")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    encrypted = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-vault"),
            "encrypt_string",
            "--vault-password-file",
            str(key),
            "--stdin-name",
            "vault_redis_password",
        ],
        input=GOOD_PASSWORD,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    vault_file = tmp_path / "vault.yml"
    vault_file.write_text(encrypted, encoding="utf-8")
    proc, run = run_role(tmp_path, {"redis_password": "{{ vault_redis_password }}"}, False, (vault_file,))
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, run.summary()
    failures = " ".join(run.failure_messages()).lower()
    assert "no vault secrets" in failures or "vault password" in failures, run.summary()
    started = started_role_tasks(run)
    assert started <= VALIDATION_TASKS, started - VALIDATION_TASKS
    assert GOOD_PASSWORD not in output


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"redis_password": "", "redis_dev_no_password": True},
        {"redis_bind": ["0.0.0.0", "-::1", "10.0.0.5"], "redis_maxmemory": "1gb", "redis_port": 6380},
        {"redis_client_env_files": [{"path": "/tmp/hsi.env", "owner": "root", "group": "root"}]},
        {"redis_client_env_files": ["/tmp/hsi.env"]},
        {"redis_extra_config": {"tcp-keepalive": 60, "loglevel": "verbose"}},
        {"redis_client_services": [{"systemd": "hsi.service"}, {"command": ["docker", "compose", "up"], "chdir": "/"}]},
        {
            "redis_tls": True,
            "redis_tls_plaintext": False,
            "redis_tls_client_certs": True,
            "redis_tls_cert_file": "/etc/hostname",
            "redis_tls_key_file": "/etc/hostname",
            "redis_tls_ca": "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
            "redis_tls_client_cert_file": "/etc/hostname",
            "redis_tls_client_key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
        },
        {
            "redis_install_method": "container",
            "redis_tls": True,
            "redis_tls_plaintext": False,
            "redis_tls_cert_file": "/etc/hostname",
            "redis_tls_key_file": "/etc/hostname",
            "redis_tls_ca_file": "/etc/hostname",
            "redis_exporter": False,
        },
        {"redis_install_method": "container", "redis_exporter": True, "redis_exporter_password": "E" * 40},
        {"redis_package_source": "redis", "redis_package_version": "7.4.*", "redis_min_version_enforce": True},
    ],
    ids=[
        "defaults",
        "development mode without password",
        "custom network and memory",
        "env file",
        "env file as a plain path",
        "extra config",
        "client services",
        "mutual TLS",
        "TLS in a container",
        "exporter in a container",
        "Redis's packages held at a line",
    ],
)
def test_good_input_passes_validation(tmp_path: Path, extra: dict[str, object]) -> None:
    proc, run = run_role(tmp_path, {"redis_password": GOOD_PASSWORD, **extra}, only_validation=True)
    assert proc.returncode == 0, run.summary() + proc.stderr
    assert run.host_stats("localhost")["failed"] == 0, run.summary()
