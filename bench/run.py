#!/usr/bin/env python3
"""Benchmarks of the role on fresh local systemd hosts (Debian 12 containers).

    python bench/run.py                 # full: 3 interleaved repetitions, fleets of 1, 4 and 8
    python bench/run.py --short         # CI: 1 repetition, fleets of 1 and 2

Measures, each as median with min and max over the repetitions:
- fresh converge of one host (`playbooks/site.yml`) against a plain shell floor on an identical
  fresh host (apt-get update, install, write the same redis.conf and users.acl, restart,
  authenticated PING); runs alternate floor/role so that mirror and cache effects hit both;
- the idempotent re-run (with the verification) and its task count;
- fleets converged in one run (forks >= hosts);
- a password rotation of one host under a queue-worker load, with client-observed failures.

Host creation and the container quirk adaptation are not timed. Results go to a JSON file and,
with --readme, into the table of bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
IMAGE = "redis-provisioning/debian12-systemd"
VAULT = PROJECT / "molecule/inventory/group_vars/redis/vault.yml"
VAULT_KEY = PROJECT / "molecule/inventory/test-vault-password"
CLIENT = PROJECT / "molecule/rotation/files"
PREFIX = "redis-bench-"
FLOOR_SCRIPT = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq redis-server python3-redis >/dev/null
install -o root -g redis -m 0640 /root/bench-redis.conf /etc/redis/redis.conf
install -o root -g redis -m 0640 /root/bench-users.acl /etc/redis/users.acl
systemctl restart redis-server
for i in $(seq 50); do
  out=$(redis-cli --no-auth-warning 2>&1 < /root/bench-ping) && case "$out" in *PONG*) exit 0;; esac
  sleep 0.1
done
echo "no PONG: $out" >&2
exit 1
"""


def sh(*argv: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:4])}... failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return proc.stdout


def start_hosts(names: list[str]) -> None:
    for name in names:
        sh("docker", "rm", "-f", name)
        sh(
            "docker", "run", "-d", "--name", name, "--hostname", name, "--cap-add", "SYS_ADMIN",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
            "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--cgroupns", "host", IMAGE, "/lib/systemd/systemd",
        )  # fmt: skip
    for name in names:
        sh("docker", "exec", name, "sh", "-c", "systemctl is-system-running --wait || true")
        # The test environment's quirks (molecule/shared/prepare-*.yml), not timed.
        sh(
            "docker", "exec", name, "sh", "-c",
            "mkdir -p /etc/systemd/system/redis-server.service.d && printf '[Service]\\nPrivateUsers=false\\n' "
            "> /etc/systemd/system/redis-server.service.d/10-container.conf && systemctl daemon-reload"
            # Let the role's kernel tuning work here (molecule/shared/prepare-kernel-settings.yml).
            " && mount -o remount,rw /proc/sys && mount -o remount,rw /sys",
        )  # fmt: skip


def remove_hosts(names: list[str]) -> None:
    if names:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True, check=False)


@contextmanager
def hosts(names: list[str]) -> Iterator[list[str]]:
    start_hosts(names)
    try:
        yield names
    finally:
        remove_hosts(names)


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
            ANSIBLE_VAULT_PASSWORD_FILE=str(VAULT_KEY),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LIBRARY=str(PROJECT / "roles/redis/library"),
        )
        self.vault_copy = work / "vault.yml"
        shutil.copy(VAULT, self.vault_copy)
        self.vault_copy.chmod(0o600)

    def inventory(self, names: list[str]) -> Path:
        path = self.work / f"inventory-{len(names)}-{names[0]}.yml"
        lines = ["redis:", "  vars:", '    redis_password: "{{ vault_redis_password }}"', "  hosts:"]
        lines += [f"    {n}:\n      ansible_connection: community.docker.docker" for n in names]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def playbook(self, names: list[str], playbook: str, *extra: str) -> tuple[float, str]:
        started = time.monotonic()
        out = sh(
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i", str(self.inventory(names)), str(PROJECT / "playbooks" / playbook),
            "-e", f"@{self.vault_copy}", *extra, env=self.env,
        )  # fmt: skip
        return time.monotonic() - started, out

    def password(self) -> str:
        out = sh(str(Path(sys.executable).parent / "ansible-vault"), "view", str(self.vault_copy), env=self.env)
        match = re.search(r"^vault_redis_password:\s*(.+)$", out, re.MULTILINE)
        if not match:
            raise RuntimeError("no vault_redis_password in the vault copy")
        value = match.group(1).strip()
        return str(json.loads(value)) if value.startswith('"') else value.strip("'")

    def save_config(self, host: str) -> None:
        """Keep the redis.conf and users.acl the role rendered, for the floor to write."""
        for src, dst in (("/etc/redis/redis.conf", "bench-redis.conf"), ("/etc/redis/users.acl", "bench-users.acl")):
            sh("docker", "cp", f"{host}:{src}", str(self.work / dst))
        ping = self.work / "bench-ping"
        ping.write_text(f"AUTH {json.dumps(self.password())}\nPING\n", encoding="utf-8")
        ping.chmod(0o600)

    def floor(self, name: str) -> float:
        """The shell floor on a fresh host (timed from the first apt-get to the PONG)."""
        for file in ("bench-redis.conf", "bench-users.acl", "bench-ping"):
            sh("docker", "cp", str(self.work / file), f"{name}:/root/{file}")
        started = time.monotonic()
        sh("docker", "exec", "-i", name, "sh", "-s", stdin=FLOOR_SCRIPT)
        return time.monotonic() - started


def recap(out: str) -> dict[str, dict[str, int]]:
    result = {}
    for host, fields in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", out, re.MULTILINE):
        result[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", fields)}
    return result


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
        "n": len(values),
    }


def rotation_under_load(bench: Bench, name: str) -> dict[str, object]:
    """Rotate one converged host while a queue worker pushes and pops; count what it saw."""
    sh("docker", "exec", name, "sh", "-c", "apt-get install -y -qq python3-dotenv >/dev/null && mkdir -p /opt/hsi")
    sh("docker", "cp", str(CLIENT / "hsi_queue_client.py"), f"{name}:/opt/hsi/hsi_queue_client.py")
    sh("docker", "cp", str(CLIENT / "hsi-queue-client.service"), f"{name}:/etc/systemd/system/hsi-queue-client.service")
    vars_file = bench.work / "rotation-vars.json"
    vars_file.write_text(
        json.dumps(
            {
                "redis_client_env_files": [{"path": "/opt/hsi/.env"}],
                "redis_client_services": [{"systemd": "hsi-queue-client.service"}],
                "redis_rotation_vault_file": str(bench.vault_copy),
                "redis_rotation_state_file": str(bench.work / "rotation.vault.yml"),
            }
        ),
        encoding="utf-8",
    )
    bench.playbook([name], "site.yml", "-e", f"@{vars_file}")
    sh("docker", "exec", name, "sh", "-c", "systemctl daemon-reload && systemctl start hsi-queue-client")
    time.sleep(3)
    seconds, out = bench.playbook([name], "rotate-password.yml", "-e", f"@{vars_file}")
    time.sleep(3)
    sh("docker", "exec", name, "systemctl", "stop", "hsi-queue-client")
    failures = sh("docker", "exec", name, "cat", "/var/lib/hsi-load/failures.log").splitlines()
    runs = [json.loads(x) for x in sh("docker", "exec", name, "cat", "/var/lib/hsi-load/runs.jsonl").splitlines()]
    ops = sum(int(r["ops"]) for r in runs)
    busy = sum(float(r["seconds"]) for r in runs)
    per_host = re.findall(r"([0-9.]+) s for this host", out.replace("\n", " "))
    return {
        "seconds": seconds,
        "host_seconds": float(per_host[0]) if per_host else seconds,
        "failures": len(failures),
        "ops_per_second": round(ops / busy, 1) if busy else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="1 repetition, fleets of 1 and 2 (CI)")
    parser.add_argument("--output", type=Path, default=None, help="JSON results (default: a temporary file)")
    parser.add_argument("--readme", action="store_true", help="write the table into bench/README.md")
    args = parser.parse_args()
    reps = 1 if args.short else 3
    fleets = [1, 2] if args.short else [1, 4, 8]
    sh("docker", "image", "inspect", IMAGE)  # built by `make images`

    work = Path(tempfile.mkdtemp(prefix="redis-bench-"))
    bench = Bench(work)
    results: dict[str, object] = {"mode": "short" if args.short else "full", "cores": os.cpu_count()}
    floor: list[float] = []
    fresh: list[float] = []
    idem: list[float] = []
    idem_tasks: list[int] = []
    rotation: list[dict[str, object]] = []
    started = time.monotonic()
    try:
        for rep in range(reps):
            shutil.copy(VAULT, bench.vault_copy)  # a rotation of the previous repetition changed it
            role_host, floor_host = f"{PREFIX}role-{rep}", f"{PREFIX}floor-{rep}"
            with hosts([role_host, floor_host]):
                # Alternate the order; the floor needs the files the role rendered, so the role goes first once.
                if rep % 2 == 1:
                    floor.append(bench.floor(floor_host))
                seconds, _ = bench.playbook([role_host], "site.yml")
                fresh.append(seconds)
                if rep == 0:
                    bench.save_config(role_host)
                if rep % 2 == 0:
                    floor.append(bench.floor(floor_host))
                seconds, out = bench.playbook([role_host], "site.yml")
                counts = recap(out)[role_host]
                if counts["changed"] != 0:
                    raise RuntimeError(f"the re-run changed something: {counts}")
                idem.append(seconds)
                idem_tasks.append(counts["ok"] + counts["skipped"])
                rotation.append(rotation_under_load(bench, role_host))
        fleet_runs: dict[int, list[float]] = {n: [] for n in fleets}
        fleet_idem: dict[int, list[float]] = {n: [] for n in fleets}
        for rep in range(reps):
            for size in fleets if rep % 2 == 0 else list(reversed(fleets)):
                names = [f"{PREFIX}fleet-{i}" for i in range(size)]
                with hosts(names):
                    for runs in (fleet_runs, fleet_idem):  # fresh converge, then the re-run
                        seconds, out = bench.playbook(names, "site.yml")  # ansible.cfg: forks = 16
                        if any(c["failed"] or c["unreachable"] for c in recap(out).values()):
                            raise RuntimeError(out[-3000:])
                        runs[size].append(seconds)
        fleet = {str(n): summary(fleet_runs[n]) for n in fleets}
        fleet_rerun = {str(n): summary(fleet_idem[n]) for n in fleets}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results.update(
        floor=summary(floor),
        fresh_converge=summary(fresh),
        fresh_over_floor=round(statistics.median(fresh) / statistics.median(floor), 2),
        idempotent=summary(idem),
        idempotent_tasks=statistics.median(idem_tasks),
        fleet=fleet,
        fleet_largest_over_one=round(fleet[str(fleets[-1])]["median"] / fleet["1"]["median"], 2),
        fleet_rerun=fleet_rerun,
        fleet_rerun_largest_over_one=round(fleet_rerun[str(fleets[-1])]["median"] / fleet_rerun["1"]["median"], 2),
        rotation_run=summary([float(str(r["seconds"])) for r in rotation]),
        rotation_host=summary([float(str(r["host_seconds"])) for r in rotation]),
        rotation_client_failures=sum(int(str(r["failures"])) for r in rotation),
        rotation_load_ops_per_second=statistics.median(float(str(r["ops_per_second"])) for r in rotation),
        bench_seconds=round(time.monotonic() - started),
    )
    output = args.output or Path(tempfile.gettempdir()) / "redis-bench-results.json"
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = markdown(results, fleets)
    print(table)
    if args.readme:
        readme = PROJECT / "bench/README.md"
        text = readme.read_text(encoding="utf-8")
        begin, end = "<!-- results:begin -->", "<!-- results:end -->"
        text = text[: text.index(begin) + len(begin)] + "\n" + table + text[text.index(end) :]
        readme.write_text(text, encoding="utf-8")
    return 0


def fmt(s: object) -> str:
    d = s if isinstance(s, dict) else {}
    return f"{d['median']} s ({d['min']}-{d['max']}, n={d['n']})"


def markdown(r: dict[str, object], fleets: list[int]) -> str:
    fleet = r["fleet"] if isinstance(r["fleet"], dict) else {}
    rerun = r["fleet_rerun"] if isinstance(r["fleet_rerun"], dict) else {}
    rows = [
        "| Measure | Result | Target |",
        "|---|---|---|",
        f"| Shell floor (update, install, config, restart, PING) | {fmt(r['floor'])} | |",
        f"| Fresh converge, one host | {fmt(r['fresh_converge'])} | <= 1.5x floor: **{r['fresh_over_floor']}x** |",
        f"| Idempotent re-run with verify ({r['idempotent_tasks']} tasks, changed=0) | {fmt(r['idempotent'])} | |",
        *[f"| Fleet of {n} in one run | {fmt(fleet[str(n)])} | |" for n in fleets],
        f"| Fleet {fleets[-1]} / fleet 1 | **{r['fleet_largest_over_one']}x** | <= 2x (8 hosts) |",
        *[f"| Fleet of {n}, re-run (changed=0) | {fmt(rerun[str(n)])} | |" for n in fleets],
        f"| Fleet {fleets[-1]} / fleet 1, re-run | **{r['fleet_rerun_largest_over_one']}x** | |",
        f"| Rotation run, one host, under {r['rotation_load_ops_per_second']} ops/s | {fmt(r['rotation_run'])} | |",
        f"| Rotation window of the host (accept to retire) | {fmt(r['rotation_host'])} | |",
        f"| Client-observed failures during rotations | {r['rotation_client_failures']} | 0 |",
    ]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.exit(main())
