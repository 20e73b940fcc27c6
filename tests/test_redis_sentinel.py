"""redis_sentinel and redis_replication through real Ansible against real redis-server and Sentinel processes."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import RedisServer, RunModule, StartRedis, free_port

SENTINEL_PASSWORD = "Sentinel-Password-0123456789-abcdefgh"
CLIENT_PASSWORD = "Client-Password-0123456789-abcdefghij"
SENTINEL_RULES = (
    "allchannels -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info "
    "+client|setname +client|kill +script|kill"
)
CLIENT_RULES = "resetchannels -@all +ping +hello +role +auth +sentinel|get-master-addr-by-name +sentinel|masters"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def data_node(start_redis: StartRedis) -> RedisServer:
    return start_redis(
        password=CLIENT_PASSWORD,
        extra_acl=(f"user sentinel on #{sha(SENTINEL_PASSWORD)} {SENTINEL_RULES}",),
        extra_conf=("masteruser sentinel", f"masterauth {SENTINEL_PASSWORD}", "replica-announce-ip 127.0.0.1"),
    )


def bootstrap(port: int, primary: RedisServer, workdir: Path) -> str:
    return "\n".join(
        [
            "bind 127.0.0.1",
            f"port {port}",
            f"dir {workdir}",
            f"logfile {workdir / 'sentinel.log'}",
            f"sentinel monitor hsi 127.0.0.1 {primary.port} 1",
            "sentinel auth-user hsi sentinel",
            f"sentinel auth-pass hsi {SENTINEL_PASSWORD}",
            "sentinel down-after-milliseconds hsi 5000",
            "user default on nopass " + CLIENT_RULES,
            f"user sentinel on #{sha(SENTINEL_PASSWORD)} allchannels +@all",
            "",
        ]
    )


class Sentinel:
    def __init__(self, path: Path, port: int) -> None:
        self.path = path
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", str(self.path), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("Sentinel did not start")

    def admin(self) -> Any:
        return redis.Redis(port=self.port, username="sentinel", password=SENTINEL_PASSWORD, decode_responses=True)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def sentinel_file(tmp_path: Path) -> Iterator[Sentinel]:
    sentinel = Sentinel(tmp_path / "sentinel" / "sentinel.conf", free_port())
    sentinel.path.parent.mkdir()
    yield sentinel
    sentinel.stop()


def sentinel_args(sentinel: Sentinel, primary: RedisServer, **extra: object) -> dict[str, object]:
    return {
        "module": "redis_sentinel",
        "path": str(sentinel.path),
        "bootstrap_content": bootstrap(sentinel.port, primary, sentinel.path.parent),
        "owner": "root",
        "group": "root",
        "master_name": "hsi",
        "port": sentinel.port,
        "username": "sentinel",
        "password": SENTINEL_PASSWORD,
        "retries": 0,
        **extra,
    }


def test_bootstrap_once_then_live_changes_only(
    start_redis: StartRedis, run_module: RunModule, sentinel_file: Sentinel
) -> None:
    primary = data_node(start_redis)
    settings = {"quorum": "1", "down-after-milliseconds": "5000"}
    users = [{"name": "default", "rules": CLIENT_RULES}]
    checked = run_module(check=True, **sentinel_args(sentinel_file, primary, settings=settings))
    assert checked.result["changed"] is True and not sentinel_file.path.exists()

    first = run_module(verbosity=3, diff=True, **sentinel_args(sentinel_file, primary, settings=settings))
    assert first.result["changed"] is True and first.result["bootstrapped"] is True, first.output
    assert SENTINEL_PASSWORD not in first.output
    assert oct(sentinel_file.path.stat().st_mode & 0o777) == "0o640"
    sentinel_file.start()

    again = run_module(**sentinel_args(sentinel_file, primary, settings=settings, users=users))
    assert again.result["changed"] is False, (again.result["changes"], sentinel_file.admin().acl_getuser("default"))

    # Sentinel's own state in its file stays: a later run never writes the file again.
    before = sentinel_file.path.read_text()
    assert "sentinel myid" in before
    changed = run_module(
        **sentinel_args(sentinel_file, primary, settings={**settings, "down-after-milliseconds": "3000"}, users=users)
    )
    assert changed.result["changed"] is True and changed.result["changes"] == ["down-after-milliseconds"]
    admin = sentinel_file.admin()
    master = admin.execute_command("SENTINEL", "MASTER", "hsi")
    fields = master if isinstance(master, dict) else dict(zip(master[::2], master[1::2], strict=True))
    assert fields["down-after-milliseconds"] == "3000"
    assert "sentinel down-after-milliseconds hsi 3000" in sentinel_file.path.read_text()
    assert "sentinel myid" in sentinel_file.path.read_text()

    # The anonymous profile: discovery answers, administration is refused.
    anonymous: Any = redis.Redis(port=sentinel_file.port, decode_responses=True)
    assert anonymous.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "hsi") == ["127.0.0.1", str(primary.port)]
    with pytest.raises(redis.exceptions.NoPermissionError):
        anonymous.execute_command("SENTINEL", "SET", "hsi", "quorum", "2")


def test_new_passwords_and_users_are_set_live_and_persisted(
    start_redis: StartRedis, run_module: RunModule, sentinel_file: Sentinel
) -> None:
    primary = data_node(start_redis)
    run_module(**sentinel_args(sentinel_file, primary))
    sentinel_file.start()
    new = "New-Sentinel-Password-0123456789-xyz"
    users = [{"name": "sentinel", "rules": "allchannels +@all", "passwords": [SENTINEL_PASSWORD, new]}]
    check = run_module(check=True, **sentinel_args(sentinel_file, primary, users=users, sentinel_pass=new))
    changes = check.result["changes"]
    assert isinstance(changes, list)
    assert check.result["changed"] is True and set(changes) == {"user sentinel", "sentinel-pass"}
    assert f"#{sha(new)}" not in sentinel_file.path.read_text()

    result = run_module(verbosity=3, **sentinel_args(sentinel_file, primary, users=users, sentinel_pass=new))
    assert result.result["changed"] is True, result.output
    assert new not in result.output and SENTINEL_PASSWORD not in result.output
    text = sentinel_file.path.read_text()
    assert f"#{sha(new)}" in text and f"sentinel sentinel-pass {new}" in text
    assert redis.Redis(port=sentinel_file.port, username="sentinel", password=new).ping()
    assert (
        run_module(**sentinel_args(sentinel_file, primary, users=users, sentinel_pass=new)).result["changed"] is False
    )


def test_a_file_that_monitors_nothing_is_not_rewritten_without_bootstrap(
    start_redis: StartRedis, run_module: RunModule, sentinel_file: Sentinel
) -> None:
    primary = data_node(start_redis)
    sentinel_file.path.write_text("port 1\n")
    args = sentinel_args(sentinel_file, primary)
    del args["bootstrap_content"]
    result = run_module(**args)
    assert result.returncode != 0 and "does not monitor hsi yet" in result.output
    assert sentinel_file.path.read_text() == "port 1\n"


def replication_args(node: RedisServer, primary: RedisServer, **extra: object) -> dict[str, object]:
    return {
        "module": "redis_replication",
        "port": node.port,
        "username": "sentinel",
        "password": SENTINEL_PASSWORD,
        "initial_primary": f"127.0.0.1:{primary.port}",
        "self_address": f"127.0.0.1:{node.port}",
        "retries": 0,
        **extra,
    }


def role(node: RedisServer) -> list[object]:
    client: Any = redis.Redis(port=node.port, password=CLIENT_PASSWORD, decode_responses=True)
    try:
        return list(client.execute_command("ROLE"))
    finally:
        client.close()


def test_a_new_node_follows_the_inventory_primary_once(start_redis: StartRedis, run_module: RunModule) -> None:
    primary, replica = data_node(start_redis), data_node(start_redis)
    check = run_module(check=True, **replication_args(replica, primary))
    assert check.result["changed"] is True and role(replica)[0] == "master"
    first = run_module(verbosity=3, **replication_args(replica, primary))
    assert first.result["change"] == "replicaof" and first.result["primary_source"] == "inventory", first.output
    assert SENTINEL_PASSWORD not in first.output
    assert role(replica)[:3] == ["slave", "127.0.0.1", primary.port]
    assert run_module(**replication_args(replica, primary)).result["changed"] is False
    assert run_module(**replication_args(primary, primary)).result["changed"] is False


def test_the_sentinels_primary_wins_over_the_inventory(
    start_redis: StartRedis, run_module: RunModule, sentinel_file: Sentinel
) -> None:
    """After a failover the inventory still names the old primary: the module follows Sentinel, never
    demotes Sentinel's primary, and re-points only a node that acts as a primary without being it."""
    sentinels_primary, old_primary, restarted = data_node(start_redis), data_node(start_redis), data_node(start_redis)
    run_module(**sentinel_args(sentinel_file, sentinels_primary))
    sentinel_file.start()
    sentinels = [f"127.0.0.1:{sentinel_file.port}"]

    kept = run_module(**replication_args(sentinels_primary, old_primary, sentinels=sentinels))
    assert kept.result["changed"] is False and kept.result["primary_source"] == "sentinel", kept.result
    assert role(sentinels_primary)[0] == "master"

    moved = run_module(**replication_args(restarted, old_primary, sentinels=sentinels))
    assert moved.result["change"] == "replicaof"
    assert moved.result["primary"] == f"127.0.0.1:{sentinels_primary.port}"
    assert role(restarted)[:3] == ["slave", "127.0.0.1", sentinels_primary.port]
