#!/usr/bin/env python3
"""Benchmarks of the role on fresh local systemd hosts (Debian 12 containers), beside an anchor.

    python bench/run.py                 # full: 3 repetitions, SSH, Mitogen, fleets of 1 and 8, rotation, backup
    python bench/run.py --short         # CI: 1 repetition, docker connection, floor/anchor/role + live change

Contenders, each on its own identical fresh host, interleaved in every repetition with the order
rotated between repetitions (so mirror, cache and machine-load effects hit all of them):
- the shell floor: the least shell work that gives the same result (and its check-only re-run);
- the anchor: the unmodified geerlingguy.redis role from ../shared/anchors (roles_path points there,
  nothing is copied), used as its README and Molecule converge use it, plus an authenticated PING;
- this role (playbooks/site.yml) with no env file and with one env file (every HSI host has one);
- over SSH (sshd in the same image, key auth, ControlPersist, pipelining): this role with one env
  file and the anchor; and this role under Mitogen's mitogen_linear strategy (full mode only);
- a fleet of 8 hosts of this role in one run (full mode only; 1 host is the one-env-file contender).
Each playbook contender has a fresh converge and an idempotent re-run (changed=0 for this role).
After the one-env-file re-run: a live change (maxmemory, policy, appendfsync) under an HSI-like
client load (molecule/shared/files/hsi_load.py, run in the host) and, in full mode, a
backup and a forced restore of the backup scenario's HSI-shaped dataset (over 50 MB,
molecule/backup/hsi_data.py) against tar of the same snapshot out of and into the host through the
same connection, then a password rotation under the queue worker of the rotation scenario.

Host creation and the test environment's adaptations are not timed. Results go to a JSON file and,
with --readme, into the tables of bench/README.md. What a run did (task counts, failures, the
per-task times of the profile) is read from its JSON output (tools/playbook_json.py).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from playbook_json import PlaybookOutputError, PlaybookRun, callback_env, json_document, parse_json

PROJECT = Path(__file__).resolve().parent.parent
ANCHORS = PROJECT.parent / "shared/anchors"
ANCHOR_ROLE = ANCHORS / "geerlingguy.redis"
IMAGE = "redis-provisioning/debian12-systemd"
SSH_IMAGE = "redis-provisioning/debian12-systemd-sshd"
VAULT = PROJECT / "molecule/inventory/group_vars/redis/vault.yml"
VAULT_KEY = PROJECT / "molecule/inventory/test-vault-password"
CLIENT = PROJECT / "molecule/rotation/files"
LOAD_CLIENT = PROJECT / "molecule/shared/files/hsi_load.py"
HSI_DATA = PROJECT / "molecule/backup/hsi_data.py"
MITOGEN_DEFAULT = PROJECT / ".cache/bench-mitogen"
PREFIX = "redis-bench-"
ENV_FILE = "/root/hsi.env"
ENV_VARS = json.dumps({"redis_client_env_files": [ENV_FILE]})
LIVE_VARS = {"redis_maxmemory": "300mb", "redis_maxmemory_policy": "allkeys-lru", "redis_appendfsync": "always"}
LIVE_RATE = 300
PYTHON_APT_SETUP = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-apt >/dev/null"
SSH_ARGS = "-o ControlMaster=auto -o ControlPersist=60s"
PLAYBOOK_TIMEOUT = 900
# What the role renders on the host; the floor writes the same files (saved from a role run).
FLOOR_FILES = {
    "redis.conf": "/etc/redis/redis.conf",
    "users.acl": "/etc/redis/users.acl",
    "redis-live.conf": "/etc/redis/redis-live.conf",
    "60-redis.conf": "/etc/sysctl.d/60-redis.conf",
    "redis-disable-thp.service": "/etc/systemd/system/redis-disable-thp.service",
    "hsi.env": ENV_FILE,
}
FLOOR_SCRIPT = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq redis-server python3-redis >/dev/null
install -o root -g redis -m 0640 /root/bench/redis.conf /etc/redis/redis.conf
install -o root -g redis -m 0640 /root/bench/users.acl /etc/redis/users.acl
install -o root -g redis -m 0640 /root/bench/redis-live.conf /etc/redis/redis-live.conf
install -m 0644 /root/bench/60-redis.conf /etc/sysctl.d/60-redis.conf
sysctl -q -p /etc/sysctl.d/60-redis.conf
install -m 0644 /root/bench/redis-disable-thp.service /etc/systemd/system/redis-disable-thp.service
install -m 0600 /root/bench/hsi.env /root/hsi.env
systemctl daemon-reload
systemctl enable -q --now redis-disable-thp.service
systemctl restart redis-server
for i in $(seq 50); do
  out=$(redis-cli --no-auth-warning 2>&1 < /root/bench/ping) && case "$out" in *PONG*) exit 0;; esac
  sleep 0.1
done
echo "no PONG: $out" >&2
exit 1
"""
# The floor's idempotent re-run: check the same things (packages, files, service, authenticated PING).
FLOOR_RERUN_SCRIPT = r"""
set -eu
test "$(dpkg-query -W -f='${db:Status-Status} ' redis-server python3-redis)" = "installed installed "
for f in redis.conf users.acl redis-live.conf; do cmp -s /root/bench/$f /etc/redis/$f; done
cmp -s /root/bench/60-redis.conf /etc/sysctl.d/60-redis.conf
cmp -s /root/bench/hsi.env /root/hsi.env
systemctl is-active -q redis-server redis-disable-thp
redis-cli --no-auth-warning < /root/bench/ping | grep -q PONG
"""
# The anchor as its README shows it (`hosts: all`, `roles: [geerlingguy.redis]`, default fact
# gathering) with the pre-task of its Molecule converge (apt cache refresh), a password, AOF and
# an authenticated PING. Written into the work directory at run time: it needs roles_path to
# point at ../shared/anchors, which the project's linters do not have.
ANCHOR_PLAYBOOK = """\
---
- name: Redis with the unmodified geerlingguy.redis role
  hosts: redis
  become: true
  vars:
    redis_requirepass: "{{ anchor_password }}"
    redis_appendonly: "yes"
    redis_appendfsync: everysec
  pre_tasks:
    - name: Update apt cache.
      ansible.builtin.apt:
        update_cache: true
        cache_valid_time: 600
  roles:
    - role: geerlingguy.redis
  post_tasks:
    - name: Authenticated PING
      ansible.builtin.command:
        argv: [redis-cli, --no-auth-warning, PING]
      environment:
        REDISCLI_AUTH: "{{ anchor_password }}"
      register: anchor_ping
      changed_when: false
      until: anchor_ping.stdout == 'PONG'
      retries: 30
      delay: 0.5
"""
SSH_IMAGE_SCRIPT = """\
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends openssh-server openssh-sftp-server >/dev/null
apt-get clean
systemctl enable ssh.service
install -d -m 0700 /root/.ssh
"""
# Read in the host, with the password on stdin: the values the live change must set and the run_id.
LIVE_PROBE = """\
import json, sys, redis
r = redis.Redis(port=6379, password=sys.stdin.readline().rstrip("\\n"), socket_timeout=5)
cfg = {k: v for key in ("maxmemory", "maxmemory-policy", "appendfsync") for k, v in r.config_get(key).items()}
print(json.dumps({"run_id": r.info("server")["run_id"], **{str(k): str(v) for k, v in cfg.items()}}))
"""
APPLY_TASK = "redis : Apply changed live settings to the running Redis (no restart) and write them to the live file"
RESTART_HANDLER = "redis : Restart Redis"


def sh(*argv: str, stdin: str | None = None, env: Mapping[str, str] | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, env=env, check=False, timeout=timeout
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:4])}... failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return proc.stdout


# --- hosts ------------------------------------------------------------------------------------------


@dataclass
class Host:
    name: str
    ssh: bool = False
    python_apt: bool = False  # python3-apt installed before the timed runs
    port: int = 0  # the published sshd port on 127.0.0.1


def ensure_ssh_image() -> str:
    """IMAGE plus sshd, built once and kept while its recipe (base image and script) is the same."""
    base = sh("docker", "image", "inspect", "-f", "{{.Id}}", IMAGE).strip()
    recipe = hashlib.sha256(f"{base}\n{SSH_IMAGE_SCRIPT}".encode()).hexdigest()[:16]
    have = subprocess.run(
        ["docker", "image", "inspect", "-f", '{{ index .Config.Labels "bench.recipe" }}', SSH_IMAGE],
        capture_output=True, text=True, check=False, timeout=60,
    ).stdout.strip()  # fmt: skip
    if have == recipe:
        return recipe
    builder = f"{PREFIX}build-sshd"
    subprocess.run(["docker", "rm", "-f", builder], capture_output=True, check=False, timeout=60)
    try:
        sh("docker", "run", "--name", builder, IMAGE, "sh", "-c", SSH_IMAGE_SCRIPT, timeout=900)
        sh(
            "docker", "commit", "--change", 'CMD ["/lib/systemd/systemd"]',
            "--change", f"LABEL bench.recipe={recipe}", builder, SSH_IMAGE,
        )  # fmt: skip
    finally:
        subprocess.run(["docker", "rm", "-f", builder], capture_output=True, check=False, timeout=60)
    print(f"built {SSH_IMAGE} (recipe {recipe})", file=sys.stderr)
    return recipe


def wait_for_systemd(name: str, tries: int = 60) -> None:
    """Until the container's systemd has booted (its bus may not be there right after `docker run`)."""
    state = ""
    for _ in range(tries):
        proc = subprocess.run(
            ["docker", "exec", name, "systemctl", "is-system-running", "--wait"],
            capture_output=True, text=True, check=False, timeout=180,
        )  # fmt: skip
        state = (proc.stdout + proc.stderr).strip()
        if proc.stdout.strip() in ("running", "degraded"):
            return
        time.sleep(1)
    raise RuntimeError(f"{name}: systemd did not boot ({state})")


class Hosts:
    """Fresh containers and what the playbooks need to reach them (docker exec or SSH on 127.0.0.1)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.key = work / "id_ed25519"
        self.known_hosts = work / "known_hosts"
        self.known_hosts.touch(mode=0o600)

    def start(self, hosts: Sequence[Host]) -> None:
        if any(h.ssh for h in hosts) and not self.key.exists():
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "redis-bench", "-f", str(self.key))
        for host in hosts:
            subprocess.run(["docker", "rm", "-f", host.name], capture_output=True, check=False, timeout=60)
            publish = ["-p", "127.0.0.1::22"] if host.ssh else []
            sh(
                "docker", "run", "-d", "--name", host.name, "--hostname", host.name, "--cap-add", "SYS_ADMIN",
                "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp", *publish,
                "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--cgroupns", "host",
                SSH_IMAGE if host.ssh else IMAGE, "/lib/systemd/systemd",
            )  # fmt: skip
        for host in hosts:
            wait_for_systemd(host.name)
            # The test environment's quirks (molecule/shared/prepare-*.yml), not timed. The apt lists are
            # made a day old, as on a host that was not just installed, so that every contender refreshes
            # them whatever the image's age (the role's cache_valid_time is an hour, the anchor's 10 min).
            sh(
                "docker", "exec", host.name, "sh", "-c",
                "mkdir -p /etc/systemd/system/redis-server.service.d && printf '[Service]\\nPrivateUsers=false\\n' "
                "> /etc/systemd/system/redis-server.service.d/10-container.conf && systemctl daemon-reload"
                # Let the role's kernel tuning work here (molecule/shared/prepare-kernel-settings.yml).
                " && mount -o remount,rw /proc/sys && mount -o remount,rw /sys"
                + (f" && {PYTHON_APT_SETUP}" if host.python_apt else "")
                + " && touch -d '1 day ago' /var/lib/apt/lists"
                # The HSI host's own env file, which the role adds REDIS_URL and REDIS_PASSWORD to.
                f" && printf 'HSI_CAMERA_ROOT=/srv/hsi/cameras\\nHSI_LOG_LEVEL=info\\n' > {ENV_FILE}"
                f" && chmod 0600 {ENV_FILE}",
            )  # fmt: skip
            if host.ssh:
                self._ssh_setup(host)

    def _ssh_setup(self, host: Host) -> None:
        pub = self.key.with_suffix(".pub").read_text(encoding="utf-8")
        sh("docker", "exec", "-i", host.name, "sh", "-c", "cat > /root/.ssh/authorized_keys", stdin=pub)
        address = sh("docker", "port", host.name, "22/tcp").split()[0]  # 127.0.0.1:PORT
        host.port = int(address.rsplit(":", 1)[1])
        keys = sh("docker", "exec", host.name, "sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub").splitlines()
        with self.known_hosts.open("a", encoding="utf-8") as out:
            out.writelines(f"[127.0.0.1]:{host.port} {' '.join(k.split()[:2])}\n" for k in keys if k.strip())
        # Wait for sshd (not timed).
        for _ in range(50):
            if subprocess.run(
                ["docker", "exec", host.name, "systemctl", "is-active", "-q", "ssh"], check=False, timeout=30
            ).returncode == 0:  # fmt: skip
                return
            time.sleep(0.2)
        raise RuntimeError(f"sshd did not start in {host.name}")

    def inventory_vars(self, host: Host) -> dict[str, object]:
        if not host.ssh:
            return {"ansible_connection": "community.docker.docker"}
        return {
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": host.port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.key),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={self.known_hosts} -o IdentitiesOnly=yes",
        }

    @staticmethod
    def remove(hosts: Sequence[Host]) -> None:
        if hosts:
            subprocess.run(
                ["docker", "rm", "-f", *(h.name for h in hosts)], capture_output=True, check=False, timeout=120
            )  # fmt: skip


# --- playbook runs ----------------------------------------------------------------------------------


@dataclass
class Timed:
    """One timed run: wall seconds, the counts of its hosts and the seconds of each task."""

    seconds: float
    stats: dict[str, dict[str, int]]
    tasks: dict[str, float] = field(default_factory=dict)


def task_seconds(document: Mapping[str, Any]) -> dict[str, float]:
    """Per task name, the seconds from its start to the last host's result (the JSON callback's
    duration; the same figures as ansible.posix.profile_tasks), summed over tasks of the same name."""
    seconds: dict[str, float] = {}
    for play in document.get("plays", []):
        for task in play.get("tasks", []):
            duration = task["task"].get("duration", {})
            if "start" in duration and "end" in duration:
                start = datetime.datetime.fromisoformat(str(duration["start"]))
                end = datetime.datetime.fromisoformat(str(duration["end"]))
                name = str(task["task"]["name"])
                seconds[name] = seconds.get(name, 0.0) + (end - start).total_seconds()
    return seconds


class Bench:
    def __init__(self, work: Path, mitogen: Path | None) -> None:
        self.work = work
        self.hosts = Hosts(work)
        self.mitogen = mitogen
        self.env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
            ANSIBLE_VAULT_PASSWORD_FILE=str(VAULT_KEY),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LIBRARY=str(PROJECT / "roles/redis/library"),
        )
        self.json_env = dict(self.env, **callback_env())
        self.vault_copy = work / "vault.yml"
        shutil.copy(VAULT, self.vault_copy)
        self.vault_copy.chmod(0o600)
        self.anchor_playbook = work / "anchor.yml"
        self.anchor_playbook.write_text(ANCHOR_PLAYBOOK, encoding="utf-8")
        # A password of the kind the anchor's README suggests (sha256sum output): its template writes
        # `requirepass` unquoted, which the role's test password (every awkward character) would break.
        self.anchor_vars = work / "anchor-vars.json"
        self.anchor_vars.write_text(json.dumps({"anchor_password": secrets.token_hex(32)}), encoding="utf-8")
        self.anchor_vars.chmod(0o600)
        self.runs = 0

    def inventory(self, hosts: Sequence[Host]) -> Path:
        self.runs += 1
        path = self.work / f"inventory-{self.runs}.json"
        inventory = {
            "redis": {
                "vars": {"redis_password": "{{ vault_redis_password }}"},
                "hosts": {h.name: self.hosts.inventory_vars(h) for h in hosts},
            }
        }
        path.write_text(json.dumps(inventory), encoding="utf-8")
        return path

    def playbook(
        self, hosts: Sequence[Host], playbook: str, *extra: str, transport: str = "docker", anchor: bool = False
    ) -> tuple[Timed, PlaybookRun]:
        env = dict(self.json_env)
        if transport in ("ssh", "mitogen"):
            # A new control socket directory for each run: every run opens its own master (as an
            # operator's next run would, minutes later), and a container removed with a master open
            # cannot hand it to the next container that gets the same port.
            control = self.work / f"cp-{self.runs + 1}"
            control.mkdir()
            env.update(ANSIBLE_SSH_ARGS=SSH_ARGS, ANSIBLE_SSH_CONTROL_PATH_DIR=str(control))
        if transport == "mitogen":
            if self.mitogen is None:
                raise RuntimeError("no Mitogen (make bench installs it into .cache/bench-mitogen)")
            env.update(
                ANSIBLE_STRATEGY_PLUGINS=str(self.mitogen / "ansible_mitogen/plugins/strategy"),
                ANSIBLE_STRATEGY="mitogen_linear",
            )
        if anchor:
            env["ANSIBLE_ROLES_PATH"] = str(ANCHORS)
            path, extra = str(self.anchor_playbook), ("-e", f"@{self.anchor_vars}", *extra)
        else:
            path, extra = str(PROJECT / "playbooks" / playbook), ("-e", f"@{self.vault_copy}", *extra)
        argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(self.inventory(hosts)), path, *extra]
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=PLAYBOOK_TIMEOUT)
        seconds = time.monotonic() - started
        try:
            run = parse_json(proc.stdout)
            tasks = task_seconds(json_document(proc.stdout))
        except PlaybookOutputError as exc:
            raise RuntimeError(
                f"{playbook} ({proc.returncode}): {exc}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
            ) from exc
        if proc.returncode != 0 or any(c["failed"] or c["unreachable"] for c in run.stats.values()):
            raise RuntimeError(f"{playbook} failed ({proc.returncode}):\n{run.summary()}\n{proc.stderr[-3000:]}")
        return Timed(seconds, run.stats, tasks), run

    def password(self) -> str:
        out = sh(str(Path(sys.executable).parent / "ansible-vault"), "view", str(self.vault_copy), env=self.env)
        match = re.search(r"^vault_redis_password:\s*(.+)$", out, re.MULTILINE)
        if not match:
            raise RuntimeError("no vault_redis_password in the vault copy")
        value = match.group(1).strip()
        return str(json.loads(value)) if value.startswith('"') else value.strip("'")

    # --- the shell floor ---
    def save_floor_files(self, host: str) -> None:
        """Keep the files the role rendered (with one env file), for the floor to write."""
        files = self.work / "floor"
        files.mkdir(exist_ok=True)
        for name, src in FLOOR_FILES.items():
            sh("docker", "cp", f"{host}:{src}", str(files / name))
        ping = files / "ping"
        ping.write_text(f"AUTH {json.dumps(self.password())}\nPING\n", encoding="utf-8")
        ping.chmod(0o600)

    def floor(self, host: Host) -> tuple[Timed, Timed]:
        """The shell floor on a fresh host (timed from the first apt-get to the PONG), then its re-run."""
        sh("docker", "cp", str(self.work / "floor"), f"{host.name}:/root/bench")
        started = time.monotonic()
        sh("docker", "exec", "-i", host.name, "sh", "-s", stdin=FLOOR_SCRIPT)
        fresh = time.monotonic() - started
        started = time.monotonic()
        sh("docker", "exec", "-i", host.name, "sh", "-s", stdin=FLOOR_RERUN_SCRIPT)
        rerun = time.monotonic() - started
        return Timed(fresh, {}), Timed(rerun, {})


# --- contenders -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    kind: str  # floor | role | anchor | fleet
    transport: str = "docker"  # docker | ssh | mitogen
    env_file: bool = False
    size: int = 1
    python_apt: bool = False  # hosts with python3-apt installed beforehand (see ROLE_ENV_MITOGEN)


FLOOR = Contender("floor", "Shell floor", "floor")
ANCHOR = Contender("anchor", "geerlingguy.redis", "anchor")
ROLE = Contender("role", "This role, no env file", "role")
ROLE_ENV = Contender("role_env", "This role, one env file", "role", env_file=True)
ROLE_ENV_SSH = Contender("role_env_ssh", "This role, one env file, SSH", "role", "ssh", env_file=True)
ANCHOR_SSH = Contender("anchor_ssh", "geerlingguy.redis, SSH", "anchor", "ssh")
# Under Mitogen the apt module cannot install python3-apt itself on a fresh host (see
# mitogen_fresh_probe): Mitogen runs on hosts that have python3-apt, beside plain SSH on the same.
ROLE_ENV_SSH_APT = Contender(
    "role_env_ssh_apt", "This role, one env file, SSH, python3-apt present", "role", "ssh", True, python_apt=True
)
ROLE_ENV_MITOGEN = Contender(
    "role_env_mitogen", "This role, one env file, SSH + Mitogen, python3-apt present", "role", "mitogen", True,
    python_apt=True,
)  # fmt: skip
FLEET = Contender("fleet_8", "This role, one env file, fleet of 8", "fleet", env_file=True, size=8)
# The first is the one whose rendered files the floor writes: the floor comes after it in repetition 1.
SHORT = [ROLE_ENV, ANCHOR, FLOOR]
FULL = [ROLE_ENV, ANCHOR, FLOOR, ROLE, ROLE_ENV_SSH, ANCHOR_SSH, ROLE_ENV_SSH_APT, ROLE_ENV_MITOGEN, FLEET]


def contender_hosts(c: Contender, rep: int) -> list[Host]:
    ssh = c.transport in ("ssh", "mitogen")
    name = f"{PREFIX}{c.key.replace('_', '-')}-{rep}"
    if c.size == 1:
        return [Host(name, ssh=ssh, python_apt=c.python_apt)]
    return [Host(f"{name}-{i}", ssh=ssh, python_apt=c.python_apt) for i in range(c.size)]


def measure(bench: Bench, c: Contender, hosts: list[Host]) -> tuple[Timed, Timed]:
    """Fresh converge and re-run of one contender on its fresh hosts."""
    if c.kind == "floor":
        return bench.floor(hosts[0])
    extra = ("-e", ENV_VARS) if c.env_file else ()
    anchor = c.kind == "anchor"
    fresh, _ = bench.playbook(hosts, "site.yml", *extra, transport=c.transport, anchor=anchor)
    rerun, _ = bench.playbook(hosts, "site.yml", *extra, transport=c.transport, anchor=anchor)
    changed = sum(s["changed"] for s in rerun.stats.values())
    if changed and not anchor:
        raise RuntimeError(f"{c.label}: the re-run changed something: {rerun.stats}")
    return fresh, rerun


def warm_up(bench: Bench) -> float:
    """Untimed: one throwaway host downloads what the contenders install, so that the first contender
    does not meet a colder mirror path than the others."""
    host = Host(f"{PREFIX}warm-up")
    bench.hosts.start([host])
    try:
        started = time.monotonic()
        sh(
            "docker", "exec", host.name, "sh", "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --download-only "
            "redis-server python3-redis python3-apt >/dev/null",
        )  # fmt: skip
        return round(time.monotonic() - started, 1)
    finally:
        Hosts.remove([host])


def mitogen_fresh_probe(bench: Bench, rep: int) -> dict[str, object]:
    """One Mitogen converge of an identical fresh host: the apt module installs python3-apt and then
    respawns under an interpreter it probes with `import apt, ansible.module_utils.basic`, which fails
    under Mitogen (its ansible package is not on the host's disk)."""
    host = Host(f"{PREFIX}mitogen-probe-{rep}", ssh=True)
    bench.hosts.start([host])
    try:
        timed, _ = bench.playbook([host], "site.yml", "-e", ENV_VARS, transport="mitogen")
        return {"ok": True, "seconds": round(timed.seconds, 1)}
    except RuntimeError as exc:
        found = re.search(r"failed: \[[^]]+\] ([^\n]+)", str(exc))
        return {"ok": False, "error": (found.group(1) if found else str(exc))[:400]}
    finally:
        Hosts.remove([host])


def live_change(bench: Bench, host: Host) -> dict[str, object]:
    """Change maxmemory 200mb -> 300mb, the policy and appendfsync with site.yml while an HSI-like
    client pushes and pops at LIVE_RATE operations/s in the host; count what the client saw."""
    password = bench.password()
    sh("docker", "cp", str(LOAD_CLIENT), f"{host.name}:/root/hsi_load.py")
    sh("docker", "exec", host.name, "rm", "-f", "/root/live-stop")
    before = json.loads(sh("docker", "exec", "-i", host.name, "python3", "-c", LIVE_PROBE, stdin=password + "\n"))
    argv = ["docker", "exec", "-i", host.name, "python3", "/root/hsi_load.py", "6379", str(LIVE_RATE)]
    secret = bench.work / "live-password"
    secret.touch(mode=0o600)
    secret.write_text(password + "\n", encoding="utf-8")
    with secret.open(encoding="utf-8") as stdin:
        client = subprocess.Popen(
            [*argv, "/root/live-stop", "120"], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    secret.unlink()
    try:
        time.sleep(2)
        timed, run = bench.playbook([host], "site.yml", "-e", ENV_VARS, "-e", json.dumps(LIVE_VARS))
        time.sleep(2)
    finally:
        subprocess.run(["docker", "exec", host.name, "touch", "/root/live-stop"], check=False, timeout=60)
        out, err = client.communicate(timeout=150)
    if client.returncode != 0:
        raise RuntimeError(f"the load client failed ({client.returncode}): {err[-2000:]}")
    report = json.loads(out)
    after = json.loads(sh("docker", "exec", "-i", host.name, "python3", "-c", LIVE_PROBE, stdin=password + "\n"))
    restarts = [r for r in run.tasks(RESTART_HANDLER, host.name, handler=True) if r.changed]
    expected = {"maxmemory": str(300 * 1024 * 1024), "maxmemory-policy": "allkeys-lru", "appendfsync": "always"}
    return {
        "seconds": round(timed.seconds, 1),
        "operations": int(report["operations"]),
        "failed": int(report["failed"]),
        "errors": report.get("errors", {}),
        "lost": int(report["lost"]),
        "run_ids_seen": int(report["run_ids"]),
        "run_id_unchanged": before["run_id"] == after["run_id"] and int(report["run_ids"]) == 1,
        "applied_live": run.task(APPLY_TASK, host.name).changed,
        "restarts": len(restarts),
        "values_set": all(after[k] == v for k, v in expected.items()),
        "before": {k: v for k, v in before.items() if k != "run_id"},
        "after": {k: v for k, v in after.items() if k != "run_id"},
    }


def rotation_under_load(bench: Bench, host: Host) -> dict[str, object]:
    """Rotate one converged host while a queue worker pushes and pops; count what it saw."""
    name = host.name
    sh("docker", "exec", name, "sh", "-c", "apt-get install -y -qq python3-dotenv >/dev/null && mkdir -p /opt/hsi")
    sh("docker", "cp", str(CLIENT / "hsi_queue_client.py"), f"{name}:/opt/hsi/hsi_queue_client.py")
    sh("docker", "cp", str(CLIENT / "hsi-queue-client.service"), f"{name}:/etc/systemd/system/hsi-queue-client.service")
    vars_file = bench.work / "rotation-vars.json"
    state_file = bench.work / "rotation.vault.yml"
    vars_file.write_text(
        json.dumps(
            {
                "redis_client_env_files": [{"path": "/opt/hsi/.env"}],
                "redis_client_services": [{"systemd": "hsi-queue-client.service"}],
                "redis_rotation_vault_file": str(bench.vault_copy),
                "redis_rotation_state_file": str(state_file),
            }
        ),
        encoding="utf-8",
    )
    try:
        bench.playbook([host], "site.yml", "-e", f"@{vars_file}")
        sh("docker", "exec", name, "sh", "-c", "systemctl daemon-reload && systemctl start hsi-queue-client")
        time.sleep(3)
        timed, run = bench.playbook([host], "rotate-password.yml", "-e", f"@{vars_file}")
        time.sleep(3)
        sh("docker", "exec", name, "systemctl", "stop", "hsi-queue-client")
    finally:
        # The rotation wrote a new password into the vault copy: the next hosts start from the test one.
        shutil.copy(VAULT, bench.vault_copy)
        state_file.unlink(missing_ok=True)
    failures = sh("docker", "exec", name, "cat", "/var/lib/hsi-load/failures.log").splitlines()
    runs = [json.loads(x) for x in sh("docker", "exec", name, "cat", "/var/lib/hsi-load/runs.jsonl").splitlines()]
    ops = sum(int(r["ops"]) for r in runs)
    busy = sum(float(r["seconds"]) for r in runs)
    # The rotation's report of the host (its debug message) says how long the host took.
    per_host = [re.search(r"([0-9.]+) s for this host", r.msg) for r in run.tasks("redis : Report this host", name)]
    return {
        "seconds": round(timed.seconds, 1),
        "host_seconds": float(per_host[0].group(1)) if per_host and per_host[0] else round(timed.seconds, 1),
        "failures": len(failures),
        "ops_per_second": round(ops / busy, 1) if busy else 0.0,
    }


def backup_restore(bench: Bench, host: Host) -> dict[str, object]:
    """Back up a converged host holding the HSI-shaped dataset of the backup scenario (over 50 MB),
    restore it with force onto the same host, and copy the same snapshot with tar out of and into the
    host through the same connection (docker exec): the floor."""
    name = host.name
    password = bench.password()
    sh("docker", "cp", str(HSI_DATA), f"{name}:/root/hsi_data.py")
    loaded = json.loads(sh("docker", "exec", "-i", name, "python3", "/root/hsi_data.py", "load", "15", "bench",
                           stdin=password + "\n", timeout=900))  # fmt: skip
    backups = bench.work / "backups"
    extra = ("-e", f"redis_backup_dir={backups}")
    backup, _ = bench.playbook([host], "backup.yml", *extra)
    folder = next(path for path in (backups / name).iterdir() if path.is_dir())
    restore, _ = bench.playbook(
        [host], "restore.yml", *extra, "-e", f"redis_restore_from={folder}", "-e", "redis_restore_force=true"
    )
    archive = bench.work / "floor.tar"
    started = time.monotonic()
    with archive.open("wb") as handle:
        subprocess.run(
            ["docker", "exec", name, "tar", "-C", "/var/lib/redis", "-cf", "-", "dump.rdb"],
            stdout=handle, check=True, timeout=600,
        )  # fmt: skip
    tar_out = time.monotonic() - started
    sh("docker", "exec", name, "mkdir", "-p", "/tmp/floor")
    started = time.monotonic()
    with archive.open("rb") as handle:
        subprocess.run(
            ["docker", "exec", "-i", name, "tar", "-C", "/tmp/floor", "-xf", "-"], stdin=handle, check=True, timeout=600
        )
    tar_in = time.monotonic() - started
    sh("docker", "exec", name, "rm", "-rf", "/tmp/floor")
    shutil.rmtree(backups, ignore_errors=True)
    size = archive.stat().st_size
    archive.unlink()
    return {
        "dataset_bytes": size,
        "keys": int(loaded["keys"]),
        "backup": round(backup.seconds, 2),
        "restore": round(restore.seconds, 2),
        "tar_out": round(tar_out, 2),
        "tar_in": round(tar_in, 2),
    }


# --- results ----------------------------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
        "n": len(values),
    }


def profile(runs: Sequence[Timed], top: int = 8) -> dict[str, object]:
    """The median seconds of each task over the repetitions, the largest first (`top` of them in `top`,
    all in `all`), and what is left of the wall time (ansible-playbook's start, inventory and playbook
    loading, the work between tasks)."""
    names = {n for r in runs for n in r.tasks}
    medians = {n: statistics.median(r.tasks.get(n, 0.0) for r in runs) for n in names}
    tasks = sorted(medians.items(), key=lambda kv: -kv[1])
    return {
        "wall": round(statistics.median(r.seconds for r in runs), 2),
        "tasks": len(tasks),
        "outside_tasks": round(statistics.median(r.seconds - sum(r.tasks.values()) for r in runs), 2),
        "top": [[n, round(s, 2)] for n, s in tasks[:top]],
        "all": [[n, round(s, 3)] for n, s in tasks],
    }


@dataclass
class Collected:
    fresh: dict[str, list[Timed]] = field(default_factory=dict)
    rerun: dict[str, list[Timed]] = field(default_factory=dict)
    probes: dict[str, dict[str, object]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    live: list[dict[str, object]] = field(default_factory=list)
    rotation: list[dict[str, object]] = field(default_factory=list)
    backup: list[dict[str, object]] = field(default_factory=list)
    load: list[str] = field(default_factory=list)


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else float("inf")


def results_of(data: Collected, contenders: Sequence[Contender]) -> dict[str, object]:
    out: dict[str, object] = {}
    for c in contenders:
        entry: dict[str, object] = {"label": c.label, "transport": c.transport, "hosts": c.size}
        if data.fresh.get(c.key):
            entry["fresh"] = summary([t.seconds for t in data.fresh[c.key]])
            entry["rerun"] = summary([t.seconds for t in data.rerun[c.key]])
            if c.kind != "floor":
                entry["rerun_changed"] = max(sum(s["changed"] for s in t.stats.values()) for t in data.rerun[c.key])
                entry["profile_fresh"] = profile(data.fresh[c.key])
                entry["profile_rerun"] = profile(data.rerun[c.key])
        out[c.key] = entry
    return out


def median_of(contenders: Mapping[str, Any], key: str, phase: str) -> float | None:
    entry = contenders.get(key, {})
    return float(entry[phase]["median"]) if phase in entry else None


def targets_of(r: Mapping[str, Any]) -> list[dict[str, object]]:
    """Each target: what it asks, the figure, and met or not. The targets are measured over the docker
    connection; the same ratios over SSH are given beside them (no target of their own)."""
    c = r["contenders"]
    rows: list[dict[str, object]] = []

    def rel(a: str, pa: str, b: str, pb: str) -> float | None:
        x, y = median_of(c, a, pa), median_of(c, b, pb)
        return ratio(x, y) if x is not None and y is not None else None

    def add(name: str, value: float | None, limit: float, unit: str = "x", target: bool = True) -> None:
        met = value is not None and value <= limit
        rows.append({"target": name, "limit": limit, "value": value, "unit": unit, "met": met if target else None})

    add(
        "Re-run with verification, one env file / geerlingguy.redis re-run",
        rel("role_env", "rerun", "anchor", "rerun"),
        0.5,
    )
    if "anchor_ssh" in c:
        add("(SSH) the same", rel("role_env_ssh", "rerun", "anchor_ssh", "rerun"), 0.5, target=False)
    add("Fresh converge, one env file / geerlingguy.redis fresh", rel("role_env", "fresh", "anchor", "fresh"), 0.7)
    if "anchor_ssh" in c:
        add("(SSH) the same", rel("role_env_ssh", "fresh", "anchor_ssh", "fresh"), 0.7, target=False)
    add("Fresh converge, one env file / shell floor", rel("role_env", "fresh", "floor", "fresh"), 3.0)
    if "fleet_8" in c:
        add("Fleet of 8 re-run / one host re-run", rel("fleet_8", "rerun", "role_env", "rerun"), 2.5)
        add("(fresh) Fleet of 8 / one host", rel("fleet_8", "fresh", "role_env", "fresh"), 2.5, target=False)
    live = r.get("live", {})
    if live:
        add("Live change under load: failed client operations", int(live["failed"]), 0, unit="")
        add("Live change under load: Redis restarts (run_id changes)", int(live["run_id_changes"]), 0, unit="")
    if "role_env_mitogen" in c:
        for phase in ("rerun", "fresh"):
            add(
                f"(Mitogen) {phase} with Mitogen / plain SSH, python3-apt present",
                rel("role_env_mitogen", phase, "role_env_ssh_apt", phase),
                1.0,
                target=False,
            )
    return rows


def fmt(s: Mapping[str, Any]) -> str:
    return f"{s['median']} s ({s['min']}-{s['max']}, n={s['n']})"


def markdown(r: Mapping[str, Any]) -> str:
    c: Mapping[str, Any] = r["contenders"]
    rows = [
        "| Contender | Connection | Fresh converge | Idempotent re-run |",
        "|---|---|---|---|",
    ]
    for entry in c.values():
        if "fresh" not in entry:
            continue
        changed = entry.get("rerun_changed", 0)
        note = f" (changed={changed})" if changed else ""
        tasks = f", {entry['profile_rerun']['tasks']} tasks" if "profile_rerun" in entry else ""
        rows.append(
            f"| {entry['label']} | {entry['transport']} | {fmt(entry['fresh'])} | {fmt(entry['rerun'])}{tasks}{note} |"
        )
    live = r.get("live")
    if live:
        rows += [
            "",
            "| Live change under load | Result |",
            "|---|---|",
            f"| site.yml run (maxmemory 200mb -> 300mb, allkeys-lru, appendfsync always) | {fmt(live['run'])} |",
            f"| Client operations at {live['rate']} ops/s (failed, lost) | {live['operations']} ({live['failed']}, "
            f"{live['lost']}) |",
            f"| Redis restarts (run_id changes, restart handler runs) | {live['run_id_changes']}, {live['restarts']} |",
            f"| Values applied live (CONFIG GET) | {'yes' if live['values_set'] else '**no**'} |",
        ]
    rot = r.get("rotation")
    if rot:
        rows += [
            "",
            f"| Password rotation under a queue worker ({rot['ops_per_second']} ops/s) | Result |",
            "|---|---|",
            f"| rotate-password.yml, one host | {fmt(rot['run'])} |",
            f"| Window of the host (accept to retire) | {fmt(rot['host'])} |",
            f"| Client-observed failures | {rot['failures']} |",
        ]
    backup = r.get("backup")
    if backup:
        mb = round(int(backup["dataset_bytes"]) / 1e6, 1)
        rows += [
            "",
            f"| Backup and restore, {backup['keys']} keys ({mb} MB snapshot) | Role | "
            "tar through the same connection |",
            "|---|---|---|",
            f"| playbooks/backup.yml (snapshot, check, fetch, Vault) | {fmt(backup['backup'])} | "
            f"{fmt(backup['tar_out'])} |",
            f"| playbooks/restore.yml with force (check, copy, swap, proof) | {fmt(backup['restore'])} | "
            f"{fmt(backup['tar_in'])} |",
        ]
    rows += ["", "| Target | Figure | Met? |", "|---|---|---|"]
    for t in r["targets"]:
        value = "n/a" if t["value"] is None else f"{t['value']}{t['unit']}"
        limit = f"<= {t['limit']}{t['unit']}" if t["unit"] else f"{t['limit']:g}"
        met = {None: "(for comparison)", True: "yes", False: "**no**"}[t["met"]]
        rows.append(f"| {t['target']} ({limit}) | {value} | {met} |")
    rows += [f"\n{r['contenders'][k]['label']} failed: `{e}`" for k, e in r.get("errors", {}).items()]
    probe = r.get("mitogen_fresh_host")
    if probe:
        result = f"{probe['seconds']} s" if probe["ok"] else f"fails: `{probe['error']}`"
        rows += ["", f"Mitogen on a fresh host (no python3-apt), fresh converge: {result}"]
    return "\n".join(rows) + "\n"


def profile_markdown(r: Mapping[str, Any]) -> str:
    rows = ["| Run | Wall | Tasks | Outside tasks | Largest tasks (median s) |", "|---|---|---|---|---|"]
    for entry in r["contenders"].values():
        for phase in ("fresh", "rerun"):
            p = entry.get(f"profile_{phase}")
            if not p:
                continue
            top = "; ".join(f"{name} {s}" for name, s in p["top"][:5])
            rows.append(
                f"| {entry['label']}, {phase} | {p['wall']} s | {p['tasks']} | {p['outside_tasks']} s | {top} |"
            )
    return "\n".join(rows) + "\n"


def replace_block(text: str, name: str, block: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    return text[: text.index(begin) + len(begin)] + "\n" + block + text[text.index(end) :]


# --- main -------------------------------------------------------------------------------------------


def run_repetition(bench: Bench, data: Collected, order: Sequence[Contender], rep: int, full: bool) -> None:
    planned = {c.key: contender_hosts(c, rep) for c in order}
    bench.hosts.start([h for hs in planned.values() for h in hs])
    try:
        for c in order:
            hosts = planned[c.key]
            print(f"[rep {rep + 1}] {c.label}", file=sys.stderr, flush=True)
            if c is ROLE_ENV_MITOGEN and "mitogen_fresh_host" not in data.probes:
                data.probes["mitogen_fresh_host"] = mitogen_fresh_probe(bench, rep)
            try:
                fresh, rerun = measure(bench, c, hosts)
            except RuntimeError as exc:
                if c is not ROLE_ENV_MITOGEN:  # an opt-in whose failure is a result; any other ends the run
                    raise
                data.errors[c.key] = " ".join(str(exc).split())[:600]
                Hosts.remove(hosts)
                continue
            data.fresh.setdefault(c.key, []).append(fresh)
            data.rerun.setdefault(c.key, []).append(rerun)
            if c is ROLE_ENV:
                if not (bench.work / "floor").exists():
                    bench.save_floor_files(hosts[0].name)
                data.live.append(live_change(bench, hosts[0]))
                if full:
                    data.backup.append(backup_restore(bench, hosts[0]))
                    data.rotation.append(rotation_under_load(bench, hosts[0]))
            Hosts.remove(hosts)
    finally:
        Hosts.remove([h for hs in planned.values() for h in hs])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="1 repetition: floor, anchor, role with one env file")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default: 1 with --short, else 3)")
    parser.add_argument("--only", default="", help="comma-separated contender keys (for trying one out)")
    parser.add_argument("--mitogen", type=Path, default=MITOGEN_DEFAULT, help="where Mitogen is (pip --target)")
    parser.add_argument("--output", type=Path, default=None, help="JSON results (default: a temporary file)")
    parser.add_argument("--readme", action="store_true", help="write the tables into bench/README.md")
    args = parser.parse_args()
    reps = args.reps or (1 if args.short else 3)
    contenders = SHORT if args.short else FULL
    if args.only:
        keys = args.only.split(",")
        contenders = [c for c in FULL if c.key in keys]
        if FLOOR in contenders and ROLE_ENV not in contenders:
            contenders.insert(0, ROLE_ENV)  # the floor writes the files the role rendered
    sh("docker", "image", "inspect", IMAGE)  # built by `make images`
    if not (ANCHOR_ROLE / "tasks/main.yml").is_file():
        raise SystemExit(f"the anchor role is missing: {ANCHOR_ROLE}")
    if any(c.transport != "docker" for c in contenders):
        if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
            raise SystemExit("the SSH contenders need the OpenSSH client (apt-get install openssh-client)")
        ensure_ssh_image()
    mitogen = args.mitogen if (args.mitogen / "ansible_mitogen").is_dir() else None

    work = Path(tempfile.mkdtemp(prefix="redis-bench-"))
    bench = Bench(work, mitogen)
    data = Collected()
    started = time.monotonic()
    try:
        data.probes["warm_up"] = {"seconds": warm_up(bench)}
        for rep in range(reps):
            data.load.append(" ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3]))
            order = contenders[rep % len(contenders) :] + contenders[: rep % len(contenders)]
            run_repetition(bench, data, order, rep, full=not args.short)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results: dict[str, object] = {
        "mode": "short" if args.short else "full",
        "date": datetime.date.today().isoformat(),
        "cores": os.cpu_count(),
        "repetitions": reps,
        "load_average_at_each_repetition": data.load,
        "anchor_commit": (ANCHOR_ROLE / ".bench-commit").read_text(encoding="utf-8").strip(),
        "ansible_core": sh(str(Path(sys.executable).parent / "ansible"), "--version").splitlines()[0],
        "mitogen": mitogen_version(mitogen),
        "ssh_args": SSH_ARGS,
        "contenders": results_of(data, contenders),
        **data.probes,
        "errors": data.errors,
    }
    if data.live:
        results["live"] = {
            "rate": LIVE_RATE,
            "run": summary([float(str(x["seconds"])) for x in data.live]),
            "operations": sum(int(str(x["operations"])) for x in data.live),
            "failed": sum(int(str(x["failed"])) for x in data.live),
            "lost": sum(int(str(x["lost"])) for x in data.live),
            "run_id_changes": sum(0 if x["run_id_unchanged"] else 1 for x in data.live),
            "restarts": sum(int(str(x["restarts"])) for x in data.live),
            "applied_live": all(bool(x["applied_live"]) for x in data.live),
            "values_set": all(bool(x["values_set"]) for x in data.live),
            "runs": data.live,
        }
    if data.rotation:
        results["rotation"] = {
            "run": summary([float(str(x["seconds"])) for x in data.rotation]),
            "host": summary([float(str(x["host_seconds"])) for x in data.rotation]),
            "failures": sum(int(str(x["failures"])) for x in data.rotation),
            "ops_per_second": statistics.median(float(str(x["ops_per_second"])) for x in data.rotation),
        }
    if data.backup:
        results["backup"] = {
            key: summary([float(str(x[key])) for x in data.backup])
            for key in ("backup", "restore", "tar_out", "tar_in")
        } | {"dataset_bytes": data.backup[0]["dataset_bytes"], "keys": data.backup[0]["keys"], "runs": data.backup}
    results["targets"] = targets_of(results)
    results["bench_seconds"] = round(time.monotonic() - started)
    output = args.output or Path(tempfile.gettempdir()) / "redis-bench-results.json"
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = markdown(results)
    print(table)
    print(profile_markdown(results))
    print(f"bench: {results['bench_seconds']} s; results in {output}")
    if args.readme:
        readme = PROJECT / "bench/README.md"
        text = replace_block(readme.read_text(encoding="utf-8"), "results", table)
        readme.write_text(replace_block(text, "profile", profile_markdown(results)), encoding="utf-8")
    return 0


def mitogen_version(path: Path | None) -> str | None:
    if path is None:
        return None
    found = sorted(path.glob("mitogen-*.dist-info"))
    return found[-1].name.removeprefix("mitogen-").removesuffix(".dist-info") if found else "unknown"


if __name__ == "__main__":
    sys.exit(main())
