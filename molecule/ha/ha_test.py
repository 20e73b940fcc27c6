#!/usr/bin/env python3
"""Fail the primary over under load, bring it back, converge, and rotate every credential under load.

Runs on the controller inside `molecule side_effect` (Molecule's inventory and ansible.cfg come from
the environment). The nodes are Docker containers on the scenario's own network; the controller
reaches them there, and inspects them with `docker exec`. No password is ever in an argv: redis-py
connects from this process, ansible-playbook gets them in 0600 files.

1. Failover: a client built the way the HSI backend builds its own (redis-py's Sentinel without
   Sentinel credentials, master_for with REDIS_PASSWORD, everything from the env file the role
   wrote) pushes and pops hsi:queue:* items; the primary's redis-server is SIGKILLed and kept from
   restarting. Measured: the time until writes succeed again. Checked: every write acknowledged
   more than 1 s before the kill is on the new primary.
2. The old primary comes back and rejoins as a replica of the new one; site.yml then changes
   nothing and keeps the new primary.
3. Rotation of the clients', the replication and the Sentinel password under the same load: no
   failed client operation, no replica reconnect or resync (the primary's sync counters and its
   replica connections' ids), no sentinel flags the primary down; afterwards every old password is
   refused and every new one works.
4. Backup and restore: the primary is backed up, changed, and restored with force while the
   sentinels pause; no failover (the config epochs stay), every replica then holds the restored
   data, and every sentinel runs again.
5. No password (old or new) is in any playbook output, and on the hosts the plain-text passwords are
   only in the files that must hold them, none of them readable by other users.

The report (JSON) goes to the path given; verify.yml checks it.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import redis
import yaml
from dotenv import dotenv_values
from redis.credentials import CredentialProvider
from redis.sentinel import Sentinel

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from playbook_json import PlaybookRun, printed_forms, run_playbook

ENV_FILE = "/opt/hsi/.env"
REDIS_PORT = 6379
SENTINEL_PORT = 26379
# Where each plain-text secret may be on a host (and nowhere else).
ALLOWED = {
    "vault_redis_password": {ENV_FILE},
    "vault_redis_replication_password": {"/etc/redis/redis-replication.conf"},
    "vault_redis_sentinel_password": {"/etc/redis/sentinel.conf"},
}
LOG_QUEUE = "hsi:queue:ha:log"
WORK_QUEUE = "hsi:queue:ha:work"
RESTORE_QUEUE = "hsi:queue:ha:restore"
AFTER_BACKUP_KEY = "hsi:cache:ha:after-backup"


class HaCheckError(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise HaCheckError(message)


class EnvFilePassword(CredentialProvider):
    """REDIS_PASSWORD as the env file holds it when a connection opens: what a client that the
    rotation restarted would read."""

    def __init__(self, read: Callable[[], str]) -> None:
        self.read = read

    def get_credentials(self) -> tuple[str]:
        return (self.read(),)


@dataclass
class Load:
    """An HSI-like client: producer and consumer of hsi:queue:* items through Sentinel."""

    env: dict[str, str]
    credentials: CredentialProvider | None = None
    acked: dict[int, float] = field(default_factory=dict)
    failures: list[tuple[float, str]] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)
    operations: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def client(self) -> Any:
        timeout = float(self.env.get("REDIS_SENTINEL_SOCKET_TIMEOUT") or 0.5)
        hosts = [(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in self.env["REDIS_SENTINEL_HOSTS"].split(",")]
        sentinel: Any = Sentinel(hosts, socket_timeout=timeout)  # type: ignore[no-untyped-call]
        auth: dict[str, Any] = (
            {"credential_provider": self.credentials} if self.credentials else {"password": self.env["REDIS_PASSWORD"]}
        )
        return sentinel.master_for(self.env["REDIS_SENTINEL_MASTER_NAME"], socket_timeout=timeout, **auth)

    def run(self) -> None:
        master = self.client()
        number = int(time.time() * 1000)
        while not self.stop.is_set():
            number += 1
            try:
                master.rpush(LOG_QUEUE, number)
                self.acked[number] = time.time()
                master.rpush(WORK_QUEUE, number)
                master.lpop(WORK_QUEUE)
                self.operations += 3
                self.successes.append(time.time())
            except redis.RedisError as exc:
                self.failures.append((time.time(), f"{type(exc).__name__}: {str(exc)[:120]}"))
                time.sleep(0.05)
            time.sleep(0.002)

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join(timeout=10)


class Harness:
    def __init__(self, project: Path, inventory: str, hosts: list[str], work: Path) -> None:
        self.project = project
        self.inventory = inventory
        self.hosts = hosts
        self.work = work
        self.outputs: list[str] = []
        self.secrets: set[str] = set()
        # Every host's address, the sentinel-only host's too (group redis_sentinel).
        self.address = {
            path.stem: str(yaml.safe_load(path.read_text())["redis_advertise_address"])
            for path in sorted((project / "molecule/ha/host_vars").glob("*.yml"))
        }
        self.sentinels = sorted(self.address)

    def exec(self, host: str, command: str, check_rc: bool = True) -> str:
        proc = subprocess.run(
            ["docker", "exec", host, "sh", "-c", command], capture_output=True, text=True, timeout=120, check=False
        )
        check(not check_rc or proc.returncode == 0, f"{host}: `{command}` failed: {proc.stderr.strip()}")
        return proc.stdout

    def env(self, host: str) -> dict[str, str]:
        return {k: str(v) for k, v in dotenv_values(stream=StringIO(self.exec(host, f"cat {ENV_FILE}"))).items()}

    @property
    def vault_file(self) -> Path:
        return self.work / "vault.yml"

    def vault(self) -> dict[str, str]:
        out = subprocess.run(
            ["ansible-vault", "view", str(self.vault_file)], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        return {str(k): str(v) for k, v in yaml.safe_load(out).items()}

    def node(self, host: str, password: str | None, username: str | None = None, port: int = REDIS_PORT) -> Any:
        return redis.Redis(
            host=self.address[host],
            port=port,
            username=username,
            password=password,
            socket_timeout=2,
            decode_responses=True,
        )

    def accepts(self, host: str, password: str, username: str | None = None, port: int = REDIS_PORT) -> bool:
        client = self.node(host, password, username, port)
        try:
            return bool(client.ping())
        except redis.AuthenticationError:
            return False
        finally:
            client.close()

    def sentinels_primary(self) -> set[str]:
        answers = set()
        for host in self.sentinels:
            client = self.node(host, None, port=SENTINEL_PORT)
            try:
                reply = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "hsi")
                answers.add(f"{reply[0]}:{reply[1]}" if reply else "")
            except redis.RedisError as exc:
                answers.add(f"error {exc}")
            finally:
                client.close()
        return answers

    def host_of(self, address: str) -> str:
        return next(host for host, ip in self.address.items() if f"{ip}:{REDIS_PORT}" == address)

    def primary(self) -> str:
        answers = self.sentinels_primary()
        check(len(answers) == 1 and "" not in answers, f"the sentinels disagree on the primary: {sorted(answers)}")
        return self.host_of(answers.pop())

    def replication(self, host: str, password: str) -> dict[str, Any]:
        client = self.node(host, password)
        try:
            return dict(client.info("replication"))
        finally:
            client.close()

    def playbook(self, name: str, *extra: str, verbosity: str = "") -> tuple[int, PlaybookRun, float]:
        cmd = [
            "ansible-playbook",
            "-i",
            self.inventory,
            str(self.project / "playbooks" / name),
            "-e",
            f"@{self.vault_file}",
            "-e",
            f"redis_rotation_vault_file={self.vault_file}",
            "-e",
            f"redis_rotation_state_file={self.work / '.redis-rotation.vault.yml'}",
            *extra,
        ]
        if verbosity:
            cmd.append(verbosity)
        rc, run, elapsed, text = run_playbook(cmd, self.work / f"run-{len(self.outputs) + 1:02d}-{name}.log")
        self.outputs.append(text)
        return rc, run, elapsed


def wait_for(what: str, condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if condition():
                return time.monotonic() - started
        except (redis.RedisError, HaCheckError):
            pass
        time.sleep(0.2)
    raise HaCheckError(f"timed out after {timeout} s waiting for {what}")


def failover(h: Harness, report: dict[str, Any]) -> str:
    """Kill the primary under load; return the new primary."""
    password = h.vault()["vault_redis_password"]
    old = h.primary()
    load = Load(h.env(old))
    load.start()
    time.sleep(3)
    h.exec(
        old,
        "mkdir -p /run/systemd/system/redis-server.service.d && "
        "printf '[Service]\\nRestart=no\\n' > /run/systemd/system/redis-server.service.d/zz-test-no-restart.conf && "
        "systemctl daemon-reload",
    )
    killed_at = time.time()
    h.exec(old, "systemctl kill --signal=SIGKILL redis-server.service")
    wait_for("a failed write after the kill", lambda: any(t > killed_at for t, _ in load.failures), 10)
    first_failure = min(t for t, _ in load.failures if t > killed_at)
    wait_for("writes to succeed again", lambda: any(t > first_failure for t in load.successes), 60)
    window = min(t for t in load.successes if t > first_failure) - killed_at
    time.sleep(3)
    load.finish()

    new = h.primary()
    check(new != old, f"the sentinels still name {old} as the primary")
    client = h.node(new, password)
    on_new = {int(item) for item in client.lrange(LOG_QUEUE, 0, -1)}
    client.close()
    safe = [n for n, t in load.acked.items() if t < killed_at - 1]
    recent = [n for n, t in load.acked.items() if t >= killed_at - 1]
    lost_safe = [n for n in safe if n not in on_new]
    check(safe != [], "no write was acknowledged before the kill")
    check(
        not lost_safe, f"{len(lost_safe)} writes acknowledged more than 1 s before the kill are not on the new primary"
    )
    report["failover"] = {
        "killed_primary": old,
        "new_primary": new,
        "window_seconds": round(window, 2),
        "writes_acknowledged": len(load.acked),
        "acknowledged_before_kill_minus_1s": len(safe),
        "lost_of_those": 0,
        "acknowledged_in_last_second_lost": len([n for n in recent if n not in on_new]),
        "failed_attempts_during_failover": len([t for t, _ in load.failures if t > killed_at]),
        "first_errors": sorted({message for _, message in load.failures})[:3],
    }
    return old


def rejoin(h: Harness, old: str, report: dict[str, Any]) -> None:
    password = h.vault()["vault_redis_password"]
    new = h.primary()
    h.exec(
        old,
        "rm -f /run/systemd/system/redis-server.service.d/zz-test-no-restart.conf && systemctl daemon-reload && "
        "systemctl start redis-server.service",
    )

    def follows() -> bool:
        info = h.replication(old, password)
        return (
            info.get("role") == "slave"
            and info.get("master_host") == h.address[new]
            and info.get("master_link_status") == "up"
        )

    report["rejoin_seconds"] = round(wait_for(f"{old} to replicate from {new}", follows, 60), 1)
    rc, run, elapsed = h.playbook("site.yml", verbosity="-vvv")
    check(rc == 0, f"site.yml after the failover failed: {run.failure_messages()[:3]}")
    changed = {host: run.host_stats(host)["changed"] for host in h.sentinels}
    check(all(count == 0 for count in changed.values()), f"site.yml after the failover changed something: {changed}")
    check(h.primary() == new, "site.yml after the failover moved the primary")
    report["converge_after_failover"] = {"changed": changed, "seconds": round(elapsed, 1), "primary": new}


def counters(h: Harness, password: str) -> dict[str, Any]:
    primary = h.primary()
    client = h.node(primary, password)
    try:
        stats = client.info("stats")
        replicas = sorted(str(c["id"]) for c in client.client_list(_type="replica"))
    finally:
        client.close()
    links = {}
    for host in h.hosts:
        if host != primary:
            info = h.replication(host, password)
            links[host] = {
                "status": info.get("master_link_status"),
                "sync_in_progress": info.get("master_sync_in_progress"),
            }
    return {
        "primary": primary,
        "sync_full": stats["sync_full"],
        "sync_partial_ok": stats["sync_partial_ok"],
        "replica_connection_ids": replicas,
        "links": links,
    }


def watch_sentinels(h: Harness, password: str, events: list[str], stop: threading.Event) -> list[threading.Thread]:
    """Collect the primary's +sdown/+odown and any +switch-master from every sentinel, as Sentinel's user
    (an authenticated connection stays open while its password is rotated)."""

    def watch(host: str) -> None:
        client = h.node(host, password, "sentinel", SENTINEL_PORT)
        pubsub = client.pubsub()
        pubsub.subscribe("+sdown", "+odown", "+switch-master")
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.2)
            if message and message["type"] == "message" and str(message["data"]).startswith(("master", "hsi")):
                events.append(f"{host} {message['channel']} {message['data']}")
        pubsub.close()
        client.close()

    threads = [threading.Thread(target=watch, args=(host,), daemon=True) for host in h.sentinels]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    return threads


def rotation(h: Harness, report: dict[str, Any]) -> dict[str, str]:
    old = h.vault()
    for key in ALLOWED:
        h.secrets.add(old[key])
    before = counters(h, old["vault_redis_password"])
    primary = before["primary"]
    load = Load(h.env(primary), EnvFilePassword(lambda: h.env(primary)["REDIS_PASSWORD"]))
    events: list[str] = []
    stop = threading.Event()
    watchers = watch_sentinels(h, old["vault_redis_sentinel_password"], events, stop)
    load.start()
    time.sleep(2)
    rc, run, elapsed = h.playbook("rotate-password.yml", verbosity="-vvv")
    time.sleep(2)
    load.finish()
    stop.set()
    for thread in watchers:
        thread.join(timeout=5)
    check(rc == 0, f"the rotation failed: {run.failure_messages()[:3]}")
    new = h.vault()
    for key in ALLOWED:
        h.secrets.add(new[key])
        check(new[key] != old[key], f"the rotation did not change {key}")
    after = counters(h, new["vault_redis_password"])
    check(not load.failures, f"{len(load.failures)} client operations failed during the rotation: {load.failures[:3]}")
    check(before["primary"] == after["primary"], "the primary changed during the rotation")
    check(
        (before["sync_full"], before["sync_partial_ok"]) == (after["sync_full"], after["sync_partial_ok"]),
        f"a replica resynchronised during the rotation: {before} -> {after}",
    )
    check(
        before["replica_connection_ids"] == after["replica_connection_ids"],
        f"a replica reconnected during the rotation: {before} -> {after}",
    )
    check(
        all(link["status"] == "up" for link in after["links"].values()), f"a replication link is down: {after['links']}"
    )
    check(not events, f"a sentinel flagged the primary down during the rotation: {events}")
    for host in h.hosts:
        for key, user, port in (
            ("vault_redis_password", None, REDIS_PORT),
            ("vault_redis_replication_password", "replication", REDIS_PORT),
            ("vault_redis_sentinel_password", "sentinel", REDIS_PORT),
        ):
            check(h.accepts(host, new[key], user, port), f"{host}:{port} refuses the new {key} for {user or 'default'}")
            check(not h.accepts(host, old[key], user, port), f"{host}:{port} still accepts the old {key}")
        check(h.env(host)["REDIS_PASSWORD"] == new["vault_redis_password"], f"{host}: env file has an old password")
    for host in h.sentinels:
        key = "vault_redis_sentinel_password"
        check(h.accepts(host, new[key], "sentinel", SENTINEL_PORT), f"{host}'s Sentinel refuses the new {key}")
        check(
            not h.accepts(host, old[key], "sentinel", SENTINEL_PORT), f"{host}'s Sentinel still accepts the old {key}"
        )
    per_host = {
        r.host: float(r.msg.split(" s for this host")[0].rsplit(" ", 1)[1])
        for r in run.tasks("redis : Report this host")
        if " s for this host" in r.msg
    }
    rc, health, _ = h.playbook("health.yml")
    check(rc == 0, f"health.yml failed: {health.failure_messages()[:3]}")
    views = {r.host: r.msg for r in health.tasks("redis : Report replication and Sentinel")}
    check(set(views) == set(h.hosts), f"health.yml reported replication for {sorted(views)} only")
    sentinels = len(h.sentinels)
    primary_line = (
        f"Sentinel: primary {h.address[primary]}:{REDIS_PORT} (master), 2 replicas, {sentinels} sentinels, "
        f"quorum {sentinels // 2 + 1} reachable"
    )
    for host, view in views.items():
        role = "primary | replicas 2" if host == primary else f"replica of {h.address[primary]}:{REDIS_PORT} | link up"
        check(view.startswith(role) and primary_line in view, f"health.yml on {host}: {view}")
    report["health"] = views
    report["rotation"] = {
        "seconds": round(elapsed, 1),
        "per_host_seconds": per_host,
        "client_operations": load.operations,
        "failed_client_operations": 0,
        "replica_reconnects": 0,
        "resyncs": 0,
        "sentinel_down_events": 0,
        "counters_before": before,
        "counters_after": after,
    }
    return new


def sentinel_epochs(h: Harness) -> dict[str, int]:
    """Each sentinel's config epoch for the master name: it grows with every failover."""
    epochs = {}
    for host in h.sentinels:
        client = h.node(host, None, port=SENTINEL_PORT)
        try:
            reply = client.execute_command("SENTINEL", "MASTERS")
            epochs[host] = int(next(entry for entry in reply if entry["name"] == "hsi")["config-epoch"])
        finally:
            client.close()
    return epochs


def sentinel_uptimes(h: Harness) -> dict[str, int]:
    password = h.vault()["vault_redis_sentinel_password"]
    uptimes = {}
    for host in h.sentinels:
        client = h.node(host, password, "sentinel", SENTINEL_PORT)
        try:
            uptimes[host] = int(client.info("server")["uptime_in_seconds"])
        finally:
            client.close()
    return uptimes


def backup_restore(h: Harness, report: dict[str, Any]) -> None:
    """Back the primary up, change the data, restore the backup onto the primary with force: the sentinels
    pause (no failover), the replicas copy the restored data, and the sentinels run again afterwards."""
    password = h.vault()["vault_redis_password"]
    primary = h.primary()
    backups = h.work / "backups"
    client = h.node(primary, password)
    try:
        client.delete(RESTORE_QUEUE)
        client.rpush(RESTORE_QUEUE, *range(500))
        check(client.wait(2, 5000) == 2, "the replicas did not acknowledge the test's queue items")
    finally:
        client.close()
    rc, run, backup_seconds = h.playbook("backup.yml", "-e", f"redis_backup_dir={backups}", verbosity="-vvv")
    check(rc == 0, f"backup.yml failed: {run.failure_messages()[:3]}")
    folders = sorted(path for path in backups.glob("*/*") if path.is_dir())
    check(
        [path.parent.name for path in folders] == [primary], f"backup.yml did not back up the primary only: {folders}"
    )
    client = h.node(primary, password)
    try:
        client.rpush(RESTORE_QUEUE, "after-the-backup")
        client.set(AFTER_BACKUP_KEY, "1")
        check(client.wait(2, 5000) == 2, "the replicas did not acknowledge the writes after the backup")
    finally:
        client.close()
    epochs = sentinel_epochs(h)
    rc, run, restore_seconds = h.playbook(
        "restore.yml",
        "--limit",
        primary,
        "-e",
        f"redis_backup_dir={backups}",
        "-e",
        f"redis_restore_from={folders[0]}",
        "-e",
        "redis_restore_force=true",
        verbosity="-vvv",
    )
    check(rc == 0, f"restore.yml failed: {run.failure_messages()[:3]}")
    message = run.task("redis : Report the restore", primary).msg
    check(f"The {len(h.sentinels)} sentinels were paused" in message, f"the restore's report: {message}")
    uptimes = sentinel_uptimes(h)
    check(
        all(uptime <= restore_seconds + 1 for uptime in uptimes.values()),
        f"not every sentinel was restarted by the restore ({restore_seconds:.0f} s): {uptimes}",
    )

    def restored(host: str) -> bool:
        node = h.node(host, password)
        try:
            return bool(
                node.llen(RESTORE_QUEUE) == 500
                and node.lindex(RESTORE_QUEUE, -1) == "499"
                and node.exists(AFTER_BACKUP_KEY) == 0
            )
        finally:
            node.close()

    started = time.monotonic()
    for host in h.hosts:
        wait_for(f"{host} to hold the restored data", functools.partial(restored, host), 60)
    resync = time.monotonic() - started
    check(h.primary() == primary, "the primary changed during the restore")
    check(sentinel_epochs(h) == epochs, f"a sentinel failed over during the restore: {epochs} -> {sentinel_epochs(h)}")
    sizes = {}
    for host in h.hosts:
        node = h.node(host, password)
        try:
            sizes[host] = node.dbsize()
        finally:
            node.close()
        if host != primary:
            info = h.replication(host, password)
            check(
                info.get("master_host") == h.address[primary] and info.get("master_link_status") == "up",
                f"{host} does not replicate from {primary} after the restore: {info}",
            )
    check(len(set(sizes.values())) == 1, f"the nodes hold different key counts after the restore: {sizes}")
    report["backup_restore"] = {
        "primary": primary,
        "backup_seconds": round(backup_seconds, 1),
        "restore_seconds": round(restore_seconds, 1),
        "replicas_restored_within_seconds": round(resync, 1),
        "keys_per_node": sizes,
        "config_epochs": epochs,
        "sentinel_uptimes_after": uptimes,
    }


def secrets_on_hosts(h: Harness, current: dict[str, str], report: dict[str, Any]) -> None:
    """Every host: where the plain-text passwords are (only where allowed), and who can read those files."""
    scan = (
        "import os, sys, json\n"
        "secrets = json.loads(sys.stdin.read())\n"
        "found = {}\n"
        "for root, dirs, files in os.walk('/'):\n"
        "    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ('/proc', '/sys', '/dev')]\n"
        "    for name in files:\n"
        "        path = os.path.join(root, name)\n"
        "        try:\n"
        "            if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 1 << 26:\n"
        "                continue\n"
        "            data = open(path, 'rb').read()\n"
        "        except OSError: continue\n"
        "        for key, value in secrets.items():\n"
        "            if value.encode() in data:\n"
        "                found.setdefault(key, []).append([path, oct(os.stat(path).st_mode & 0o777)])\n"
        "print(json.dumps(found))\n"
    )
    args = {key: current[key] for key in ALLOWED} | {f"old {key}": value for key, value in report["_old"].items()}
    findings: dict[str, Any] = {}
    for host in h.sentinels:
        proc = subprocess.run(
            ["docker", "exec", "-i", host, "python3", "-c", scan],
            input=json.dumps(args),
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        found = json.loads(proc.stdout)
        for key, places in found.items():
            paths = {path for path, _ in places}
            check(not key.startswith("old "), f"{host}: a retired password is still in {sorted(paths)}")
            check(paths <= ALLOWED[key], f"{host}: {key} in plain text in {sorted(paths - ALLOWED[key])}")
            check(
                all(int(mode, 8) & 0o007 == 0 for _, mode in places),
                f"{host}: {key} in a file others can read: {places}",
            )
        argv = h.exec(host, "ps -eo args")
        check(not any(value in argv for value in args.values()), f"{host}: a password is in a process's arguments")
        findings[host] = {key: sorted(path for path, _ in places) for key, places in found.items()}
    report["plain_text_secrets"] = findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--hosts", required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(mode=0o700, parents=True)
    h = Harness(args.project, args.inventory, args.hosts.split(","), args.work)
    shutil.copy(args.project / "molecule/inventory/group_vars/redis/vault.yml", h.vault_file)
    h.vault_file.chmod(0o600)
    report: dict[str, Any] = {}

    old_primary = failover(h, report)
    rejoin(h, old_primary, report)
    old = h.vault()
    new = rotation(h, report)
    backup_restore(h, report)
    report["_old"] = {key: old[key] for key in ALLOWED}
    secrets_on_hosts(h, new, report)
    del report["_old"]
    hashes = {hashlib.sha256(secret.encode()).hexdigest() for secret in h.secrets}
    for index, text in enumerate(h.outputs, start=1):
        leaked = [s for s in printed_forms(h.secrets | hashes) if s in text]
        check(not leaked, f"a password is in the output of run {index} ({h.work}/run-{index:02d}-*.log)")
    report["runs_checked_for_leaks"] = len(h.outputs)
    args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HaCheckError as exc:
        print(f"HA TEST FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
