"""redis_env_file: one atomic write per client env file, read back by python-dotenv as the HSI backend does.

The module runs through real Ansible (ad-hoc, JSON callback) like tests/conftest.py's run_module;
its secrets go through a 0600 vars file, never through argv. The atomic write is also called
directly in child processes that are SIGKILLed at each step of the write.
"""

from __future__ import annotations

import ast
import fcntl
import io
import json
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECT, ROLE, VENV_BIN, load_python, run_adhoc
from dotenv import dotenv_values
from dotenv.parser import parse_stream
from hypothesis import given, settings
from hypothesis import strategies as st

DOTENV_PATH = ROLE / "module_utils" / "redis_dotenv.py"
FILES_PATH = ROLE / "module_utils" / "redis_files.py"


dotenv_utils = load_python(DOTENV_PATH)
files_utils = load_python(FILES_PATH)
quoted = dotenv_utils.dotenv_quote

PASSWORD = "S3cret 'single' \"double\" $HOME ${HOME} ${X:-y} # hash \\ back\\\\ end\\"
OLD_PASSWORD = "old-Passw0rd-with-${USER}-and-'quotes'"
URL = "redis://127.0.0.1:6379/0"
ROLE_SETTINGS: dict[str, str | None] = {
    "REDIS_URL": URL,
    "REDIS_SSL_ENABLED": "false",
    "REDIS_SSL_CERT_REQS": None,
    "REDIS_SSL_CA_CERTS": None,
    "REDIS_SSL_CERTFILE": None,
    "REDIS_SSL_KEYFILE": None,
    "REDIS_SSL_CHECK_HOSTNAME": None,
}


@dataclass
class EnvRun:
    result: dict[str, Any]
    output: str
    returncode: int

    @property
    def changed(self) -> bool:
        return bool(self.result.get("changed"))


RunEnv = Callable[..., EnvRun]


@pytest.fixture
def run_env(tmp_path: Path) -> RunEnv:
    """Run redis_env_file through real Ansible; secrets go through a 0600 vars file, never argv."""

    def run(
        check: bool = False, diff: bool = False, secrets: dict[str, str | None] | None = None, **args: Any
    ) -> EnvRun:
        module_args = dict(args)
        if secrets is not None:
            module_args["secrets"] = "{{ test_secrets }}"
        run = run_adhoc(tmp_path, "redis_env_file", module_args, secrets or {}, check=check, diff=diff)
        return EnvRun(run.result, run.output, run.returncode)

    return run


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "app"
    directory.mkdir()
    return directory


def temp_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(".tmp") and ".redis_env_file." in p.name)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- through Ansible ------------------------------------------------------------------------------


def test_creates_a_missing_file_private_with_every_key(run_env: RunEnv, app_dir: Path) -> None:
    env_file = app_dir / ".env"
    run = run_env(path=str(env_file), settings=ROLE_SETTINGS, secrets={"REDIS_PASSWORD": PASSWORD})
    assert run.returncode == 0, run.output
    assert run.changed and run.result["created"] is True
    assert run.result["changed_keys"] == ["REDIS_URL", "REDIS_SSL_ENABLED", "REDIS_PASSWORD"]
    assert env_file.read_text(encoding="utf-8") == (
        f"REDIS_URL={URL}\nREDIS_SSL_ENABLED=false\nREDIS_PASSWORD={quoted(PASSWORD)}\n"
    )
    info = env_file.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o600, 0, 0)
    assert dotenv_values(env_file) == {"REDIS_URL": URL, "REDIS_SSL_ENABLED": "false", "REDIS_PASSWORD": PASSWORD}
    assert temp_files(app_dir) == []


def test_owner_group_and_mode_of_a_new_file(run_env: RunEnv, app_dir: Path) -> None:
    env_file = app_dir / ".env"
    run = run_env(path=str(env_file), owner="4242", group="4343", mode="0640", settings={"REDIS_URL": URL})
    assert run.returncode == 0, run.output
    info = env_file.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o640, 4242, 4343)


def test_update_keeps_comments_unmanaged_keys_order_and_bytes(run_env: RunEnv, app_dir: Path) -> None:
    env_file = app_dir / ".env"
    original = (
        b"\xef\xbb\xbf# HSI backend settings\r\n"
        b"DATABASE_URL=postgres://hsi:db-pass@db/hsi\r\n"
        b"\n"
        b"  # indented comment\n"
        b"REDIS_URL=redis://old-host:6379/0   # trailing comment\n"
        b'CERT="-----BEGIN-----\n'
        b"REDIS_PASSWORD=inside-a-quoted-value\n"
        b'-----END-----"\n'
        b"REDIS_PASSWORD='" + OLD_PASSWORD.replace("'", "\\'").encode() + b"'\n"
        b"LATIN1=caf\xe9\n"
        b"broken line without equals sign\n"
        b"LAST=no-newline-at-end"
    )
    env_file.write_bytes(original)
    env_file.chmod(0o600)
    run = run_env(path=str(env_file), settings=ROLE_SETTINGS, secrets={"REDIS_PASSWORD": PASSWORD})
    assert run.returncode == 0, run.output
    assert run.result["changed_keys"] == ["REDIS_URL", "REDIS_SSL_ENABLED", "REDIS_PASSWORD"]
    assert env_file.read_bytes() == (
        b"\xef\xbb\xbf# HSI backend settings\r\n"
        b"DATABASE_URL=postgres://hsi:db-pass@db/hsi\r\n"
        b"\n"
        b"  # indented comment\n"
        b"REDIS_URL=" + URL.encode() + b"\n"
        b'CERT="-----BEGIN-----\n'
        b"REDIS_PASSWORD=inside-a-quoted-value\n"
        b'-----END-----"\n'
        b"REDIS_PASSWORD=" + quoted(PASSWORD).encode() + b"\n"
        b"LATIN1=caf\xe9\n"
        b"broken line without equals sign\n"
        b"LAST=no-newline-at-end"
        # The file's own line break (that of its first line) before and after the appended key.
        b"\r\nREDIS_SSL_ENABLED=false\r\n"
    )


def test_null_removes_every_definition(run_env: RunEnv, app_dir: Path) -> None:
    env_file = app_dir / ".env"
    env_file.write_text(
        "REDIS_SSL_ENABLED=true\nREDIS_SSL_CA_CERTS=/etc/ca.crt\nKEEP=1\n  export REDIS_SSL_CA_CERTS = /x\n"
        "REDIS_SSL_CHECK_HOSTNAME\nREDIS_SSL_KEYFILE='/etc/k'\n",
        encoding="utf-8",
    )
    env_file.chmod(0o600)
    run = run_env(path=str(env_file), settings=ROLE_SETTINGS, secrets={"REDIS_PASSWORD": PASSWORD})
    assert run.returncode == 0, run.output
    assert run.result["changed_keys"] == [
        "REDIS_URL",
        "REDIS_SSL_ENABLED",
        "REDIS_SSL_CA_CERTS",
        "REDIS_SSL_KEYFILE",
        "REDIS_SSL_CHECK_HOSTNAME",
        "REDIS_PASSWORD",
    ]
    assert env_file.read_text(encoding="utf-8") == (
        f"REDIS_SSL_ENABLED=false\nKEEP=1\nREDIS_URL={URL}\nREDIS_PASSWORD={quoted(PASSWORD)}\n"
    )


def test_duplicates_collapse_into_the_first_and_export_stays(run_env: RunEnv, app_dir: Path) -> None:
    env_file = app_dir / ".env"
    env_file.write_text(
        "A=1\nexport REDIS_PASSWORD='first'\nB=2\nREDIS_PASSWORD = second\n'REDIS_PASSWORD'=third\nC=3\n"
        "\texport\tREDIS_URL=redis://old\n",
        encoding="utf-8",
    )
    env_file.chmod(0o600)
    run = run_env(path=str(env_file), settings={"REDIS_URL": URL}, secrets={"REDIS_PASSWORD": PASSWORD})
    assert run.returncode == 0, run.output
    assert env_file.read_text(encoding="utf-8") == (
        f"A=1\nexport REDIS_PASSWORD={quoted(PASSWORD)}\nB=2\nC=3\n\texport\tREDIS_URL={URL}\n"
    )
    assert dotenv_values(env_file) == {"A": "1", "B": "2", "C": "3", "REDIS_PASSWORD": PASSWORD, "REDIS_URL": URL}


def test_second_run_and_files_of_the_lineinfile_tasks_stay_unchanged(run_env: RunEnv, app_dir: Path) -> None:
    # What tasks/client-env.yml (copy + one lineinfile per key) wrote before this module existed.
    env_file = app_dir / ".env"
    env_file.write_text(
        f"# app\nDEBUG=0\nREDIS_URL={URL}\nREDIS_PASSWORD={quoted(PASSWORD)}\nREDIS_SSL_ENABLED=false\n",
        encoding="utf-8",
    )
    env_file.chmod(0o600)
    before = env_file.stat()
    for _ in range(2):
        run = run_env(path=str(env_file), settings=ROLE_SETTINGS, secrets={"REDIS_PASSWORD": PASSWORD})
        assert run.returncode == 0, run.output
        assert not run.changed and run.result["changed_keys"] == []
    after = env_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_check_mode_changes_nothing(run_env: RunEnv, app_dir: Path) -> None:
    env_file = app_dir / ".env"
    env_file.write_text(f"OTHER=1\nREDIS_PASSWORD={quoted(OLD_PASSWORD)}\n", encoding="utf-8")
    env_file.chmod(0o644)
    stale = app_dir / "..env.redis_env_file.0123456789abcdef.tmp"
    stale.write_text("stale", encoding="utf-8")
    stale.chmod(0o600)
    before = env_file.stat()
    content = env_file.read_bytes()

    run = run_env(check=True, path=str(env_file), settings=ROLE_SETTINGS, secrets={"REDIS_PASSWORD": PASSWORD})
    assert run.returncode == 0, run.output
    assert run.changed and run.result["attributes_changed"] is True
    assert run.result["changed_keys"] == ["REDIS_URL", "REDIS_SSL_ENABLED", "REDIS_PASSWORD"]
    after = env_file.stat()
    assert env_file.read_bytes() == content
    assert (after.st_ino, after.st_mtime_ns, after.st_mode, after.st_uid) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_mode,
        before.st_uid,
    )
    assert temp_files(app_dir) == [stale]

    missing = app_dir / "new.env"
    run = run_env(check=True, path=str(missing), settings={"REDIS_URL": URL})
    assert run.returncode == 0, run.output
    assert run.changed and run.result["created"] is True
    assert not missing.exists()


def test_diff_shows_settings_and_masks_every_secret(run_env: RunEnv, app_dir: Path) -> None:
    env_file = app_dir / ".env"
    env_file.write_text(
        "# rotated from "
        + OLD_PASSWORD
        + "\nDATABASE_URL=postgres://hsi:db-secret@db/hsi\n"
        + f"REDIS_URL=redis://old\nREDIS_PASSWORD={quoted(OLD_PASSWORD)}\n",
        encoding="utf-8",
    )
    env_file.chmod(0o600)
    for check in (True, False):
        run = run_env(
            check=check,
            diff=True,
            path=str(env_file),
            settings={"REDIS_URL": URL},
            secrets={"REDIS_PASSWORD": PASSWORD},
        )
        assert run.returncode == 0, run.output
        for secret in (PASSWORD, OLD_PASSWORD, quoted(PASSWORD), "db-secret"):
            assert secret not in run.output
        (text_diff,) = run.result["diff"]
        assert text_diff["before"] == (
            "# rotated from ********\nDATABASE_URL=********\nREDIS_URL=redis://old\nREDIS_PASSWORD=********\n"
        )
        assert text_diff["after"] == (
            "# rotated from ********\nDATABASE_URL=********\n"
            f"REDIS_URL={URL}\nREDIS_PASSWORD=********  # new value (not shown)\n"
        )
        assert run.result["invocation"]["module_args"]["secrets"] == {
            "REDIS_PASSWORD": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
        }
    assert dotenv_values(env_file)["REDIS_PASSWORD"] == PASSWORD


def test_diff_of_a_file_that_is_not_utf8(run_env: RunEnv, app_dir: Path) -> None:
    env_file = app_dir / ".env"
    env_file.write_bytes(b"# caf\xe9\nNAME=caf\xe9\n")
    env_file.chmod(0o600)
    run = run_env(diff=True, path=str(env_file), settings={"REDIS_URL": URL})
    assert run.returncode == 0, run.output
    assert run.result["diff"][0]["before"] == "# caf\ufffd\nNAME=********\n"
    assert env_file.read_bytes() == b"# caf\xe9\nNAME=caf\xe9\nREDIS_URL=" + URL.encode() + b"\n"


def test_diff_of_attributes(run_env: RunEnv, app_dir: Path) -> None:
    env_file = app_dir / ".env"
    env_file.write_text(f"REDIS_URL={URL}\n", encoding="utf-8")
    env_file.chmod(0o644)
    run = run_env(check=True, diff=True, path=str(env_file), owner="4242", settings={"REDIS_URL": URL})
    assert run.returncode == 0, run.output
    (attributes,) = run.result["diff"]
    assert attributes["before"] == {"uid": 0, "gid": 0, "mode": "0644"}
    assert attributes["after"] == {"uid": 4242, "gid": 0, "mode": "0600"}


def test_owner_group_and_mode_fixed_on_an_existing_file(run_env: RunEnv, app_dir: Path) -> None:
    env_file = app_dir / ".env"
    content = f"REDIS_URL={URL}\nREDIS_PASSWORD={quoted(PASSWORD)}\n".encode()
    env_file.write_bytes(content)
    env_file.chmod(0o644)
    run = run_env(
        path=str(env_file),
        owner="4242",
        group="4343",
        settings={"REDIS_URL": URL},
        secrets={"REDIS_PASSWORD": PASSWORD},
    )
    assert run.returncode == 0, run.output
    assert run.changed and run.result["attributes_changed"] is True and run.result["changed_keys"] == []
    info = env_file.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o600, 4242, 4343)
    assert env_file.read_bytes() == content
    assert (run.result["uid"], run.result["gid"], run.result["mode"]) == (4242, 4343, "0600")
    again = run_env(
        path=str(env_file),
        owner="4242",
        group="4343",
        settings={"REDIS_URL": URL},
        secrets={"REDIS_PASSWORD": PASSWORD},
    )
    assert not again.changed, again.output


def test_world_readable_mode_with_a_secret_warns(run_env: RunEnv, app_dir: Path) -> None:
    run = run_env(path=str(app_dir / ".env"), mode="0644", secrets={"REDIS_PASSWORD": PASSWORD})
    assert run.returncode == 0, run.output
    assert any("every user" in warning for warning in run.result.get("warnings", []))


TRICKY_PASSWORDS = [
    "K7mP9xQ2nL4hR6wY8vB1tF3jD5gS0aZ/cE9uI2oA+Xk=",
    "with 'single' and \"double\" quotes",
    "dollar $HOME ${HOME} ${HOME:-x} $${X} ${ and a lone $",
    "hash # after a space and#without",
    "  leading and trailing spaces  ",
    "back\\slash \\' \\\\ \\n end\\",
    "=leading equals",
    "`backticks` ; semicolons & ampersands | pipes",
]
TRICKY_SETTINGS = {
    "PLAIN_URL": "rediss://[::1]:6380/2",
    "PLAIN_WITH_HASH": "value # not a comment",
    "PLAIN_WITH_EXPANSION": "${HOME}/x",
    "PLAIN_QUOTED": "'looks quoted'",
    "PLAIN_SPACES": " padded ",
    "PLAIN_EMPTY": "",
}


def test_python_dotenv_reads_every_value_back(run_env: RunEnv, app_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = app_dir / ".env"
    env_file.write_text("# existing\nOTHER=kept\n", encoding="utf-8")
    secrets: dict[str, str | None] = {f"PASSWORD_{i}": p for i, p in enumerate(TRICKY_PASSWORDS)}
    run = run_env(path=str(env_file), settings=TRICKY_SETTINGS, secrets=secrets)
    assert run.returncode == 0, run.output
    monkeypatch.setenv("HOME", "/must-not-appear")
    monkeypatch.setenv("X", "must-not-appear")
    assert dotenv_values(env_file) == {"OTHER": "kept", **TRICKY_SETTINGS, **secrets}
    # Values that read back bare stay bare (as the lineinfile tasks wrote REDIS_URL and REDIS_SSL_*).
    assert "\nPLAIN_URL=rediss://[::1]:6380/2\n" in env_file.read_text(encoding="utf-8")
    assert not run_env(path=str(env_file), settings=TRICKY_SETTINGS, secrets=secrets).changed


def test_symlink_is_followed(run_env: RunEnv, app_dir: Path) -> None:
    shared = app_dir / "shared.env"
    shared.write_text("KEEP=1\n", encoding="utf-8")
    link = app_dir / ".env"
    link.symlink_to(shared.name)
    run = run_env(path=str(link), settings={"REDIS_URL": URL})
    assert run.returncode == 0, run.output
    assert link.is_symlink()
    assert shared.read_text(encoding="utf-8") == f"KEEP=1\nREDIS_URL={URL}\n"
    assert run.result["path"] == str(shared)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"settings": {"REDIS_PASSWORD": "x"}, "secrets": {"REDIS_PASSWORD": PASSWORD}}, "both settings and secrets"),
        ({"settings": {"REDIS-URL": "x"}}, "not an env variable name"),
        ({"secrets": {"REDIS_PASSWORD": PASSWORD + "\nINJECTED=1"}}, "must be on one line"),
        ({"settings": {"REDIS_SSL_ENABLED": True}}, "must be a string or null"),
        ({"mode": "u=rw"}, "octal mode"),
        ({"owner": "no-such-user-here"}, "no user"),
    ],
)
def test_invalid_input_fails_without_echoing_values(
    run_env: RunEnv, app_dir: Path, args: dict[str, Any], message: str
) -> None:
    secrets = args.pop("secrets", None)
    run = run_env(path=str(app_dir / ".env"), secrets=secrets, **args)
    assert run.returncode != 0 and run.result.get("failed"), run.output
    assert message in run.result["msg"]
    assert PASSWORD not in run.output
    assert not (app_dir / ".env").exists()


def test_missing_directory_fails(run_env: RunEnv, tmp_path: Path) -> None:
    run = run_env(path=str(tmp_path / "no-such-dir" / ".env"), settings={"REDIS_URL": URL})
    assert run.result.get("failed") and "does not exist" in run.result["msg"], run.output


def test_documented_options_are_the_accepted_ones() -> None:
    out = subprocess.run(
        [str(VENV_BIN / "ansible-doc"), "-M", str(ROLE / "library"), "-j", "redis_env_file"],
        capture_output=True,
        text=True,
        env=dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg")),
        check=True,
    ).stdout
    documented = json.loads(out)["redis_env_file"]["doc"]["options"]
    tree = ast.parse((ROLE / "library" / "redis_env_file.py").read_text(encoding="utf-8"))
    (spec,) = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg == "argument_spec" and isinstance(node.value, ast.Dict)
    ]
    accepted = {key.value for key in spec.keys if isinstance(key, ast.Constant)}
    assert set(documented) == accepted == {"path", "owner", "group", "mode", "settings", "secrets", "keep_if_one_of"}


# --- interrupted writes ---------------------------------------------------------------------------

# Calls write_atomic in a process of its own that SIGKILLs itself at one step of the write.
CHILD = r"""
import importlib.util, os, signal, sys

spec = importlib.util.spec_from_file_location("redis_files", sys.argv[1])
files_utils = importlib.util.module_from_spec(spec)
sys.modules["redis_files"] = files_utils
spec.loader.exec_module(files_utils)
path, point = sys.argv[2], sys.argv[3]
data = sys.stdin.buffer.read()
real_write, real_replace = os.write, os.replace


def die(*_):
    os.kill(os.getpid(), signal.SIGKILL)


def half_write(fd, view):
    real_write(fd, view[: len(view) // 2])
    die()


def replace_then_die(src, dst):
    real_replace(src, dst)
    die()


if point == "mid_write":
    os.write = half_write
elif point == "before_fsync":
    os.fsync = die
elif point == "before_rename":
    os.replace = die
elif point == "after_rename":
    os.replace = replace_then_die
files_utils.write_atomic(path, data, os.getuid(), os.getgid(), 0o600, "redis_env_file")
"""


def killed_write(path: Path, data: bytes, point: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(FILES_PATH), str(path), point],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode(errors="replace")


@pytest.mark.parametrize("point", ["mid_write", "before_fsync", "before_rename"])
def test_write_killed_before_the_rename_leaves_the_old_file(run_env: RunEnv, app_dir: Path, point: str) -> None:
    env_file = app_dir / ".env"
    old = f"# app\nOTHER=1\nREDIS_PASSWORD={quoted(OLD_PASSWORD)}\n".encode()
    env_file.write_bytes(old)
    env_file.chmod(0o600)
    new = f"# app\nOTHER=1\nREDIS_PASSWORD={quoted(PASSWORD)}\n".encode() * 2000

    killed_write(env_file, new, point)
    assert env_file.read_bytes() == old
    assert mode_of(env_file) == 0o600
    (leftover,) = temp_files(app_dir)
    # The leftover holds (part of) the new password: private from its creation on.
    assert mode_of(leftover) & 0o077 == 0 and leftover.stat().st_uid == 0

    # The next run removes it and writes the file.
    run = run_env(path=str(env_file), secrets={"REDIS_PASSWORD": PASSWORD})
    assert run.returncode == 0, run.output
    assert run.result["removed_temp_files"] == [str(leftover)]
    assert temp_files(app_dir) == []
    assert env_file.read_bytes() == new[: len(new) // 2000]


def test_write_killed_after_the_rename_leaves_the_whole_new_file(app_dir: Path) -> None:
    env_file = app_dir / ".env"
    env_file.write_bytes(b"OLD=1\n")
    new = b"NEW=2\n" * 5000
    killed_write(env_file, new, "after_rename")
    assert env_file.read_bytes() == new
    assert mode_of(env_file) == 0o600
    assert temp_files(app_dir) == []


def test_readers_see_the_old_or_the_new_file_never_a_mix(app_dir: Path) -> None:
    env_file = app_dir / ".env"
    contents = [b"A=" + b"a" * 200_000 + b"\n", b"B=" + b"b" * 300_000 + b"\n"]
    env_file.write_bytes(contents[0])
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(env_file.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(60):
            files_utils.write_atomic(str(env_file), contents[i % 2], 0, 0, 0o600, "redis_env_file")
    finally:
        stop.set()
        reader.join()
    assert seen <= set(contents)


def test_a_temp_file_whose_writer_is_alive_is_not_removed(app_dir: Path) -> None:
    env_file = app_dir / ".env"
    busy = app_dir / "..env.redis_env_file.00000000000000aa.tmp"
    dead = app_dir / "..env.redis_env_file.00000000000000bb.tmp"
    other = app_dir / "..env.something-else.tmp"
    for path in (busy, dead, other):
        path.write_bytes(b"x")
    with busy.open("rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        assert files_utils.remove_stale_temp_files(str(env_file), "redis_env_file") == [str(dead)]
    assert busy.exists() and other.exists() and not dead.exists()


# --- the edit itself, in process -------------------------------------------------------------------


PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
FRAGMENTS = st.one_of(
    st.text(alphabet=PRINTABLE_ASCII + "\t", max_size=24),
    st.sampled_from(
        [
            "A=1",
            "export B=2",
            "  C = 3  # comment",
            "# comment",
            "",
            "   ",
            "D='single ' quoted'",
            "E='multi\nline'",
            'F="dq \\" esc\nREDIS_URL=inside"',
            "G=#novalue",
            "H= # comment only",
            "I",
            "'J'=quoted-key",
            "broken line",
            "K='unterminated",
            "REDIS_URL=redis://x",
            "export REDIS_PASSWORD='p\\'w'",
            "REDIS_PASSWORD",
            "\tREDIS_URL=tab",
        ]
    ),
)
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def env_texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(FRAGMENTS, NEWLINES), max_size=12))
    text = "".join(fragment + newline for fragment, newline in parts)
    no_newline_at_end: bool = draw(st.booleans())
    return text[: -len(parts[-1][1])] if parts and no_newline_at_end else text


@settings(max_examples=500, deadline=None)
@given(env_texts())
def test_the_parser_finds_the_bindings_python_dotenv_finds(text: str) -> None:
    segments = dotenv_utils.parse(text)
    assert "".join(s.text for s in segments) == text
    ours = [(s.key, s.value) for s in segments if s.kind == "binding"]
    theirs = [(b.key, b.value) for b in parse_stream(io.StringIO(text)) if b.key is not None]
    assert ours == theirs


@settings(max_examples=500, deadline=None)
@given(
    text=env_texts(),
    password=st.text(alphabet=PRINTABLE_ASCII),
    url=st.text(alphabet=PRINTABLE_ASCII),
    drop=st.booleans(),
)
def test_set_keys_round_trips_through_python_dotenv(text: str, password: str, url: str, drop: bool) -> None:
    wanted = {"REDIS_URL": None if drop else url, "REDIS_PASSWORD": password}
    try:
        edit = dotenv_utils.set_keys(text, wanted, quoted={"REDIS_PASSWORD"})
    except dotenv_utils.EditError:
        # Only a file with a quote left open (which python-dotenv cannot parse either) is refused.
        assert any(segment.kind == "error" for segment in dotenv_utils.parse(text))
        return
    # The other keys read as before (uninterpolated: they may refer to the managed ones) ...
    raw_before = dotenv_values(stream=io.StringIO(text), interpolate=False)
    raw_after = dotenv_values(stream=io.StringIO(edit.text), interpolate=False)
    assert {k: v for k, v in raw_after.items() if k not in wanted} == {
        k: v for k, v in raw_before.items() if k not in wanted
    }
    # ... and the managed ones exactly, as the HSI backend reads them (with ${...} expansion).
    read = dotenv_values(stream=io.StringIO(edit.text))
    for key, value in wanted.items():
        assert (key in read) == (value is not None)
        if value is not None:
            assert read[key] == value
    assert dotenv_utils.set_keys(edit.text, wanted, quoted={"REDIS_PASSWORD"}).text == edit.text


def test_an_open_quote_that_would_swallow_the_new_lines_is_refused() -> None:
    with pytest.raises(dotenv_utils.EditError, match="see line 2"):
        dotenv_utils.set_keys("A=1\nB='open\n", {"REDIS_PASSWORD": "x"}, quoted={"REDIS_PASSWORD"})


def test_masked_text_hides_secrets_everywhere() -> None:
    text = (
        f"# old: {OLD_PASSWORD}\nDB=postgres://u:pw@h\nREDIS_URL=redis://:{PASSWORD}@h\nREDIS_PASSWORD='x'\nbad 'line\n"
    )
    edit = dotenv_utils.set_keys(text, {"REDIS_PASSWORD": PASSWORD}, quoted={"REDIS_PASSWORD"})
    shown = dotenv_utils.masked_text(edit.after, ["REDIS_URL"], [PASSWORD, OLD_PASSWORD])
    assert shown == (
        "# old: ********\nDB=********\nREDIS_URL=redis://:********@h\n"
        "REDIS_PASSWORD=********  # new value (not shown)\n********\n"
    )
