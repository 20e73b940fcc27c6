"""redis_config_files through real Ansible against files on this machine: writes, diffs, secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from conftest import ModuleRun, run_adhoc

# What an ACL file holds: a password hash. It must never be in the output, whatever the verbosity.
SECRET = "user default on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~* &* +@all\n"
CONF = "port 6379\nappendonly yes\n"


def spec(path: Path, content: str, mode: str = "0640") -> dict[str, str]:
    return {"path": str(path), "content": content, "owner": str(os.getuid()), "group": str(os.getgid()), "mode": mode}


def write(
    tmp_path: Path,
    conf: Path,
    acl: Path,
    conf_text: str = CONF,
    check: bool = False,
    verbosity: int = 0,
    **extra: Any,
) -> ModuleRun:
    secret_spec = spec(acl, "{{ test_secrets.acl }}")
    return run_adhoc(
        tmp_path,
        "redis_config_files",
        {"files": [spec(conf, conf_text)], "secret_files": [secret_spec], **extra},
        {"acl": SECRET},
        check=check,
        diff=True,
        verbosity=verbosity,
    )


def diffs_of(run: ModuleRun) -> list[dict[str, Any]]:
    diffs = run.result["diff"]
    assert isinstance(diffs, list)
    return diffs


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_both_then_changes_nothing_and_never_shows_the_secret(tmp_path: Path) -> None:
    conf, acl = tmp_path / "redis.conf", tmp_path / "users.acl"
    run = write(tmp_path, conf, acl, verbosity=3)
    assert run.returncode == 0, run.output
    assert sorted(run.result["changed_paths"]) == sorted([str(conf), str(acl)])  # type: ignore[call-overload]
    assert conf.read_text(encoding="utf-8") == CONF and acl.read_text(encoding="utf-8") == SECRET
    assert mode_of(conf) == mode_of(acl) == 0o640
    assert {d["after_header"]: d["after"] for d in diffs_of(run)} == {
        str(conf): CONF,
        str(acl): "(secret content, not shown)\n",
    }
    assert "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8" not in run.output

    again = write(tmp_path, conf, acl)
    assert (again.returncode, again.result["changed"], again.result["changed_paths"]) == (0, False, []), again.output


def test_only_the_changed_file_is_written_and_the_secret_diff_stays_hidden(tmp_path: Path) -> None:
    conf, acl = tmp_path / "redis.conf", tmp_path / "users.acl"
    assert write(tmp_path, conf, acl).returncode == 0
    acl.write_text("user default on nopass ~* &* +@all\n", encoding="utf-8")
    acl_inode = acl.stat().st_ino
    run = write(tmp_path, conf, acl, conf_text=CONF + "maxclients 100\n")
    assert run.returncode == 0, run.output
    assert sorted(run.result["changed_paths"]) == sorted([str(conf), str(acl)])  # type: ignore[call-overload]
    diffs = {d["after_header"]: d for d in diffs_of(run)}
    assert diffs[str(conf)]["before"] == CONF and diffs[str(conf)]["after"] == CONF + "maxclients 100\n"
    assert diffs[str(acl)]["before"] == diffs[str(acl)]["after"] == "(secret content, not shown)\n"
    assert "nopass" not in run.output
    # Replaced by a rename, not rewritten in place.
    assert acl.stat().st_ino != acl_inode and acl.read_text(encoding="utf-8") == SECRET


def test_check_mode_changes_nothing_also_before_the_directory_exists(tmp_path: Path) -> None:
    conf, acl = tmp_path / "redis.conf", tmp_path / "users.acl"
    conf.write_text("port 1\n", encoding="utf-8")
    conf.chmod(0o644)
    run = write(tmp_path, conf, acl, check=True)
    assert (run.returncode, run.result["changed"]) == (0, True), run.output
    assert conf.read_text(encoding="utf-8") == "port 1\n" and mode_of(conf) == 0o644 and not acl.exists()

    missing = tmp_path / "not-yet" / "redis.conf"
    new_host = write(tmp_path, missing, tmp_path / "not-yet" / "users.acl", check=True)
    assert (new_host.returncode, new_host.result["changed"]) == (0, True), new_host.output
    assert not missing.parent.exists()
    real = write(tmp_path, missing, tmp_path / "not-yet" / "users.acl")
    assert real.returncode != 0 and f"the directory {missing.parent} of {missing} does not exist" in str(
        real.result["msg"]
    )


def test_attributes_alone_are_put_right(tmp_path: Path) -> None:
    conf, acl = tmp_path / "redis.conf", tmp_path / "users.acl"
    assert write(tmp_path, conf, acl).returncode == 0
    acl.chmod(0o644)
    run = write(tmp_path, conf, acl)
    assert run.returncode == 0, run.output
    assert run.result["changed_paths"] == [str(acl)] and mode_of(acl) == 0o640
    (diff,) = diffs_of(run)
    assert diff["before"]["mode"] == "0644" and diff["after"]["mode"] == "0640"


def test_a_stale_temporary_file_is_removed(tmp_path: Path) -> None:
    conf, acl = tmp_path / "redis.conf", tmp_path / "users.acl"
    assert write(tmp_path, conf, acl).returncode == 0
    stale = tmp_path / ".users.acl.redis_config_files.0123456789abcdef.tmp"
    stale.write_text(SECRET, encoding="utf-8")
    run = write(tmp_path, conf, acl)
    assert (run.returncode, run.result["changed"]) == (0, True), run.output
    assert not stale.exists()
