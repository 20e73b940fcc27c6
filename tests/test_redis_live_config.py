"""redis_live_config through real Ansible against a real redis-server: live changes, no restart."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import redis
from conftest import RedisServer, RunModule, StartRedis

PASSWORD = "live-Password-0123456789-abcdefghijkl"
SETTINGS = {"maxmemory": "200mb", "maxmemory-policy": "noeviction", "appendfsync": "everysec", "appendonly": "yes"}


def config(server: RedisServer, *names: str) -> dict[str, str]:
    client = redis.Redis(port=server.port, password=PASSWORD, decode_responses=True)
    try:
        return {name: str(client.config_get(name)[name]) for name in names}
    finally:
        client.close()


def run_id(server: RedisServer) -> str:
    client = redis.Redis(port=server.port, password=PASSWORD, decode_responses=True)
    try:
        return str(client.info("server")["run_id"])
    finally:
        client.close()


def test_sets_what_differs_once_and_keeps_running(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD, maxmemory="200mb")
    before = run_id(server)

    same = run_module(module="redis_live_config", port=server.port, password=PASSWORD, settings=SETTINGS)
    assert same.returncode == 0, same.output
    assert (same.result["changed"], same.result["changed_keys"]) == (False, [])

    wanted = {**SETTINGS, "maxmemory": "300mb", "appendfsync": "always", "maxmemory-policy": "allkeys-lru"}
    changed = run_module(module="redis_live_config", port=server.port, password=PASSWORD, settings=wanted)
    assert changed.returncode == 0, changed.output
    assert changed.result["changed"] is True
    keys = changed.result["changed_keys"]
    assert isinstance(keys, list) and sorted(keys) == ["appendfsync", "maxmemory", "maxmemory-policy"]
    assert config(server, "maxmemory", "appendfsync", "maxmemory-policy") == {
        "maxmemory": str(300 * 1024 * 1024),
        "appendfsync": "always",
        "maxmemory-policy": "allkeys-lru",
    }
    assert run_id(server) == before

    again = run_module(module="redis_live_config", port=server.port, password=PASSWORD, settings=wanted)
    assert (again.returncode, again.result["changed"]) == (0, False), again.output


def test_check_mode_and_diff_change_nothing(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD, maxmemory="200mb")
    run = run_module(
        module="redis_live_config",
        check=True,
        diff=True,
        port=server.port,
        password=PASSWORD,
        settings={**SETTINGS, "maxmemory": "1gb"},
    )
    assert run.returncode == 0, run.output
    assert (run.result["changed"], run.result["changed_keys"]) == (True, ["maxmemory"])
    diffs = run.result["diff"]
    assert isinstance(diffs, list) and len(diffs) == 1
    assert (diffs[0]["before"], diffs[0]["after"]) == (f"maxmemory {200 * 1024 * 1024}\n", "maxmemory 1gb\n")
    assert config(server, "maxmemory") == {"maxmemory": str(200 * 1024 * 1024)}


def test_a_refused_value_changes_nothing(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD, maxmemory="200mb")
    run = run_module(
        module="redis_live_config",
        port=server.port,
        password=PASSWORD,
        settings={"maxmemory": "300mb", "maxmemory-samples": "0"},
    )
    assert run.returncode != 0
    assert run.result["failure"] == "error"
    assert "CONFIG SET failed" in str(run.result["msg"]) and "maxmemory-samples" in str(run.result["msg"])
    # All or none: the valid maxmemory was not applied either.
    assert config(server, "maxmemory", "maxmemory-samples") == {
        "maxmemory": str(200 * 1024 * 1024),
        "maxmemory-samples": "5",
    }


def test_reload_sets_unchanged_values_and_down_ok(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD)
    run = run_module(
        module="redis_live_config",
        port=server.port,
        password=PASSWORD,
        settings={"loglevel": "notice"},
        reload=["loglevel"],
    )
    assert (run.returncode, run.result["changed_keys"]) == (0, ["loglevel"]), run.output
    port = server.port
    server.stop()
    down = run_module(
        module="redis_live_config", port=port, password=PASSWORD, settings=SETTINGS, down_ok=True, retries=0
    )
    assert (down.returncode, down.result["running"], down.result["changed"]) == (0, False, False), down.output
    refused = run_module(module="redis_live_config", port=port, password=PASSWORD, settings=SETTINGS, retries=0)
    assert refused.returncode != 0 and refused.result["failure"] == "connection_refused"


def test_unknown_parameter_is_named(start_redis: StartRedis, run_module: RunModule) -> None:
    server = start_redis(password=PASSWORD)
    run = run_module(module="redis_live_config", port=server.port, password=PASSWORD, settings={"no-such-thing": "1"})
    assert run.returncode != 0 and "no-such-thing" in str(run.result["msg"])


def live_file(tmp_path: Path, content: str) -> dict[str, str]:
    return {
        "path": str(tmp_path / "redis-live.conf"),
        "content": content,
        "owner": str(os.getuid()),
        "group": str(os.getgid()),
        "mode": "0640",
    }


def test_the_file_is_written_after_the_settings_took(
    start_redis: StartRedis, run_module: RunModule, tmp_path: Path
) -> None:
    server = start_redis(password=PASSWORD, maxmemory="200mb")
    before = run_id(server)
    wanted = live_file(tmp_path, "maxmemory 300mb\n")
    run = run_module(
        module="redis_live_config", port=server.port, password=PASSWORD, settings={"maxmemory": "300mb"}, file=wanted
    )
    assert run.returncode == 0, run.output
    assert (run.result["applied"], run.result["file_changed"], run.result["changed_keys"]) == (
        True,
        True,
        ["maxmemory"],
    )
    path = Path(wanted["path"])
    assert path.read_text(encoding="utf-8") == "maxmemory 300mb\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert config(server, "maxmemory") == {"maxmemory": str(300 * 1024 * 1024)} and run_id(server) == before
    again = run_module(
        module="redis_live_config", port=server.port, password=PASSWORD, settings={"maxmemory": "300mb"}, file=wanted
    )
    assert (again.returncode, again.result["changed"]) == (0, False), again.output


def test_a_refused_value_leaves_the_file_as_it_was(
    start_redis: StartRedis, run_module: RunModule, tmp_path: Path
) -> None:
    server = start_redis(password=PASSWORD, maxmemory="200mb")
    wanted = live_file(tmp_path, "maxmemory 12qb\n")
    Path(wanted["path"]).write_text("maxmemory 200mb\n", encoding="utf-8")
    run = run_module(
        module="redis_live_config", port=server.port, password=PASSWORD, settings={"maxmemory": "12qb"}, file=wanted
    )
    assert run.returncode != 0 and "CONFIG SET failed" in str(run.result["msg"]), run.output
    assert Path(wanted["path"]).read_text(encoding="utf-8") == "maxmemory 200mb\n"
    assert config(server, "maxmemory") == {"maxmemory": str(200 * 1024 * 1024)}


def test_without_apply_only_the_file_changes(start_redis: StartRedis, run_module: RunModule, tmp_path: Path) -> None:
    server = start_redis(password=PASSWORD, maxmemory="200mb")
    wanted = live_file(tmp_path, "maxmemory 300mb\n")
    check = run_module(
        module="redis_live_config",
        check=True,
        port=server.port,
        password=PASSWORD,
        settings={"maxmemory": "300mb"},
        apply=False,
        file=wanted,
    )
    assert (check.returncode, check.result["changed"], check.result["file_changed"]) == (0, True, True), check.output
    assert not Path(wanted["path"]).exists()
    run = run_module(
        module="redis_live_config",
        port=server.port,
        password=PASSWORD,
        settings={"maxmemory": "300mb"},
        apply=False,
        file=wanted,
    )
    assert (run.returncode, run.result["applied"], run.result["file_changed"]) == (0, False, True), run.output
    assert Path(wanted["path"]).read_text(encoding="utf-8") == "maxmemory 300mb\n"
    assert config(server, "maxmemory") == {"maxmemory": str(200 * 1024 * 1024)}
