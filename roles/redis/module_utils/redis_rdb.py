# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RDB snapshot files for the backup and restore modules: checksum, Redis's own check, key counts."""

from __future__ import annotations

import hashlib
import re
import subprocess
from typing import Any

CHUNK = 1 << 20
RESIZEDB = 0xFB


class RdbError(Exception):
    """A snapshot file that cannot be used, described for an operator (never with the file's data)."""


def sha256_file(path: str) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def read_length(data: bytes, offset: int) -> tuple[int, int]:
    """An RDB length encoding at offset: (value, offset after it)."""
    first = data[offset]
    kind = first >> 6
    if kind == 0:
        return first & 0x3F, offset + 1
    if kind == 1:
        return ((first & 0x3F) << 8) | data[offset + 1], offset + 2
    if first == 0x80:
        return int.from_bytes(data[offset + 1 : offset + 5], "big"), offset + 5
    if first == 0x81:
        return int.from_bytes(data[offset + 1 : offset + 9], "big"), offset + 9
    raise RdbError(f"unexpected length encoding 0x{first:02x} at offset {offset}")


def database_sizes(path: str, offsets: dict[int, int]) -> dict[str, dict[str, int]]:
    """Keys and keys with a TTL of each database, from the RESIZEDB record that follows its SELECTDB.

    Redis writes RESIZEDB (the number of keys it then writes for that database) right after each
    database's SELECTDB; redis-check-rdb reports the offset of that record.
    """
    sizes: dict[str, dict[str, int]] = {}
    with open(path, "rb") as handle:
        for db, offset in sorted(offsets.items()):
            handle.seek(offset)
            record = handle.read(19)
            if not record or record[0] != RESIZEDB:
                raise RdbError(f"no RESIZEDB record for database {db} at offset {offset}")
            keys, after = read_length(record, 1)
            expires, _ = read_length(record, after)
            sizes[str(db)] = {"keys": keys, "expires": expires}
    return sizes


def check_rdb(command: list[str], path: str, host_path: str) -> dict[str, Any]:
    """Run redis-check-rdb (command + [path]) and describe the snapshot.

    `path` is the file as the command sees it (inside a container), `host_path` as this host sees it.
    Returns rdb_version, redis_version (of the Redis that wrote it), created (epoch seconds),
    keys, expires and databases. Raises RdbError when Redis's check or the key counts disagree.
    """
    try:
        proc = subprocess.run([*command, path], capture_output=True, text=True, check=False, timeout=3600)
    except OSError as exc:
        raise RdbError(f"cannot run {command[0]}: {exc.strerror}") from exc
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 or "RDB looks OK" not in out:
        # Only the line that says what is wrong: other lines of the report can name the key being read.
        lines = out.splitlines()
        marker = next((i for i, line in enumerate(lines) if "RDB ERROR DETECTED" in line), None)
        reason = [line for line in lines[marker or 0 :] if line.startswith("[offset ")] if marker is not None else []
        detail = reason[0] if reason else f"exit status {proc.returncode}"
        raise RdbError(f"redis-check-rdb refuses the snapshot: {detail}")
    offsets = {int(m.group(2)): int(m.group(1)) for m in re.finditer(r"\[offset (\d+)\] Selecting DB ID (\d+)", out)}
    keys_read = re.search(r"\[info\] (\d+) keys read", out)
    expires = re.search(r"\[info\] (\d+) expires", out)
    ctime = re.search(r"AUX FIELD ctime = '(\d+)'", out)
    version = re.search(r"AUX FIELD redis-ver = '([^']+)'", out)
    if keys_read is None or expires is None:
        raise RdbError("redis-check-rdb did not report how many keys it read")
    databases = database_sizes(host_path, offsets)
    with open(host_path, "rb") as handle:
        header = handle.read(9)
    if header[:5] != b"REDIS" or not header[5:].isdigit():
        raise RdbError("the file does not start with an RDB header")
    counted = sum(db["keys"] for db in databases.values())
    if counted != int(keys_read.group(1)):
        raise RdbError(
            f"the per-database key counts ({counted}) differ from the keys redis-check-rdb read ({keys_read.group(1)})"
        )
    return {
        "rdb_version": int(header[5:]),
        "redis_version": version.group(1) if version else None,
        "created": int(ctime.group(1)) if ctime else None,
        "keys": counted,
        "expires": int(expires.group(1)),
        "databases": databases,
    }
