"""redis_user_passwords through real Ansible against real redis-server processes."""

from __future__ import annotations

import hashlib
import socket
import threading

import pytest
import redis
from conftest import RedisServer, RunModule, StartRedis

OLD = "old-Password-0123456789-abcdefghijkl"
NEW = "new-Password-0123456789-ABCDEFGHIJKL \"'$`\\"


def accepts(server: RedisServer, password: str) -> bool:
    client = redis.Redis(port=server.port, password=password, socket_timeout=5)
    try:
        return bool(client.ping())
    except redis.AuthenticationError:
        return False
    finally:
        client.close()


def acl_hashes(server: RedisServer) -> set[str]:
    client = redis.Redis(port=server.port, password=NEW if accepts(server, NEW) else OLD, decode_responses=True)
    try:
        user: dict[str, list[str]] = client.acl_getuser("default")  # type: ignore[assignment]
        return set(user["passwords"])
    finally:
        client.close()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_adds_then_removes_without_restart(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=OLD)
    pid = server.process.pid

    both = run_module(module="redis_user_passwords", port=server.port, login_passwords=[NEW, OLD], passwords=[OLD, NEW])
    assert both.returncode == 0, both.output
    assert both.result["changed"] is True
    assert (both.result["added"], both.result["removed"], both.result["accepted"]) == (1, 0, 2)
    assert both.result["login_index"] == 1  # NEW was not accepted yet, OLD logged in
    assert accepts(server, OLD) and accepts(server, NEW)
    assert acl_hashes(server) == {sha(OLD), sha(NEW)}

    again = run_module(
        module="redis_user_passwords", port=server.port, login_passwords=[NEW, OLD], passwords=[OLD, NEW]
    )
    assert again.returncode == 0, again.output
    assert again.result["changed"] is False
    assert again.result["login_index"] == 0

    only_new = run_module(module="redis_user_passwords", port=server.port, login_passwords=[NEW], passwords=[NEW])
    assert only_new.returncode == 0, only_new.output
    assert (only_new.result["changed"], only_new.result["added"], only_new.result["removed"]) == (True, 0, 1)
    assert accepts(server, NEW) and not accepts(server, OLD)
    assert server.process.poll() is None and server.process.pid == pid


def test_check_mode_changes_nothing(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=OLD)
    run = run_module(
        module="redis_user_passwords", check=True, port=server.port, login_passwords=[NEW, OLD], passwords=[NEW]
    )
    assert run.returncode == 0, run.output
    assert (run.result["changed"], run.result["added"], run.result["removed"]) == (True, 1, 1)
    assert accepts(server, OLD) and not accepts(server, NEW)


class RecordingProxy:
    """A TCP proxy in front of Redis that keeps every byte the client sends."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sent = bytearray()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self.pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self.pipe, args=(upstream, client, False), daemon=True).start()

    def pipe(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        try:
            while data := source.recv(65536):
                if record:
                    self.sent.extend(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()

    def close(self) -> None:
        self.listener.close()


def test_only_hashes_reach_redis_and_no_password_in_output(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=OLD)
    proxy = RecordingProxy(server.port)
    try:
        run = run_module(
            verbosity=3, module="redis_user_passwords", port=proxy.port, login_passwords=[OLD], passwords=[OLD, NEW]
        )
    finally:
        proxy.close()
    assert run.returncode == 0, run.output
    assert accepts(server, NEW)
    assert ("#" + sha(NEW)).encode() in proxy.sent
    assert NEW.encode() not in proxy.sent
    for secret in (OLD, NEW):
        assert secret not in run.output


@pytest.mark.parametrize(
    ("server_password", "login", "failure"),
    [
        (OLD, [NEW], "wrongpass"),
        (None, [OLD], "no_password_configured"),
    ],
)
def test_failures_are_named(
    start_redis: StartRedis, run_module: RunModule, server_password: str | None, login: list[str], failure: str
) -> None:
    server = start_redis(password=server_password)
    run = run_module(module="redis_user_passwords", port=server.port, login_passwords=login, passwords=[NEW])
    assert run.returncode != 0
    assert run.result["failure"] == failure, run.output
    assert NEW not in run.output and OLD not in run.output


def test_connection_refused(run_module: RunModule) -> None:
    from conftest import free_port

    run = run_module(module="redis_user_passwords", port=free_port(), retries=0, login_passwords=[OLD], passwords=[NEW])
    assert run.returncode != 0
    assert run.result["failure"] == "connection_refused"


def test_empty_password_list_is_refused(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=OLD)
    run = run_module(module="redis_user_passwords", port=server.port, login_passwords=[OLD], passwords=[])
    assert run.returncode != 0
    assert "at least one" in str(run.result["msg"])
    assert accepts(server, OLD)
