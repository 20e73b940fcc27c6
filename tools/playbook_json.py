"""Structured results of an ansible-playbook run, read from its JSON output instead of its screen text.

The tests decide from these records, never from the default callback's text (which Molecule's
ANSIBLE_FORCE_COLOR fills with ANSI codes). Two stdout callbacks of ansible.posix are read:

- ``ansible.posix.json`` (``JSON_CALLBACK``): one document at the end of the run;
- ``ansible.posix.jsonl`` (``JSONL_CALLBACK``): one object a line as events happen, for runs that
  are watched while they go on (and that may be killed before they print a summary).

Both give, per task and host, the module's result and, at the end, the counts of the PLAY RECAP.
A handler is a task like any other there. It is told apart by the jsonl callback's
``v2_playbook_on_handler_task_start`` event, and in both formats by its file: a role's
``handlers/`` directory.

Imported by bench/run.py, molecule/rotation/rotation_test.py, the tests and the Molecule filter
plugin molecule/shared/filter_plugins/playbook_results.py (each puts this directory on sys.path).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

JSON_CALLBACK = "ansible.posix.json"
JSONL_CALLBACK = "ansible.posix.jsonl"
# The counts of the PLAY RECAP line; the callbacks call `failed` `failures`.
STATS_KEYS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
# A task begins (v2_runner_on_start: per host, under a strategy other than linear).
_START_EVENTS = ("v2_playbook_on_task_start", "v2_playbook_on_handler_task_start", "v2_runner_on_start")
_FLAGS = ("unreachable", "failed", "skipped", "changed")  # in the order that decides a result's status
_RESULT_EVENTS = ("v2_runner_on_ok", "v2_runner_on_failed", "v2_runner_on_skipped", "v2_runner_on_unreachable")


# With it, a failed result's `exception` holds the traceback that ends in the error (see TaskResult.error).
TRACEBACK_ENV = {"ANSIBLE_DISPLAY_TRACEBACK": "error"}
_TRACEBACK = "Traceback (most recent call last):\n"


class PlaybookOutputError(ValueError):
    """The output holds no result document of the expected callback."""


def printed_forms(secrets: Iterable[str]) -> set[str]:
    """What to look for in a JSON run's output: each secret as it is and as the JSON callbacks
    escape it (quotes, backslashes, control and non-ASCII characters)."""
    return {form for secret in secrets for form in (secret, json.dumps(secret)[1:-1])}


def callback_env(callback: str = JSON_CALLBACK) -> dict[str, str]:
    """Environment for a nested ansible-playbook (or ad-hoc ansible) run that prints JSON."""
    return {"ANSIBLE_STDOUT_CALLBACK": callback, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class TaskResult:
    """One task's result on one host."""

    play: str
    task: str
    host: str
    handler: bool
    result: Mapping[str, Any]
    # What the result says (false where it says nothing).
    unreachable: bool = field(init=False)
    failed: bool = field(init=False)
    skipped: bool = field(init=False)
    changed: bool = field(init=False)

    def __post_init__(self) -> None:
        for flag in _FLAGS:
            object.__setattr__(self, flag, bool(self.result.get(flag, False)))

    @property
    def status(self) -> str:
        """The word of the default callback's line: unreachable, failed, skipped, changed or ok."""
        return next((flag for flag in _FLAGS if getattr(self, flag)), "ok")

    @property
    def msg(self) -> str:
        """The result's msg (a debug task's message, a failure's reason), as text."""
        return _text(self.result.get("msg"))

    @property
    def error(self) -> str:
        """The error Ansible reports for a failure (`Task failed: ...`), also for a no_log task, whose
        result is censored but whose error is shown. It is in the result only as the last exception
        of its traceback, which the run records with ANSIBLE_DISPLAY_TRACEBACK=error (TRACEBACK_ENV)."""
        text = self.result.get("exception")
        if not isinstance(text, str) or _TRACEBACK not in text:
            return ""
        frames_and_error = text.rsplit(_TRACEBACK, 1)[1].splitlines()
        # The frames are indented ("  File ...", "    code"); the exception and its message follow them.
        first = next((i for i, line in enumerate(frames_and_error) if line and not line.startswith(" ")), None)
        if first is None:
            return ""
        return "\n".join(frames_and_error[first:]).strip().split(": ", 1)[-1]

    def messages(self) -> list[str]:
        """The msg, that of each loop item that has one (where a loop's failure is told), and the error."""
        items = self.result.get("results")
        found = [self.msg] if "msg" in self.result else []
        if isinstance(items, list):
            found += [_text(item["msg"]) for item in items if isinstance(item, Mapping) and "msg" in item]
        return found + ([self.error] if self.error else [])

    def as_dict(self) -> dict[str, object]:
        return {
            "play": self.play,
            "task": self.task,
            "host": self.host,
            "handler": self.handler,
            "status": self.status,
            "changed": self.changed,
            "failed": self.failed,
            "skipped": self.skipped,
            "unreachable": self.unreachable,
            "msg": self.msg,
            "error": self.error,
            "result": dict(self.result),
        }


@dataclass
class PlaybookRun:
    """Every task result of a run in order, and the PLAY RECAP counts per host (once the run ended).

    ``started`` names every task and handler that began (a TASK or RUNNING HANDLER banner of the
    default callback), also one that no host reported a result of."""

    plays: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    results: list[TaskResult] = field(default_factory=list)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    finished: bool = False

    def tasks(self, name: str | None = None, host: str | None = None, handler: bool | None = None) -> list[TaskResult]:
        """The results of the task (or handler) of that name (`role : task` for a role's), on the host if
        given; those of every task without a name."""
        return [
            r
            for r in self.results
            if name in (None, r.task) and host in (None, r.host) and handler in (None, r.handler)
        ]

    def task(self, name: str, host: str, handler: bool | None = None) -> TaskResult:
        """The one result of that task on that host; an error when it ran there not exactly once."""
        found = self.tasks(name, host, handler)
        if len(found) != 1:
            kind = {None: "task or handler", True: "handler", False: "task"}[handler]
            raise LookupError(f"{kind} {name!r} has {len(found)} results on {host}, not one")
        return found[0]

    def host_stats(self, host: str) -> dict[str, int]:
        if host not in self.stats:
            raise LookupError(
                f"no PLAY RECAP counts for {host} (hosts: {sorted(self.stats)}; finished: {self.finished})"
            )
        return self.stats[host]

    def failures(self) -> list[TaskResult]:
        return [r for r in self.results if r.failed or r.unreachable]

    def failure_messages(self) -> list[str]:
        """The messages of the failed and unreachable results, whitespace runs made one space."""
        return [" ".join(m.split()) for r in self.failures() for m in r.messages()]

    def summary(self) -> str:
        """Short text for an error report: each failure and the counts (no other result text)."""
        lines = [f"{r.status}: [{r.host}] {r.task}: {r.msg}" for r in self.failures()]
        lines += [f"{host}: {counts}" for host, counts in sorted(self.stats.items())]
        return "\n".join(lines) or "no task result and no PLAY RECAP"

    def as_dict(self) -> dict[str, object]:
        return {
            "plays": list(self.plays),
            "started": list(self.started),
            "tasks": [r.as_dict() for r in self.results],
            "stats": {h: dict(c) for h, c in self.stats.items()},
            "finished": self.finished,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlaybookRun:
        """The inverse of as_dict (what the filter plugin hands to a playbook)."""
        results = [
            TaskResult(str(t["play"]), str(t["task"]), str(t["host"]), bool(t["handler"]), dict(t["result"]))
            for t in data["tasks"]
        ]
        stats = {str(h): {k: int(v) for k, v in c.items()} for h, c in data["stats"].items()}
        return cls(list(data["plays"]), list(data["started"]), results, stats, bool(data["finished"]))

    # --- building -------------------------------------------------------------------------------
    def _add_stats(self, stats: Mapping[str, Mapping[str, Any]]) -> None:
        for host, counts in stats.items():
            raw = {("failed" if k == "failures" else k): int(v) for k, v in counts.items()}
            self.stats[str(host)] = {k: raw.get(k, 0) for k in STATS_KEYS}
        self.finished = True

    def _add_results(self, play: str, task: Mapping[str, Any], hosts: Mapping[str, Any], handler: bool) -> None:
        for host, result in hosts.items():
            self.results.append(TaskResult(play, str(task["name"]), str(host), handler or _in_handlers(task), result))


def _in_handlers(task: Mapping[str, Any]) -> bool:
    """A role's handler: its file is in the role's handlers/ directory (path is `file:line`)."""
    return PurePath(str(task.get("path", "")).rsplit(":", 1)[0]).parent.name == "handlers"


def json_document(stdout: str) -> dict[str, Any]:
    """The ansible.posix.json document: the last line that starts one (text such as a pause
    module's prompt or verbose lines may come before it; ANSIBLE_JSON_INDENT=0 prints it on one line)."""
    decoder = json.JSONDecoder()
    lines = stdout.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    for index in range(len(lines) - 1, -1, -1):
        if not lines[index].startswith("{"):
            continue
        try:
            document, _ = decoder.raw_decode(stdout, offsets[index])
        except json.JSONDecodeError:
            continue
        if isinstance(document, dict) and "plays" in document:
            return document
    raise PlaybookOutputError(
        f"no {JSON_CALLBACK} document in the output ({len(stdout)} characters; was ANSIBLE_STDOUT_CALLBACK set?)"
    )


def parse_json(stdout: str) -> PlaybookRun:
    return _from_document(json_document(stdout))


def _from_document(document: Mapping[str, Any]) -> PlaybookRun:
    run = PlaybookRun()
    for play in document["plays"]:
        name = str(play["play"]["name"])
        run.plays.append(name)
        for task in play["tasks"]:
            run.started.append(str(task["task"]["name"]))
            run._add_results(name, task["task"], task["hosts"], False)
    run._add_stats(document["stats"])
    return run


class JsonlReader:
    """Reads ansible.posix.jsonl output line by line, as it comes; other lines (verbose output,
    a pause prompt) are passed over. ``run`` holds what was read so far."""

    def __init__(self) -> None:
        self.run = PlaybookRun()
        self._play = ""
        self._handlers: set[str] = set()

    def feed(self, line: str) -> dict[str, Any] | None:
        """The event of this line (None for another line), recorded in ``run``."""
        text = line.strip()
        if not text.startswith('{"_event":'):
            return None
        event: dict[str, Any] = json.loads(text)
        kind = event["_event"]
        if kind == "v2_playbook_on_play_start":
            self._play = str(event["play"]["name"])
            self.run.plays.append(self._play)
        elif kind in _START_EVENTS:
            self.run.started.append(str(event["task"]["name"]))
            if kind == "v2_playbook_on_handler_task_start":
                self._handlers.add(str(event["task"]["id"]))
        elif kind in _RESULT_EVENTS:
            task = event["task"]
            self.run._add_results(self._play, task, event["hosts"], str(task.get("id")) in self._handlers)
        elif kind == "v2_playbook_on_stats":
            self.run._add_stats(event["stats"])
        return event


def parse_jsonl(lines: Iterable[str] | str) -> PlaybookRun:
    reader = JsonlReader()
    for line in lines.splitlines() if isinstance(lines, str) else lines:
        reader.feed(line)
    return reader.run


def parse(stdout: str) -> PlaybookRun:
    """Either format, told apart by its first event line."""
    if any(line.startswith('{"_event":') for line in stdout.splitlines()):
        return parse_jsonl(stdout)
    return parse_json(stdout)


def run_playbook(cmd: Sequence[str], log: Path, timeout: float = 900) -> tuple[int, PlaybookRun, float, str]:
    """Run an ansible-playbook command with the JSON callback and keep its output in `log`.

    Returns its exit code, its results, its wall time in seconds and its raw output (for the tests
    that search it for secrets)."""
    started = time.monotonic()
    env = dict(os.environ, **callback_env(JSON_CALLBACK))
    proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env, timeout=timeout, check=False)
    elapsed = time.monotonic() - started
    text = proc.stdout + proc.stderr
    log.write_text(text, encoding="utf-8")
    return proc.returncode, parse(proc.stdout), elapsed, text
