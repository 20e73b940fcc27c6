"""Real redis-server processes on free loopback ports, and a runner for the role's module."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playbook_json import callback_env, json_document

PROJECT = Path(__file__).resolve().parent.parent
ROLE = PROJECT / "roles" / "redis"
VENV_BIN = Path(sys.executable).parent


def load_python(path: Path) -> Any:
    """A Python file of the role (a plugin, a module_utils) as a module, without Ansible's loader."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load_module_utils(name: str) -> Any:
    """One of the role's module_utils (they import nothing from Ansible)."""
    return load_python(ROLE / "module_utils" / f"{name}.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    port: int
    unix_socket: Path
    password: str | None
    process: subprocess.Popen[bytes]
    workdir: Path

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.workdir / "redis.log").read_text(errors="replace")
                raise RuntimeError(f"redis-server exited with {self.process.returncode}:\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


StartRedis = Callable[..., RedisServer]


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[StartRedis]:
    """Start a real redis-server configured like the role does it: ACL file with a SHA-256 hash."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (make bootstrap installs it)")
    servers: list[RedisServer] = []

    def start(
        password: str | None = None,
        appendonly: bool = True,
        maxmemory: str = "0",
        policy: str = "noeviction",
        extra_acl: tuple[str, ...] = (),
        port: int | None = None,
        wait: bool = True,
        extra_conf: tuple[str, ...] = (),
    ) -> RedisServer:
        workdir = tmp_path / f"redis-{len(servers)}"
        workdir.mkdir()
        acl_rule = f"#{hashlib.sha256(password.encode()).hexdigest()}" if password else "nopass"
        (workdir / "users.acl").write_text(
            "\n".join([f"user default on {acl_rule} ~* &* +@all", *extra_acl]) + "\n", encoding="utf-8"
        )
        chosen_port = port or free_port()
        sock = workdir / "redis.sock"
        conf = workdir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {chosen_port}",
                    f"unixsocket {sock}",
                    "unixsocketperm 700",
                    f"dir {workdir}",
                    f"logfile {workdir / 'redis.log'}",
                    f"aclfile {workdir / 'users.acl'}",
                    f"appendonly {'yes' if appendonly else 'no'}",
                    "appendfsync everysec",
                    'save ""',
                    f"maxmemory {maxmemory}",
                    f"maxmemory-policy {policy}",
                    *extra_conf,
                ]
            )
            + "\n",
            encoding="utf-8",
        )
        process = subprocess.Popen(["redis-server", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = RedisServer(chosen_port, sock, password, process, workdir)
        servers.append(server)
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()


@dataclass
class ModuleRun:
    result: dict[str, object]
    output: str
    returncode: int


RunModule = Callable[..., ModuleRun]


def run_adhoc(
    tmp_path: Path,
    module: str,
    module_args: dict[str, object],
    secrets: object,
    check: bool = False,
    diff: bool = False,
    verbosity: int = 0,
) -> ModuleRun:
    """One of the role's modules, through real Ansible (ad hoc, JSON callback), against localhost.

    `secrets` go through a 0600 extra-vars file as `test_secrets`, never through argv: the module
    arguments refer to them with templates.
    """
    vars_file = tmp_path / "module-vars.json"
    vars_file.write_text(json.dumps({"test_secrets": secrets}), encoding="utf-8")
    vars_file.chmod(0o600)
    env = dict(
        os.environ,
        PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        ANSIBLE_LIBRARY=str(ROLE / "library"),
        ANSIBLE_MODULE_UTILS=str(ROLE / "module_utils"),
        **callback_env(),
    )
    cmd = [
        str(VENV_BIN / "ansible"),
        *("localhost", "-c", "local", "-i", "localhost,"),
        *("-e", f"ansible_python_interpreter={sys.executable}", "-e", f"@{vars_file}"),
        *("-m", module, "-a", json.dumps(module_args)),
        *(["-" + "v" * verbosity] if verbosity else []),
        *(["--check"] if check else []),
        *(["--diff"] if diff else []),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    # Verbose lines may come before the JSON document (tools/playbook_json.py finds it).
    parsed = json_document(proc.stdout) if proc.stdout.strip() else {}
    result: dict[str, object] = {}
    if parsed.get("plays"):
        result = parsed["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return ModuleRun(result, proc.stdout + proc.stderr, proc.returncode)


@pytest.fixture
def run_module(tmp_path: Path) -> RunModule:
    """Run one of the role's modules through real Ansible (ad-hoc, JSON callback) against localhost.

    Secrets go through a 0600 extra-vars file, never through argv.
    """

    def run(
        verbosity: int = 0, check: bool = False, module: str = "redis_auth_ping", diff: bool = False, **args: object
    ) -> ModuleRun:
        secrets = {k: args.pop(k) for k in ("password", "passwords", "login_passwords") if k in args}
        module_args = dict(args)
        for key in secrets:
            module_args[key] = f"{{{{ test_secrets['{key}'] }}}}"
        return run_adhoc(tmp_path, module, module_args, secrets, check=check, diff=diff, verbosity=verbosity)

    return run
