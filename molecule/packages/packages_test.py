#!/usr/bin/env python3
"""Package sources and the version floor, on the scenario's four hosts, through playbooks/site.yml.

Runs on the controller inside `molecule side_effect` (Molecule's inventory and ansible.cfg, with the
test vault password, come from the environment). The *-switch hosts run the distribution's Redis
7.0.15 (Debian 12, and the simulated EL9's repackaging of it); the *-redis hosts run Redis 8.0.2
from the scenario's stand-in for Redis's repositories.

1. The version floor: a plain run names each *-switch host, its version and both remedies, and its
   summary carries the warning; with redis_min_version_enforce=true those hosts fail, untouched
   (and the 8.0.2 hosts pass it, in step 3).
2. Refused, with Redis untouched (same process, same data) and the repository taken out again so
   that the host's package manager works as before: a repository signed with another key than
   redis_package_repo_key (APT and RPM), an unsigned APT repository, a version line below the
   installed version (no downgrade), a version line the repository does not have.
3. The switch: 10,000 queue items on each *-switch host, then redis_package_source=redis upgrades
   it in place to 8.0.2; every item is still there, the summary's warning is gone, and a second
   run changes nothing. redis_package_version=8.0.* holds the packages (an APT preference).

No run's output may show the Redis password.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from playbook_json import PlaybookRun, printed_forms, run_playbook

DEB_SWITCH, DEB_REDIS, EL_SWITCH, EL_REDIS = "pkg-deb12-switch", "pkg-deb12-redis", "pkg-el9-switch", "pkg-el9-redis"
SWITCH = (DEB_SWITCH, EL_SWITCH)
FROM_REDIS = (DEB_REDIS, EL_REDIS)
REPO = "file:///srv/package-repo"
QUEUE = "hsi:queue:detections"
ITEMS = 10_000
OLD, NEW = "7.0.15", "8.0.2"
REPO_FILES = {DEB_SWITCH: "/etc/apt/sources.list.d/redis.list", EL_SWITCH: "/etc/yum.repos.d/redis.repo"}

# Runs on a host with its redis-py; the password comes on stdin, never in an argv.
CLIENT = """
import hashlib, json, sys, redis
r = redis.Redis(host="127.0.0.1", port=6379, password=sys.stdin.readline().rstrip("\\n"))
if sys.argv[1] == "fill":
    pipe = r.pipeline(transaction=False)
    for i in range(int(sys.argv[2])):
        pipe.rpush(sys.argv[-1], json.dumps({"camera": "cam-%d" % (i % 8), "seq": i}))
    pipe.execute()
info = r.info("server")
items = r.lrange(sys.argv[-1], 0, -1)
print(json.dumps({"run_id": info["run_id"], "version": info["redis_version"], "items": len(items),
                  "digest": hashlib.sha256(b"\\n".join(items)).hexdigest()}))
"""


class PackagesCheckError(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise PackagesCheckError(message)


def docker(*args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False)


class Test:
    def __init__(self, args: argparse.Namespace) -> None:
        self.project = Path(args.project)
        self.inventory = args.inventory
        self.keys = self.project / ".cache" / "package-repo" / "keys"
        self.work = Path(args.work)
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.outputs: list[str] = []
        self.report: dict[str, Any] = {"refused": {}}
        env = docker("exec", DEB_SWITCH, "cat", "/opt/hsi/.env").stdout
        self.password = str(dotenv_values(stream=StringIO(env))["REDIS_PASSWORD"])

    def site(self, limit: tuple[str, ...], **extra: object) -> tuple[int, PlaybookRun, float]:
        cmd = ["ansible-playbook", "-i", self.inventory, str(self.project / "playbooks" / "site.yml")]
        cmd += ["--limit", ",".join(limit), "-e", json.dumps(extra)]
        rc, run, elapsed, text = run_playbook(cmd, self.work / f"run-{len(self.outputs) + 1:02d}.log")
        self.outputs.append(text)
        return rc, run, elapsed

    def redis_source(self, key: str = "redis.asc", repo: str = "redis", **more: object) -> dict[str, object]:
        return {
            "redis_package_source": "redis",
            "redis_package_repo_url": f"{REPO}/{repo}",
            "redis_package_repo_key": str(self.keys / key),
            **more,
        }

    def client(self, host: str, *args: str) -> dict[str, Any]:
        proc = docker("exec", "-i", host, "python3", "-c", CLIENT, *args, QUEUE, stdin=self.password + "\n")
        check(proc.returncode == 0, f"{host}: the client failed: {proc.stderr.strip()[-400:]}")
        return dict(json.loads(proc.stdout))

    def state(self, host: str) -> dict[str, Any]:
        return self.client(host, "read")

    def failed_with(self, run: PlaybookRun, host: str, words: list[str], what: str) -> str:
        messages = " | ".join(" ".join(m.split()) for r in run.failures() if r.host == host for m in r.messages())
        for word in words:
            check(word in messages, f"{what} on {host}: the failure does not say '{word}': {messages[:800]}")
        return messages

    def untouched(self, host: str, before: dict[str, Any], what: str) -> None:
        after = self.state(host)
        check(after == before, f"{what}: Redis on {host} was restarted or its data changed ({before} -> {after})")

    # --- the test -------------------------------------------------------------------------------
    def run(self) -> None:
        everyone = SWITCH + FROM_REDIS
        for host in FROM_REDIS:
            check(self.state(host)["version"] == NEW, f"{host} does not run {NEW} from the repository")
        self.floor(everyone)
        for host in SWITCH:
            filled = self.client(host, "fill", str(ITEMS))
            check(filled["items"] == ITEMS and filled["version"] == OLD, f"{host}: filling the queue: {filled}")
        before = {host: self.state(host) for host in everyone}
        self.refusals(before)
        self.switch(before)
        self.version_line()
        for secret in printed_forms([self.password]):
            check(all(secret not in text for text in self.outputs), "a run's output shows the Redis password")
        self.report["runs_checked_for_leaks"] = len(self.outputs)

    def floor(self, everyone: tuple[str, ...]) -> None:
        rc, run, _ = self.site(everyone)
        check(rc == 0, f"the plain run failed: {run.summary()}")
        for host in everyone:
            check(run.host_stats(host)["changed"] == 0, f"{host}: a plain re-run changed something")
            summary = " ".join(run.task("redis : Summary", host).msg.split())
            check(("WARNING" in summary) == (host in SWITCH), f"{host}: the summary's version warning: {summary}")
        for host in SWITCH:
            report = " ".join(run.task("redis : Report a Redis older than redis_min_version", host).msg.split())
            for words in (
                host,
                f"Redis {OLD}",
                "redis_min_version 7.4",
                "redis_package_source: redis",
                "redis_install_method: container",
            ):
                check(words in report, f"{host}: the floor's report does not say '{words}': {report}")
            self.report["floor_message"] = report
        before = {host: self.state(host) for host in SWITCH}
        rc, run, _ = self.site(SWITCH, redis_min_version_enforce=True)
        check(rc != 0, "redis_min_version_enforce=true did not fail the run")
        for host in SWITCH:
            self.failed_with(run, host, [host, OLD, "redis_min_version_enforce is true"], "the enforced floor")
            self.untouched(host, before[host], "the enforced floor")

    def refusals(self, before: dict[str, dict[str, Any]]) -> None:
        rc, run, _ = self.site(SWITCH, **self.redis_source(key="other.asc"))
        check(rc != 0, "a repository signed with another key was accepted")
        refused = self.report["refused"]
        refused["apt_wrong_key"] = self.failed_with(
            run, DEB_SWITCH, ["signature does not verify", "NO_PUBKEY", "removed"], "APT, wrong key"
        )
        refused["rpm_wrong_key"] = self.failed_with(run, EL_SWITCH, ["GPG", "removed the repository"], "RPM, wrong key")
        rc, run, _ = self.site((DEB_SWITCH,), **self.redis_source(repo="unsigned"))
        check(rc != 0, "an unsigned APT repository was accepted")
        refused["apt_unsigned"] = self.failed_with(run, DEB_SWITCH, ["is not signed"], "APT, unsigned")
        for host, path in REPO_FILES.items():
            check(docker("exec", host, "test", "-e", path).returncode != 0, f"{host}: {path} was left behind")
            self.untouched(host, before[host], "a refused repository")
        update = docker("exec", DEB_SWITCH, "apt-get", "-q", "update")
        check(update.returncode == 0 and "E:" not in update.stderr, f"apt-get update fails afterwards: {update.stderr}")

        rc, run, _ = self.site(FROM_REDIS, **self.redis_source(redis_package_version="7.4.*"))
        check(rc != 0, "a version line below the installed version was accepted")
        for host in FROM_REDIS:
            refused[f"downgrade_{host}"] = self.failed_with(
                run, host, [f"below the installed Redis {NEW}", "does not downgrade"], "a downgrade"
            )
            self.untouched(host, before[host], "a refused downgrade")

    def switch(self, before: dict[str, dict[str, Any]]) -> None:
        rc, run, elapsed = self.site(SWITCH, **self.redis_source())
        check(rc == 0, f"switching to Redis's packages failed: {run.summary()}")
        self.report["switch_seconds"] = round(elapsed, 1)
        for host in SWITCH:
            after = self.state(host)
            check(after["version"] == NEW, f"{host} runs {after['version']} after the switch, not {NEW}")
            check(after["run_id"] != before[host]["run_id"], f"{host}: Redis was not restarted into {NEW}")
            check(
                (after["items"], after["digest"]) == (ITEMS, before[host]["digest"]),
                f"{host}: the queue after the switch: {after['items']} items (of {ITEMS}), digest equal: "
                f"{after['digest'] == before[host]['digest']}",
            )
            summary = " ".join(run.task("redis : Summary", host).msg.split())
            check(
                f"Redis {NEW}" in summary
                and f"upgraded from {OLD} and restarted" in summary
                and "WARNING" not in summary,
                f"{host}: the summary afterwards: {summary}",
            )
        self.report["items_kept"] = {host: self.state(host)["items"] for host in SWITCH}
        rc, run, _ = self.site(SWITCH, **self.redis_source())
        unchanged = all(run.host_stats(h)["changed"] == 0 for h in SWITCH)
        check(rc == 0 and unchanged, f"the switch is not idempotent: {run.summary()}")

    def version_line(self) -> None:
        before = self.state(DEB_REDIS)
        rc, run, _ = self.site((DEB_REDIS,), **self.redis_source(redis_package_version="8.1.*"))
        check(rc != 0, "a version line the repository does not have was accepted")
        self.report["refused"]["missing_line"] = self.failed_with(run, DEB_REDIS, ["apt-get install", "8.1.*"], "8.1.*")
        self.untouched(DEB_REDIS, before, "a missing version line")
        # With the floor enforced too, which 8.0.2 passes.
        rc, run, _ = self.site(
            FROM_REDIS, **self.redis_source(redis_package_version="8.0.*"), redis_min_version_enforce=True
        )
        check(rc == 0, f"holding 8.0.* (floor enforced) failed: {run.summary()}")
        policy = docker("exec", DEB_REDIS, "apt-cache", "policy", "redis-server").stdout
        check("1001" in policy and NEW in policy, f"apt does not hold redis-server at 8.0.*: {policy}")
        repo = docker("exec", EL_REDIS, "cat", "/etc/yum.repos.d/redis.repo").stdout
        for line in ("includepkgs = redis-8.0.*", "module_hotfixes = 1", "gpgcheck = 1"):
            check(line in repo, f"the RPM repository lacks '{line}': {repo}")
        rc, run, _ = self.site(FROM_REDIS, **self.redis_source(redis_package_version="8.0.*"))
        check(rc == 0 and all(run.host_stats(h)["changed"] == 0 for h in FROM_REDIS), "holding 8.0.* is not idempotent")
        for host in FROM_REDIS:
            check(self.state(host)["version"] == NEW, f"{host} left {NEW}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", required=True)
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    test = Test(args)
    try:
        test.run()
        test.report["ok"] = True
    except PackagesCheckError as err:
        test.report.update(ok=False, error=str(err))
    Path(args.report).write_text(json.dumps(test.report, indent=2), encoding="utf-8")
    if not test.report["ok"]:
        sys.exit(f"packages test failed: {test.report['error']} (logs in {args.work})")


if __name__ == "__main__":
    main()
