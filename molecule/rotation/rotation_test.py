#!/usr/bin/env python3
"""Drive playbooks/rotate-password.yml against the Molecule hosts and check every promise.

Runs on the controller inside `molecule side_effect` (it uses Molecule's inventory and
ansible.cfg from the environment). The hosts are Docker containers, inspected with `docker exec`;
passwords go to redis-cli on stdin and to ansible-playbook in 0600 files, never in argv.

1. check mode changes nothing;
2. a rotation is killed (SIGKILL) after each of its steps and resumed, with checks in between:
   every host accepts the password in its env file, a restart of the ACL file (ACL LOAD) keeps
   both passwords while both are meant to be valid, site.yml refuses to run mid-rotation;
3. a rotation with a given password runs uninterrupted and is timed;
4. site.yml afterwards changes nothing; Redis never restarted; no secret in any output.

The report (JSON) goes to the path given; verify.yml checks it together with the client logs.
Every run prints its events as JSON lines (ansible.posix.jsonl, tools/playbook_json.py): what a run
did is read from them, and a run is killed at the event that starts a step's play.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path

from dotenv import dotenv_values

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from playbook_json import JSONL_CALLBACK, TRACEBACK_ENV, JsonlReader, PlaybookRun, callback_env, printed_forms

ENV_FILE = "/opt/hsi/.env"
ACL_FILE = "/etc/redis/users.acl"
STEPS = 7


class RotationCheckError(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise RotationCheckError(message)


def redis_cli_quote(text: str) -> str:
    """A redis-cli argument that survives its line parser whatever the characters."""
    return '"' + "".join(f"\\x{b:02x}" for b in text.encode()) + '"'


@dataclass
class Harness:
    project: Path
    inventory: str
    hosts: list[str]
    work: Path
    outputs: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)

    # --- hosts ----------------------------------------------------------------------------
    def exec(self, host: str, script: str, stdin: str = "") -> str:
        proc = subprocess.run(
            ["docker", "exec", "-i", host, "sh", "-c", script],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        check(proc.returncode == 0, f"{host}: `{script}` failed: {proc.stderr.strip()}")
        return proc.stdout

    def redis(self, host: str, password: str, *commands: str) -> list[str]:
        lines = [f"AUTH {redis_cli_quote(password)}", *commands]
        out = self.exec(host, "redis-cli --no-raw", "\n".join(lines) + "\n")
        return out.splitlines()

    def accepts(self, host: str, password: str) -> bool:
        reply = self.redis(host, password, "PING")
        if reply[:2] == ["OK", "PONG"]:
            return True
        check("WRONGPASS" in reply[0], f"{host}: unexpected AUTH reply {reply[0]!r}")
        return False

    def run_id(self, host: str, password: str) -> str:
        for line in self.redis(host, password, "INFO server"):
            if line.startswith("run_id:"):
                return line.split(":", 1)[1].strip()
        raise RotationCheckError(f"{host}: no run_id in INFO")

    def env_password(self, host: str) -> str:
        values = dotenv_values(stream=StringIO(self.exec(host, f"cat {ENV_FILE}")))
        return str(values["REDIS_PASSWORD"])

    def acl_hashes(self, host: str) -> set[str]:
        return set(re.findall(r"#([0-9a-f]{64})", self.exec(host, f"cat {ACL_FILE}")))

    # --- controller -------------------------------------------------------------------------
    def vault_view(self, path: Path) -> dict[str, str]:
        out = subprocess.run(
            ["ansible-vault", "view", str(path)], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        import yaml  # ansible's dependency, present in the venv

        data = yaml.safe_load(out)
        return {str(k): str(v) for k, v in data.items()}

    @property
    def vault_file(self) -> Path:
        return self.work / "vault.yml"

    @property
    def state_file(self) -> Path:
        return self.work / ".redis-rotation.vault.yml"

    def playbook(
        self, name: str, *extra: str, kill_before_step: int = 0, verbosity: str = "-vvv"
    ) -> tuple[int, PlaybookRun, float]:
        """Run a playbook; with kill_before_step, SIGKILL it as soon as that step's play begins.

        Its whole output (events and verbose lines) is kept for the search for secrets. With the
        tracebacks of errors, the events hold every error the default callback would show."""
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
            f"redis_rotation_state_file={self.state_file}",
            *extra,
        ]
        if verbosity:
            cmd.append(verbosity)
        started = time.monotonic()
        env = dict(os.environ, **callback_env(JSONL_CALLBACK), **TRACEBACK_ENV)
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, env=env
        )
        assert proc.stdout is not None
        output: list[str] = []
        reader = JsonlReader()
        killed = False
        for line in proc.stdout:
            output.append(line)
            event = reader.feed(line)
            if (
                kill_before_step
                and not killed
                and event
                and event["_event"] == "v2_playbook_on_play_start"
                and event["play"]["name"].startswith(f"Rotation {kill_before_step}/{STEPS}")
            ):
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
        rc = proc.wait()
        elapsed = time.monotonic() - started
        text = "".join(output)
        self.outputs.append(text)
        log = self.work / f"run-{len(self.outputs):02d}-{name}.log"
        log.write_text(text, encoding="utf-8")
        if kill_before_step:
            check(killed, f"the run ended before step {kill_before_step} began (rc={rc}); see {log}")
        return rc, reader.run, elapsed

    def all_accept_their_env_password(self) -> None:
        for host in self.hosts:
            check(self.accepts(host, self.env_password(host)), f"{host} refuses the password in its env file")


def per_host_seconds(run: PlaybookRun) -> dict[str, float]:
    """The time each host took, from the message of the report that the rotation prints for it."""
    found = {r.host: re.search(r"([0-9.]+) s for this host", r.msg) for r in run.tasks("redis : Report this host")}
    return {host: float(match.group(1)) for host, match in found.items() if match}


def client_report(h: Harness, host: str, password: str) -> dict[str, object]:
    """Stop the worker (it finishes its operation) and compare what it pushed with what it got back."""
    h.exec(host, "systemctl stop hsi-queue-client.service")
    logs = {
        name: h.exec(host, f"cat /var/lib/hsi-load/{name}")
        for name in ("pushed.log", "popped.log", "failures.log", "runs.jsonl")
    }
    remaining: set[str] = set()
    for queue in ("hsi:queue:detections", "hsi:queue:analysis"):
        for line in h.redis(host, password, f"LRANGE {queue} 0 -1")[1:]:
            match = re.match(r'^\s*\d+\) "(.*)"$', line)
            if match:
                remaining.add(match.group(1))
    pushed = set(logs["pushed.log"].split())
    popped = set(logs["popped.log"].split())
    runs = [json.loads(line) for line in logs["runs.jsonl"].splitlines()]
    ops = sum(int(r["ops"]) for r in runs)
    seconds = sum(float(r["seconds"]) for r in runs)
    return {
        "worker_runs": len(runs),
        "operations": ops,
        "ops_per_second": round(ops / seconds, 1) if seconds else 0.0,
        "failed_operations": len(logs["failures.log"].splitlines()),
        "first_failures": logs["failures.log"].splitlines()[:3],
        "pushed": len(pushed),
        "lost_items": len(pushed - popped - remaining),
    }


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
    report: dict[str, object] = {}

    old = h.vault_view(h.vault_file)["vault_redis_password"]
    h.secrets.add(old)
    run_ids = {host: h.run_id(host, old) for host in h.hosts}
    for host in h.hosts:
        h.exec(host, "systemctl stop hsi-queue-client; rm -rf /var/lib/hsi-load; systemctl start hsi-queue-client")
    load_started = time.monotonic()

    # 1. Check mode changes nothing.
    vault_before = h.vault_file.read_bytes()
    acl_before = {host: h.exec(host, f"sha256sum {ACL_FILE} {ENV_FILE}") for host in h.hosts}
    rc, _, _ = h.playbook("rotate-password.yml", "--check")
    check(rc == 0, "check mode run failed")
    check(h.vault_file.read_bytes() == vault_before, "check mode changed the vault file")
    check(not h.state_file.exists(), "check mode wrote the rotation record")
    for host in h.hosts:
        check(
            h.exec(host, f"sha256sum {ACL_FILE} {ENV_FILE}") == acl_before[host], f"check mode changed files on {host}"
        )
        check(h.accepts(host, old), f"check mode changed the password on {host}")
    report["check_mode"] = "no change"

    # 2. Kill after every step, resume, and check the invariants in between.
    new = ""
    kills: list[dict[str, object]] = []
    for step in range(2, STEPS + 1):
        rc, _, elapsed = h.playbook("rotate-password.yml", kill_before_step=step)
        check(rc != 0, f"the run killed before step {step} reported success")
        check(h.state_file.exists(), f"no rotation record after a run killed before step {step}")
        new = h.vault_view(h.state_file)["redis_rotation_password"]
        h.secrets.add(new)
        h.all_accept_their_env_password()
        state = {host: {"old": h.accepts(host, old), "new": h.accepts(host, new)} for host in h.hosts}
        if step == 3:
            # Both passwords are persisted: reloading the ACL file (what a restart does) keeps them.
            for host in h.hosts:
                check(
                    h.acl_hashes(host) == {hashlib.sha256(p.encode()).hexdigest() for p in (old, new)},
                    f"{host}: the ACL file does not hold both passwords",
                )
                h.redis(host, new, "ACL LOAD")
                check(h.accepts(host, old) and h.accepts(host, new), f"{host}: ACL LOAD lost a password")
            rc_site, site_run, _ = h.playbook("site.yml")
            check(
                rc_site != 0 and any("A password rotation is in progress" in m for m in site_run.failure_messages()),
                "site.yml ran in the middle of a rotation",
            )
        kills.append({"killed_before_step": step, "seconds": round(elapsed, 1), "accepted": state})
    rc, _, elapsed = h.playbook("rotate-password.yml")
    check(rc == 0, "the resumed rotation failed")
    check(not h.state_file.exists(), "the rotation record is left after completion")
    check(h.vault_view(h.vault_file)["vault_redis_password"] == new, "the vault file does not hold the new password")
    for host in h.hosts:
        check(h.env_password(host) == new, f"{host}: env file does not hold the new password")
        check(h.accepts(host, new) and not h.accepts(host, old), f"{host}: old refused / new accepted does not hold")
        check(h.exec(host, "ls /var/lib/redis-provisioning") == "", f"{host}: rotation markers left behind")
    report["killed_runs"] = kills
    report["resumed_run_seconds"] = round(elapsed, 1)

    # 3. A rotation to a given password, uninterrupted and timed (normal verbosity).
    given = 'Rot\'ation "2" $HOME ${X} \\n #;' + hashlib.sha256(os.urandom(16)).hexdigest()[:24]
    h.secrets.add(given)
    new_vars = args.work / "new.yml"
    new_vars.write_text(f"redis_password_new: {json.dumps(given)}\n", encoding="utf-8")
    new_vars.chmod(0o600)
    rc, run, elapsed = h.playbook("rotate-password.yml", "-e", f"@{new_vars}", verbosity="")
    check(rc == 0, "the timed rotation failed")
    report["timed_run_seconds"] = round(elapsed, 1)
    report["per_host_seconds"] = per_host_seconds(run)
    for host in h.hosts:
        check(h.env_password(host) == given, f"{host}: env file does not hold the given password")
        check(h.accepts(host, given) and not h.accepts(host, new), f"{host}: the given password is not the only one")

    # 4. site.yml keeps the rotated password; Redis never restarted; nothing leaked.
    rc, run, _ = h.playbook("site.yml", verbosity="")
    check(
        rc == 0 and set(run.stats) == set(h.hosts) and all(run.host_stats(host)["changed"] == 0 for host in h.hosts),
        f"site.yml after the rotation changed something: {run.summary()}",
    )
    for host in h.hosts:
        check(h.run_id(host, given) == run_ids[host], f"Redis on {host} restarted during the rotation")
    report["redis_restarts"] = 0
    hashes = {hashlib.sha256(s.encode()).hexdigest() for s in h.secrets}
    for index, text in enumerate(h.outputs, start=1):
        leaked = [s for s in printed_forms(h.secrets | hashes) if s in text]
        check(not leaked, f"a password or its hash is in the output of run {index}")
    report["runs_checked_for_leaks"] = len(h.outputs)

    # 5. What the clients saw during all of it.
    report["load_seconds"] = round(time.monotonic() - load_started, 1)
    report["clients"] = {host: client_report(h, host, given) for host in h.hosts}
    args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RotationCheckError as exc:
        print(f"ROTATION TEST FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
