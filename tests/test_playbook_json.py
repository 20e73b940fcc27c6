"""tools/playbook_json.py and the Molecule filters read what a real run did, with colour forced.

A real ansible-playbook run with a role (a handler that runs, one that is skipped, a loop, a
no_log task, a debug message, run_once), a failing host and an unreachable one, through both
JSON callbacks (jsonl at -vvv, where verbose lines come between the events).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playbook_json import (
    JSON_CALLBACK,
    JSONL_CALLBACK,
    TRACEBACK_ENV,
    JsonlReader,
    PlaybookOutputError,
    PlaybookRun,
    callback_env,
    parse,
    parse_json,
    printed_forms,
)

PROJECT = Path(__file__).resolve().parent.parent
SECRET = "NoLogSecret-4f1c9a"
ROLE_TASKS = f"""
- name: Change
  ansible.builtin.command: "true"
  changed_when: true
  notify: Handler that runs
- name: Loop
  ansible.builtin.debug:
    msg: "item {{{{ item }}}}"
  loop: [1, 2]
- name: Skip
  ansible.builtin.debug:
    msg: never
  when: false
- name: Secret
  ansible.builtin.debug:
    msg: {SECRET}
  no_log: true
- name: Report
  ansible.builtin.debug:
    msg: >-
      Line one
      | line two
- name: Once
  ansible.builtin.debug:
    msg: once
  run_once: true
"""
ROLE_HANDLERS = """
- name: Handler that runs
  ansible.builtin.debug:
    msg: handler ran
- name: Handler that is skipped
  ansible.builtin.debug:
    msg: never
  listen: Handler that runs
  when: false
"""
PLAYBOOK = """
- name: Play one
  hosts: all
  gather_facts: false
  roles: [r]
- name: Play two
  hosts: all
  gather_facts: false
  tasks:
    - name: Fail here
      ansible.builtin.fail:
        msg: "boom {{ inventory_hostname }}"
      when: inventory_hostname == 'b'
      no_log: true  # the result is censored; the error is still reported (TaskResult.error)
"""
INVENTORY = f"""
all:
  hosts:
    a: {{ansible_connection: local, ansible_python_interpreter: {sys.executable}}}
    b: {{ansible_connection: local, ansible_python_interpreter: {sys.executable}}}
    c: {{ansible_connection: ssh, ansible_host: 127.0.0.1, ansible_port: 1}}
"""


def write_project(tmp_path: Path) -> Path:
    for part, text in (("tasks", ROLE_TASKS), ("handlers", ROLE_HANDLERS)):
        (tmp_path / "roles/r" / part).mkdir(parents=True, exist_ok=True)
        (tmp_path / "roles/r" / part / "main.yml").write_text(text, encoding="utf-8")
    (tmp_path / "inventory.yml").write_text(INVENTORY, encoding="utf-8")
    (tmp_path / "playbook.yml").write_text(PLAYBOOK, encoding="utf-8")
    return tmp_path / "playbook.yml"


def ansible_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(tmp_path / "roles"),
        ANSIBLE_FORCE_COLOR="1",
        PY_COLORS="1",
        **TRACEBACK_ENV,
        **extra,
    )


def run_playbook(tmp_path: Path, callback: str, *args: str) -> subprocess.CompletedProcess[str]:
    playbook = write_project(tmp_path)
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(tmp_path / "inventory.yml"),
            str(playbook),
            *args,
        ],
        capture_output=True,
        text=True,
        env=ansible_env(tmp_path, **callback_env(callback)),
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize(("callback", "args"), [(JSON_CALLBACK, ()), (JSONL_CALLBACK, ("-vvv",))])
def test_results_of_a_real_run(tmp_path: Path, callback: str, args: tuple[str, ...]) -> None:
    proc = run_playbook(tmp_path, callback, *args)
    assert proc.returncode == 4, proc.stdout + proc.stderr  # a host unreachable (and one failed)
    assert SECRET not in proc.stdout + proc.stderr
    if args:
        assert "\x1b[" in proc.stdout  # the verbose lines are coloured; the events are read all the same
    run = parse(proc.stdout)
    assert run.finished
    assert run.plays == ["Play one", "Play two"]
    counts = dict.fromkeys(("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"), 0)
    assert run.stats["a"] == {**counts, "ok": 6, "changed": 1, "skipped": 3}
    assert run.host_stats("b") == {**counts, "ok": 5, "changed": 1, "failed": 1, "skipped": 2}
    assert run.host_stats("c") == {**counts, "unreachable": 1}

    for host in ("a", "b"):
        assert run.task("r : Change", host).status == "changed"
        assert run.task("r : Loop", host).status == "ok"
        assert run.task("r : Skip", host).status == "skipped"
        assert run.task("r : Report", host).msg == "Line one | line two"
        assert run.task("r : Secret", host).msg == ""  # censored
        ran = run.task("r : Handler that runs", host, handler=True)
        assert (ran.status, ran.msg, ran.play) == ("ok", "handler ran", "Play one")
        assert run.task("r : Handler that is skipped", host, handler=True).status == "skipped"
    assert run.tasks("r : Handler that runs", handler=False) == []
    assert run.tasks("r : Change", handler=True) == []
    assert len(run.tasks("r : Once")) == 1
    assert run.task("r : Change", "c").status == "unreachable"
    assert run.tasks("r : Loop", "c") == []
    assert run.task("Fail here", "a").status == "skipped"
    failed = run.task("Fail here", "b")
    assert (failed.status, failed.msg, failed.error) == ("failed", "", "Task failed: Action failed: boom b")
    assert run.failure_messages()[-1] == "Task failed: Action failed: boom b"
    assert {r.host for r in run.failures()} == {"b", "c"}
    assert run.started[:3] == ["r : Change", "r : Loop", "r : Skip"]
    assert run.started[-3:] == ["r : Handler that runs", "r : Handler that is skipped", "Fail here"]
    with pytest.raises(LookupError, match="has 0 results on c"):
        run.task("r : Report", "c")
    assert PlaybookRun.from_dict(run.as_dict()) == run


def test_jsonl_is_read_as_it_comes(tmp_path: Path) -> None:
    """The events of a jsonl run, line by line: a play's start can be acted on before its tasks."""
    lines = run_playbook(tmp_path, JSONL_CALLBACK).stdout.splitlines()
    reader = JsonlReader()
    events = [event for event in map(reader.feed, lines) if event]
    starts = [i for i, e in enumerate(events) if e["_event"] == "v2_playbook_on_play_start"]
    assert [events[i]["play"]["name"] for i in starts] == ["Play one", "Play two"]
    assert reader.run.finished and reader.run.results[-1].task == "Fail here"
    partial = JsonlReader()
    for line in lines[: lines.index(next(line for line in lines if '"name":"Play two"' in line))]:
        partial.feed(line)
    assert not partial.run.finished and partial.run.plays == ["Play one"] and not partial.run.stats


def test_other_output_is_refused(tmp_path: Path) -> None:
    proc = run_playbook(tmp_path, "ansible.builtin.default")
    assert "PLAY RECAP" in proc.stdout
    with pytest.raises(PlaybookOutputError, match=r"no ansible\.posix\.json document"):
        parse(proc.stdout)
    with pytest.raises(PlaybookOutputError):
        parse_json("")


def test_printed_forms() -> None:
    """A secret is looked for as it is and as the JSON callbacks print it."""
    secret = 'Rot\'ation "2" $HOME \\n é'
    assert printed_forms([secret, "plain"]) == {secret, 'Rot\'ation \\"2\\" $HOME \\\\n \\u00e9', "plain"}


def test_molecule_filters(tmp_path: Path) -> None:
    """The filters of molecule/shared/filter_plugins on a nested run's registered result."""
    nested = write_project(tmp_path)
    outer = tmp_path / "outer.yml"
    outer.write_text(
        f"""
- name: Run a playbook and judge it from its JSON
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run it
      ansible.builtin.command:
        argv: [ansible-playbook, -i, "{tmp_path / "inventory.yml"}", "{nested}"]
      environment:
        ANSIBLE_STDOUT_CALLBACK: {JSON_CALLBACK}
      register: run
      changed_when: false
      failed_when: run.rc != 4
    - name: Judge it
      ansible.builtin.assert:
        that:
          - "(run | task_result('r : Change', 'a')).changed"
          - "(run | task_result('r : Handler that runs', 'b', handler=true)).msg == 'handler ran'"
          - "run | task_results('r : Handler that runs', handler=false) | length == 0"
          - "run | task_results('r : Once') | length == 1"
          - "(run.stdout | task_result('Fail here', 'b')).status == 'failed'"
          - "(run | playbook_results | task_result('r : Report', 'a')).msg == 'Line one | line two'"
          - "(run | host_stats('c')).unreachable == 1"
          - "(run | host_stats('a')).failed == 0"
          - "(run | playbook_results).finished"
    - name: A task that did not run there is an error
      ansible.builtin.debug:
        msg: "{{{{ run | task_result('r : Report', 'c') }}}}"
      register: missing
      ignore_errors: true
    - name: Check the error
      ansible.builtin.assert:
        that: >-
          missing.msg is search("'r : Report' has 0 results on c")
""",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(outer),
            "-e",
            f"ansible_python_interpreter={sys.executable}",
        ],
        capture_output=True,
        text=True,
        env=ansible_env(
            tmp_path,
            ANSIBLE_FILTER_PLUGINS=str(PROJECT / "molecule/shared/filter_plugins"),
            **callback_env(JSON_CALLBACK),
        ),
        timeout=300,
        check=False,
    )
    run = parse_json(proc.stdout)
    assert proc.returncode == 0, run.summary() + proc.stderr[-3000:]
    assert run.host_stats("localhost")["failed"] == 0
    assert run.task("Check the error", "localhost").status == "ok"
