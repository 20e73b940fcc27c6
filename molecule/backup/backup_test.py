#!/usr/bin/env python3
"""Back up under load, restore into a fresh host, and refuse every backup or target that must be refused.

Runs on the controller inside `molecule side_effect` (Molecule's inventory and ansible.cfg, with the
test vault password, come from the environment). The hosts are the scenario's Docker containers; data
goes in and out through hsi_data.py run there (`docker exec`, the password on stdin, never in an argv).

1. backup-source gets a dataset of every type HSI uses (over 50 MB) and a second database; a writer
   keeps pushing numbered items while playbooks/backup.yml runs.
2. The backup is private (folders 0700, files 0600, Vault-encrypted, `ansible-vault decrypt` gives
   the snapshot whose SHA-256 the manifest records) and the run's output names no data and no password.
3. playbooks/restore.yml puts it into backup-target, a freshly provisioned host: every key equals the
   source's (type, value, TTL or not) and the writer's items are a gap-free prefix 1..k with k at least
   what was acknowledged before the backup began.
4. Refused with the target untouched (same Redis process, same keys): a flipped byte, a truncated
   file, a forged manifest over a corrupted snapshot (Redis's own check), a target holding data
   without redis_restore_force. --check of both playbooks changes nothing. A restore that fails after
   Redis was stopped (a manifest whose key counts Redis cannot meet) puts the previous data back.
5. With redis_restore_force the data is replaced and the replaced files stay in a dated folder;
   redis_backup_keep prunes the oldest backups.

Timings (backup, restore, and `tar` through the same connection as the floor) go into the report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from playbook_json import PlaybookRun, printed_forms, run_playbook

SOURCE, TARGET = "backup-source", "backup-target"
HELPER = "/root/hsi_data.py"
DATA_DIR = "/var/lib/redis"
MIN_SNAPSHOT = 50 * 2**20


class BackupCheckError(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BackupCheckError(message)


def docker(*args: str, stdin: str | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise BackupCheckError(f"docker {args[0]} {args[1] if len(args) > 1 else ''} failed: {proc.stderr.strip()}")
    return proc.stdout


class Test:
    def __init__(self, args: argparse.Namespace) -> None:
        self.project = Path(args.project)
        self.inventory = args.inventory
        self.work = Path(args.work)
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.backups = self.work / "backups"
        self.outputs: list[str] = []
        self.report: dict[str, Any] = {}
        env_text = docker("exec", SOURCE, "cat", "/opt/hsi/.env")
        self.password = str(dotenv_values(stream=StringIO(env_text))["REDIS_PASSWORD"])

    def hsi(self, host: str, *args: str, timeout: float = 600) -> Any:
        return json.loads(
            docker("exec", "-i", host, "python3", HELPER, *args, stdin=self.password + "\n", timeout=timeout)
        )

    def playbook(self, name: str, *extra: str) -> tuple[int, PlaybookRun, float, str]:
        cmd = [
            "ansible-playbook",
            "-i",
            self.inventory,
            str(self.project / "playbooks" / name),
            "-e",
            f"redis_backup_dir={self.backups}",
            *extra,
        ]
        rc, run, elapsed, text = run_playbook(cmd, self.work / f"run-{len(self.outputs) + 1:02d}-{name}.log")
        self.outputs.append(text)
        return rc, run, elapsed, text

    def restore(self, folder: Path, *extra: str) -> tuple[int, PlaybookRun, float, str]:
        return self.playbook("restore.yml", "--limit", TARGET, "-e", f"redis_restore_from={folder}", *extra)

    def backups_of(self, host: str) -> list[Path]:
        base = self.backups / host
        return sorted(p for p in base.iterdir() if (p / "manifest.json").is_file()) if base.is_dir() else []

    def untouched(self, before: dict[str, Any], what: str) -> None:
        after = self.hsi(TARGET, "info")
        check(after["run_id"] == before["run_id"], f"{what}: Redis on the target was restarted")
        check(after["keyspace"] == before["keyspace"], f"{what}: the target's keys changed")
        staged = docker("exec", TARGET, "sh", "-c", f"ls -A {DATA_DIR}")
        check(".redis-provisioning-restore" not in staged, f"{what}: the staging folder was left on the target")

    def refused(self, result: tuple[int, PlaybookRun, float, str], words: str, what: str) -> str:
        rc, run, _, _ = result
        messages = " | ".join(run.failure_messages())
        check(rc != 0, f"{what}: the restore was not refused")
        check(words in messages, f"{what}: the refusal does not say '{words}': {messages[:600]}")
        return messages

    # --- the test -------------------------------------------------------------------------------
    def run(self) -> None:
        for host in (SOURCE, TARGET):
            docker("cp", str(Path(__file__).with_name("hsi_data.py")), f"{host}:{HELPER}")
        marker = "hsi-private-" + os.urandom(8).hex()
        loaded = self.hsi(SOURCE, "load", "15", marker)
        self.report["dataset"] = loaded

        writer = subprocess.Popen(
            ["docker", "exec", "-i", SOURCE, "python3", HELPER, "writer", "240"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdin is not None
        writer.stdin.write(self.password + "\n")
        writer.stdin.close()
        acked_before = 0
        deadline = time.monotonic() + 60
        while acked_before < 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            acked_before = int(docker("exec", SOURCE, "sh", "-c", "cat /tmp/writer-acked 2>/dev/null || echo 0"))
        check(acked_before >= 200, "the writer did not start")
        rc, run, elapsed, text = self.playbook("backup.yml", "-v")
        docker("exec", SOURCE, "touch", "/tmp/writer-stop")
        assert writer.stdout is not None
        acked_total = json.loads(writer.stdout.read())["acked"]
        writer.wait(timeout=60)
        check(rc == 0, f"backup.yml failed: {run.summary()}")
        self.report["backup_seconds"] = round(elapsed, 2)
        self.report["writer"] = {"acked_before_backup": acked_before, "acked_total": acked_total}

        folders = self.backups_of(SOURCE)
        check(len(folders) == 1 and len(self.backups_of(TARGET)) == 1, "not one backup for each host")
        folder = folders[0]
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        self.check_manifest(manifest)
        self.check_private(folder, manifest)
        for secret in printed_forms([self.password, marker]):
            check(secret not in text, "the backup's output shows the password or data")

        source = self.hsi(SOURCE, "digest")
        fresh = self.hsi(TARGET, "info")
        check(sum(fresh["keyspace"].values()) == 0, "the target is not a fresh host")
        rc, run, elapsed, text = self.restore(folder)
        check(rc == 0, f"restore.yml into the fresh host failed: {run.summary()}")
        self.report["restore_seconds"] = round(elapsed, 2)
        self.compare(source, self.hsi(TARGET, "digest"), acked_before, acked_total)
        for secret in printed_forms([self.password, marker]):
            check(secret not in text, "the restore's output shows the password or data")

        self.refusals(folder)
        self.check_modes(folder)
        self.failing_restore(folder, source)
        self.forced_restore(folder, source)
        self.pruning()
        self.floor()

    def check_manifest(self, manifest: dict[str, Any]) -> None:
        snapshot = manifest["files"][0]
        check(snapshot["content_size"] >= MIN_SNAPSHOT, f"the snapshot has {snapshot['content_size']} bytes, not 50 MB")
        check(snapshot["name"] == "dump.rdb.vault" and snapshot["encrypted"], "the snapshot is not encrypted")
        check(manifest["host"] == SOURCE and manifest["method"] == "rdb-bgsave", "manifest: host or method")
        check(manifest["redis_version"].startswith("8."), "manifest: redis_version")
        check(set(manifest["databases"]) == {"0", "1"}, f"manifest: databases {manifest['databases']}")
        check(manifest["databases"]["1"]["keys"] == 2, "manifest: the second database's key count")
        check(manifest["databases"]["0"]["expires"] == 6000, "manifest: keys with a TTL")
        self.report["snapshot_bytes"] = snapshot["content_size"]
        self.report["stored_bytes"] = snapshot["size"]
        self.report["keys"] = manifest["keys"]

    def check_private(self, folder: Path, manifest: dict[str, Any]) -> None:
        for path in [self.backups, *self.backups.rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            want = 0o700 if path.is_dir() else 0o600
            check(mode == want, f"{path} has mode {mode:o}, not {want:o}")
        incoming = list((self.backups / SOURCE / ".incoming").glob("*"))
        check(not incoming, "the plain snapshot was left in .incoming")
        plain = self.work / "decrypted.rdb"
        subprocess.run(
            ["ansible-vault", "decrypt", "--output", str(plain), str(folder / "dump.rdb.vault")],
            check=True,
            capture_output=True,
        )
        digest = hashlib.sha256(plain.read_bytes()).hexdigest()
        plain.unlink()
        check(digest == manifest["files"][0]["content_sha256"], "ansible-vault decrypt does not give the snapshot back")

    def compare(self, source: dict[str, Any], target: dict[str, Any], acked_before: int, acked_total: int) -> None:
        check(len(source["keys"]) > 40000, f"the source has only {len(source['keys'])} keys")
        differing = [k for k in source["keys"] if target["keys"].get(k) != source["keys"][k]]
        extra = set(target["keys"]) - set(source["keys"])
        check(not differing and not extra, f"{len(differing)} keys differ, {len(extra)} extra (e.g. {differing[:3]})")
        items = target["writer"]
        check(items == list(range(1, len(items) + 1)), "the writer's items in the backup are not a gap-free prefix")
        check(
            acked_before <= len(items) <= acked_total,
            f"writer: {len(items)} items, acked {acked_before}..{acked_total}",
        )
        self.report["writer"]["in_backup"] = len(items)
        self.report["keys_compared"] = len(source["keys"])

    def refusals(self, folder: Path) -> None:
        before = self.hsi(TARGET, "info")
        damaged = self.work / "damaged"
        shutil.copytree(folder, damaged)
        vault_file = damaged / "dump.rdb.vault"
        data = bytearray(vault_file.read_bytes())
        data[len(data) // 2] ^= 0x01
        vault_file.write_bytes(bytes(data))
        self.refused(self.restore(damaged, "-e", "redis_restore_force=true"), "is damaged", "a flipped byte")
        self.untouched(before, "a flipped byte")
        vault_file.write_bytes(bytes(data[: len(data) - 4096]))
        self.refused(self.restore(damaged, "-e", "redis_restore_force=true"), "truncated", "a truncated file")
        self.untouched(before, "a truncated file")

        rc, run, _, _ = self.playbook("backup.yml", "--limit", SOURCE, "-e", "redis_backup_encrypt=false")
        check(rc == 0, f"an unencrypted backup failed: {run.summary()}")
        plain = self.backups_of(SOURCE)[-1]
        forged = self.work / "forged"
        shutil.copytree(plain, forged)
        rdb = forged / "dump.rdb"
        data = bytearray(rdb.read_bytes())
        data[len(data) // 2] ^= 0x01
        rdb.write_bytes(bytes(data))
        manifest = json.loads((forged / "manifest.json").read_text(encoding="utf-8"))
        digest = hashlib.sha256(bytes(data)).hexdigest()
        manifest["files"][0].update(sha256=digest, content_sha256=digest)
        (forged / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        self.refused(self.restore(forged, "-e", "redis_restore_force=true"), "redis-check-rdb", "a forged manifest")
        self.untouched(before, "a forged manifest")

        self.refused(self.restore(folder), "holds data", "a target with data without force")
        self.untouched(before, "a target with data without force")

        listing = docker("exec", TARGET, "sh", "-c", f"ls -A {DATA_DIR}")
        rc, run, _, _ = self.restore(folder, "-e", "redis_restore_force=true", "--check")
        check(rc == 0, f"restore.yml --check failed: {run.summary()}")
        self.untouched(before, "restore.yml --check")
        check(docker("exec", TARGET, "sh", "-c", f"ls -A {DATA_DIR}") == listing, "restore.yml --check changed files")

        saves = self.hsi(SOURCE, "info")["rdb_saves"]
        count = len(self.backups_of(SOURCE))
        rc, run, _, _ = self.playbook("backup.yml", "--check")
        check(rc == 0, f"backup.yml --check failed: {run.summary()}")
        check(self.hsi(SOURCE, "info")["rdb_saves"] == saves, "backup.yml --check took a snapshot")
        check(len(self.backups_of(SOURCE)) == count, "backup.yml --check stored a backup")
        self.report["refused"] = ["flipped byte", "truncated", "forged manifest", "data without force"]

    def check_modes(self, folder: Path) -> None:
        """Only the owner may read the backups, also after unencrypted and forged ones."""
        for path in [self.backups, *self.backups.rglob("*")]:
            check(not stat.S_IMODE(path.stat().st_mode) & 0o077, f"{path} is readable by others")

    def failing_restore(self, folder: Path, source: dict[str, Any]) -> None:
        before = self.hsi(TARGET, "digest")
        listing = docker("exec", TARGET, "sh", "-c", f"ls -A {DATA_DIR}")
        impossible = self.work / "impossible"
        shutil.copytree(folder, impossible)
        manifest = json.loads((impossible / "manifest.json").read_text(encoding="utf-8"))
        manifest["databases"]["0"]["keys"] += 7
        (impossible / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        self.refused(
            self.restore(impossible, "-e", "redis_restore_force=true"),
            "runs with its previous data",
            "a failing restore",
        )
        after = self.hsi(TARGET, "digest")
        check(after == before, "after a failed restore the target's data is not what it was")
        kept = docker("exec", TARGET, "sh", "-c", f"ls -A {DATA_DIR}")
        check(kept == listing, f"after a failed restore the data directory holds {kept.split()}, not {listing.split()}")

    def forced_restore(self, folder: Path, source: dict[str, Any]) -> None:
        docker(
            "exec",
            "-i",
            TARGET,
            "python3",
            "-c",
            "import redis,sys; redis.Redis(password=sys.stdin.readline().strip()).set('hsi:extra', 1)",
            stdin=self.password + "\n",
        )
        rc, run, elapsed, _ = self.restore(folder, "-e", "redis_restore_force=true")
        check(rc == 0, f"a forced restore failed: {run.summary()}")
        restored = self.hsi(TARGET, "digest")
        check(
            restored["keys"] == {k: v for k, v in source["keys"].items()}, "a forced restore did not restore the keys"
        )
        kept = docker("exec", TARGET, "sh", "-c", f"ls -d {DATA_DIR}/replaced-*/appendonlydir").split()
        check(len(kept) == 2, f"the replaced data was not kept: {kept}")
        self.report["forced_restore_seconds"] = round(elapsed, 2)

    def pruning(self) -> None:
        before = self.backups_of(SOURCE)
        rc, run, _, _ = self.playbook("backup.yml", "--limit", SOURCE, "-e", "redis_backup_keep=2")
        check(rc == 0, f"a backup with redis_backup_keep=2 failed: {run.summary()}")
        after = self.backups_of(SOURCE)
        check(len(after) == 2 and after[0] == before[-1], f"redis_backup_keep=2 kept {[p.name for p in after]}")

    def floor(self) -> None:
        """The same files copied with tar through the same connection (docker exec): out and back in."""
        started = time.monotonic()
        archive = self.work / "floor.tar"
        with archive.open("wb") as handle:
            subprocess.run(
                ["docker", "exec", SOURCE, "tar", "-C", DATA_DIR, "-cf", "-", "dump.rdb"], stdout=handle, check=True
            )
        out = time.monotonic() - started
        started = time.monotonic()
        docker("exec", TARGET, "mkdir", "-p", "/tmp/floor")
        with archive.open("rb") as handle:
            subprocess.run(
                ["docker", "exec", "-i", TARGET, "tar", "-C", "/tmp/floor", "-xf", "-"], stdin=handle, check=True
            )
        back = time.monotonic() - started
        archive.unlink()
        docker("exec", TARGET, "rm", "-rf", "/tmp/floor")
        self.report["tar_floor_seconds"] = {"out": round(out, 2), "in": round(back, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--report", required=True)
    test = Test(parser.parse_args())
    try:
        test.run()
        test.report["ok"] = True
    except BackupCheckError as exc:
        test.report.update(ok=False, error=str(exc))
    Path(parser.parse_args().report).write_text(json.dumps(test.report, indent=2), encoding="utf-8")
    print(json.dumps(test.report, indent=2))
    return 0 if test.report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
