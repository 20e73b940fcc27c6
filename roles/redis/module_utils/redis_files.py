# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files on the managed host: atomic replacement, owners and modes, existing content.

Shared by the modules that write files (redis_env_file, redis_config_files, redis_kernel_tuning,
redis_live_config). Plain Python (no Ansible import), so that the tests can call the atomic write
directly in a process they kill at any point. Runs on the managed hosts: keep it compatible with
Python 3.9 (RHEL 9).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import grp
import os
import pwd
import re
import secrets
import stat
from collections.abc import Callable
from typing import Any


class FileError(Exception):
    """A file cannot be written as asked (no such owner, bad mode, not a regular file, ...)."""


def parse_mode(value: object) -> int:
    """An octal string such as "0600" or "600", or an int that already is the mode (YAML 0600)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o7777:
        return value
    if isinstance(value, str) and re.fullmatch(r"0?[0-7]{3,4}", value.strip()):
        mode = int(value.strip(), 8)
        if mode <= 0o7777:
            return mode
    raise FileError(f"mode must be an octal mode such as '0600', not {value!r}")


def resolve_user(owner: str) -> int:
    if owner.isdigit():
        return int(owner)
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise FileError(f"owner: no user {owner!r} on this host") from None


def resolve_group(group: str) -> int:
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise FileError(f"group: no group {group!r} on this host") from None


def read_existing(path: str) -> tuple[str | None, os.stat_result | None]:
    """The file's text (undecodable bytes kept as they are) and its stat; None, None if missing."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None, None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise FileError(f"{path} is not a regular file")
        data = handle.read()
    return data.decode("utf-8", errors="surrogateescape"), info


def attributes_differ(info: os.stat_result | None, uid: int, gid: int, mode: int) -> bool:
    return info is not None and (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) != (uid, gid, mode)


def attributes_diff(path: str, info: os.stat_result, uid: int, gid: int, mode: int) -> dict[str, Any]:
    header = f"{path} (owner, group, mode)"
    return {
        "before_header": header,
        "after_header": header,
        "before": {"uid": info.st_uid, "gid": info.st_gid, "mode": f"{stat.S_IMODE(info.st_mode):04o}"},
        "after": {"uid": uid, "gid": gid, "mode": f"{mode:04o}"},
    }


def printable(text: str) -> str:
    """Text for a diff: bytes that are not UTF-8 (kept as surrogates) shown as U+FFFD."""
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def selinux_hook(module: Any, path: str) -> Callable[[str], None] | None:
    """On SELinux hosts: give the temporary file the context of the file it replaces (or the default one)."""
    if not module.selinux_enabled():
        return None
    context = module.selinux_context(path) if os.path.exists(path) else module.selinux_default_context(path)

    def apply(temp: str) -> None:
        module.set_context_if_different(temp, context, False)

    return apply


# Temporary files: .<name>.<writer>.<random>.tmp next to the file they replace, where <writer> is
# the module that writes them (redis_env_file, redis_config_files, ...).
_TEMP_SUFFIX = ".tmp"


def temp_name_pattern(path: str, writer: str) -> re.Pattern[str]:
    name = os.path.basename(path)
    return re.compile(re.escape(f".{name}.{writer}.") + r"[0-9a-f]{16}" + re.escape(_TEMP_SUFFIX))


def remove_stale_temp_files(path: str, writer: str) -> list[str]:
    """Remove temporary files that an interrupted write of path left behind; return their paths.

    A writer holds an exclusive lock on its temporary file until the rename, so a file whose lock
    can be taken belongs to a process that is gone. Locked ones (a write going on) stay.
    """
    directory = os.path.dirname(path) or "."
    pattern = temp_name_pattern(path, writer)
    removed: list[str] = []
    for name in sorted(os.listdir(directory)):
        if not pattern.fullmatch(name):
            continue
        candidate = os.path.join(directory, name)
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue  # gone meanwhile, or a symlink: not ours
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    continue  # a write in progress
                raise
            current = os.lstat(candidate)
            if (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
                os.unlink(candidate)
                removed.append(candidate)
        except FileNotFoundError:
            continue
        finally:
            os.close(fd)
    return removed


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: str,
    data: bytes,
    uid: int,
    gid: int,
    mode: int,
    writer: str,
    before_rename: Callable[[str], None] | None = None,
) -> None:
    """Replace path by a file with data, owner uid:gid and mode, so that a reader (or a crash)
    sees either the old file or the new one, never a mix.

    The temporary file is created private (0600, O_EXCL) in the same directory, written, given
    its owner and mode, fsynced and renamed over path; then the directory is fsynced so the
    rename itself survives a crash. path must not be a symlink (resolve it first).
    """
    directory = os.path.dirname(path) or "."
    temp = os.path.join(directory, f".{os.path.basename(path)}.{writer}.{secrets.token_hex(8)}{_TEMP_SUFFIX}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    renamed = False
    try:
        # Held until the rename: remove_stale_temp_files leaves a locked file alone.
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        # chown first: it clears set-user-ID bits that a chmod before it would have set.
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        os.fsync(fd)
        if before_rename is not None:
            before_rename(temp)
        os.replace(temp, path)
        renamed = True
        _fsync_directory(directory)
    finally:
        os.close(fd)
        if not renamed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)


HIDDEN = "(secret content, not shown)\n"

# The argument spec of one file, for the modules that take files.
FILE_OPTIONS: dict[str, Any] = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "required": True, "no_log": False},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "mode": {"type": "raw", "required": True},
}
SECRET_FILE_OPTIONS: dict[str, Any] = {**FILE_OPTIONS, "content": {"type": "str", "required": True, "no_log": True}}


def write_file(
    module: Any, spec: dict[str, Any], writer: str, secret: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Write one file (path, content, owner, group, mode) if it differs, atomically; its result and diffs.

    module is the AnsibleModule (check mode, SELinux). A secret file's content is never in a diff.
    """
    path = os.path.realpath(spec["path"])
    mode = parse_mode(spec["mode"])
    directory = os.path.dirname(path)
    present = os.path.isdir(directory)
    if not present and not module.check_mode:
        raise FileError(f"the directory {directory} of {spec['path']} does not exist")
    # In check mode on a new host, the package that brings the directory (and the user) is not
    # installed yet: the file would be created.
    uid = resolve_user(spec["owner"]) if present else -1
    gid = resolve_group(spec["group"]) if present else -1
    old_text, info = read_existing(path) if present else (None, None)
    new_text = spec["content"]
    created = info is None
    content_changed = new_text != old_text
    attributes_changed = attributes_differ(info, uid, gid, mode)
    result = {
        "changed": created or content_changed or attributes_changed,
        "created": created,
        "content_changed": content_changed,
        "attributes_changed": attributes_changed,
    }
    diffs: list[dict[str, Any]] = []
    if content_changed:
        before = "" if old_text is None else (HIDDEN if secret else printable(old_text))
        diffs.append(
            {
                "before_header": f"{path} (absent)" if created else path,
                "after_header": path,
                "before": before,
                "after": HIDDEN if secret else new_text,
            }
        )
    if attributes_changed and info is not None:
        diffs.append(attributes_diff(path, info, uid, gid, mode))
    if not module.check_mode:
        removed = remove_stale_temp_files(path, writer)
        result["changed"] = result["changed"] or bool(removed)
        if result["changed"]:
            data = new_text.encode("utf-8", errors="surrogateescape")
            write_atomic(path, data, uid, gid, mode, writer, selinux_hook(module, path))
    return result, diffs
