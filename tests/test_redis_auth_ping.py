"""redis_auth_ping against real redis-server processes, run through real Ansible."""

from __future__ import annotations

import subprocess
import threading
import time

from conftest import RunModule, StartRedis, free_port

PASSWORD = "pytest/Pa+ss=wo#rd $HOME ${USER} 'q' \"dq\" \\bs-0123456789"


def server_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=True).stdout
    return out.split("v=")[1].split()[0]


def test_authenticated_ping_returns_every_field(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD, maxmemory="5mb", policy="allkeys-lru")
    run = run_module(port=server.port, password=PASSWORD)
    assert run.returncode == 0, run.output
    result = run.result
    assert result["changed"] is False
    assert result["pong"] is True
    assert result["redis_version"] == server_version()
    assert result["auth_required"] is True
    assert result["aof_enabled"] is True
    assert result["maxmemory"] == 5 * 1024 * 1024
    assert result["maxmemory_policy"] == "allkeys-lru"
    assert result["role"] == "master"
    assert isinstance(result["latency_ms"], float) and 0 < result["latency_ms"] < 1000
    assert isinstance(result["used_memory"], int) and result["used_memory"] > 0
    assert isinstance(result["connected_clients"], int) and result["connected_clients"] >= 1
    assert result["rejected_auth"] == 0


def test_refused_logins_are_counted(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD)
    for _ in range(3):
        run_module(port=server.port, password="Wrong-password-but-long-enough-0123456789", retries=0)
    run = run_module(port=server.port, password=PASSWORD)
    assert run.returncode == 0, run.output
    assert run.result["rejected_auth"] == 3


def test_aof_disabled_is_reported(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD, appendonly=False)
    run = run_module(port=server.port, password=PASSWORD)
    assert run.returncode == 0, run.output
    assert run.result["aof_enabled"] is False
    assert run.result["maxmemory"] == 0


def test_wrong_password_is_wrongpass_and_not_echoed(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD)
    wrong = "WrongPassword-that-is-long-enough-ABCDEFGH"
    run = run_module(port=server.port, password=wrong, retries=3, verbosity=3)
    assert run.returncode != 0
    assert run.result["failed"] is True
    assert run.result["failure"] == "wrongpass"
    assert "WRONGPASS" in str(run.result["msg"])
    assert "does not match" in str(run.result["msg"])
    assert wrong not in run.output
    assert PASSWORD not in run.output


def test_missing_password_is_noauth(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD)
    run = run_module(port=server.port)
    assert run.returncode != 0
    assert run.result["failure"] == "noauth"
    assert "NOAUTH" in str(run.result["msg"]) and "none was given" in str(run.result["msg"])


def test_server_without_password_fails_when_auth_expected(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=None)
    run = run_module(port=server.port)
    assert run.returncode != 0
    assert run.result["failure"] == "auth_not_enforced"
    assert "accepted a connection without a password" in str(run.result["msg"])
    assert run.result["auth_required"] is False


def test_server_without_password_passes_in_development_mode(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=None)
    run = run_module(port=server.port, expect_auth_required=False)
    assert run.returncode == 0, run.output
    assert run.result["pong"] is True
    assert run.result["auth_required"] is False


def test_password_given_to_server_without_one_is_reported(start_redis: StartRedis, run_module: RunModule) -> None:
    # A `nopass` user accepts any password through HELLO (redis-py 5+); older clients that send
    # AUTH <password> get "called without any password configured" (see test_error_wording).
    server = start_redis(password=None)
    run = run_module(port=server.port, password=PASSWORD)
    assert run.returncode != 0
    assert run.result["failure"] == "auth_not_enforced"
    assert PASSWORD not in run.output


def test_closed_port_is_connection_refused(run_module: RunModule) -> None:
    port = free_port()
    started = time.monotonic()
    run = run_module(port=port, password=PASSWORD, retries=2, delay=0.2)
    assert run.returncode != 0
    assert run.result["failure"] == "connection_refused"
    assert f"not running or not listening on 127.0.0.1:{port}" in str(run.result["msg"])
    assert time.monotonic() - started >= 0.4  # it did wait between the tries


def test_retries_wait_for_a_starting_server(start_redis: StartRedis, run_module: RunModule) -> None:
    port = free_port()
    timer = threading.Timer(2.0, lambda: start_redis(password=PASSWORD, port=port, wait=False))
    timer.start()
    try:
        run = run_module(port=port, password=PASSWORD, retries=40, delay=0.25)
    finally:
        timer.join()
    assert run.returncode == 0, run.output
    assert run.result["pong"] is True


def test_unix_socket(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD)
    run = run_module(unix_socket=str(server.unix_socket), port=1, password=PASSWORD)
    assert run.returncode == 0, run.output
    assert run.result["auth_required"] is True


def test_acl_user_with_username(start_redis: StartRedis, run_module: RunModule) -> None:
    import hashlib

    exporter_password = "exporter-password-0123456789-abcdefghij"
    digest = hashlib.sha256(exporter_password.encode()).hexdigest()
    server = start_redis(password=PASSWORD, extra_acl=(f"user exporter on #{digest} +ping +info",))
    run = run_module(port=server.port, username="exporter", password=exporter_password)
    assert run.returncode == 0, run.output
    assert run.result["auth_required"] is True
    wrong_user = run_module(port=server.port, username="nobody", password=exporter_password)
    assert wrong_user.result["failure"] == "wrongpass"


def test_check_mode_gives_the_same_answer(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD)
    run = run_module(port=server.port, password=PASSWORD, check=True)
    assert run.returncode == 0, run.output
    assert run.result["changed"] is False
    assert run.result["pong"] is True


def test_documentation_matches_argument_spec() -> None:
    import json
    import os
    import sys
    from pathlib import Path

    import yaml

    project = Path(__file__).resolve().parent.parent
    env = dict(os.environ, ANSIBLE_CONFIG=str(project / "ansible.cfg"))
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-doc"),
            "-M",
            str(project / "roles/redis/library"),
            "-j",
            "redis_auth_ping",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    doc = json.loads(out)["redis_auth_ping"]
    documented = set(doc["doc"]["options"])
    returned = set(yaml.safe_load(doc["return"]) if isinstance(doc["return"], str) else doc["return"])
    source = (project / "roles/redis/library/redis_auth_ping.py").read_text()
    import importlib.util

    utils_spec = importlib.util.spec_from_file_location(
        "redis_connection", project / "roles/redis/module_utils/redis_connection.py"
    )
    assert utils_spec and utils_spec.loader
    utils = importlib.util.module_from_spec(utils_spec)
    utils_spec.loader.exec_module(utils)
    spec_keys = set(utils.connection_argument_spec()) | {"expect_auth_required", "read_info"}
    assert documented == spec_keys
    assert "expect_auth_required=" in source
    assert {
        "pong",
        "redis_version",
        "auth_required",
        "aof_enabled",
        "maxmemory",
        "maxmemory_policy",
        "role",
        "latency_ms",
        "primary",
        "master_link_status",
        "replication_lag",
        "connected_replicas",
    } <= returned


def test_error_wording_for_every_case() -> None:
    import importlib.util
    from pathlib import Path

    from redis import exceptions

    path = Path(__file__).resolve().parent.parent / "roles/redis/module_utils/redis_connection.py"
    spec = importlib.util.spec_from_file_location("redis_connection", path)
    assert spec and spec.loader
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    params = {"host": "10.0.0.1", "port": 6380, "unix_socket": None, "connect_timeout": 2.5}
    cases = {
        "noauth": exceptions.AuthenticationError("Authentication required."),
        "wrongpass": exceptions.AuthenticationError("invalid username-password pair or user is disabled."),
        "no_password_configured": exceptions.ResponseError(
            "AUTH <password> called without any password configured for the default user."
        ),
        "timeout": exceptions.TimeoutError("Timeout connecting to server"),
        "loading": exceptions.BusyLoadingError("Redis is loading the dataset in memory"),
        "connection_refused": exceptions.ConnectionError("Error 111 connecting to 10.0.0.1:6380."),
        "error": exceptions.ResponseError("ERR unknown command"),
    }
    for kind, exc in cases.items():
        described = utils.describe(exc, params)
        assert described.kind == kind, (kind, str(described))
        assert "10.0.0.1:6380" in str(described)
    assert "2.5s" in str(utils.describe(cases["timeout"], params))
    assert "unix socket /run/redis.sock" in str(
        utils.describe(cases["noauth"], dict(params, unix_socket="/run/redis.sock"))
    )
