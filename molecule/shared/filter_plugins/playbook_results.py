# Copyright: redis-provisioning contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only filters: what a nested ansible-playbook run did, from its JSON output.

The run's command task sets ANSIBLE_STDOUT_CALLBACK to ansible.posix.json (or .jsonl); each filter
takes the registered result of that task (or its stdout, or what playbook_results returned):

    run | playbook_results                    {plays, started, tasks: [{play, task, host, handler, status,
                                               changed, failed, skipped, unreachable, msg, error, result}],
                                               stats, finished}
    run | task_results('redis : Summary')     every result of that task (host=..., handler=true/false)
    run | task_result('redis : Summary', host)  its one result on the host (an error otherwise)
    run | host_stats(host)                    the PLAY RECAP counts: ok, changed, unreachable, failed, ...
    run | playbook_summary                    the failures and the counts, for a fail_msg
    secrets | printed_forms                   each secret as it is and as the JSON callback escapes it

Task names are as Ansible reports them: `role : task` for a role's tasks and handlers.
The parsing is tools/playbook_json.py's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
from playbook_json import PlaybookOutputError, PlaybookRun, parse, printed_forms


def _run(value: object) -> PlaybookRun:
    try:
        if isinstance(value, Mapping) and "tasks" in value and "stats" in value:
            return PlaybookRun.from_dict(value)
        if isinstance(value, Mapping) and "stdout" in value:
            return parse(str(value["stdout"]))
        if isinstance(value, str):
            return parse(value)
    except PlaybookOutputError as exc:
        raise AnsibleFilterError(str(exc)) from exc
    raise AnsibleFilterError(f"not the output of a playbook run: {type(value).__name__}")


def playbook_results(run: object) -> dict[str, object]:
    return _run(run).as_dict()


def task_results(
    run: object, name: str | None = None, host: str | None = None, handler: bool | None = None
) -> list[dict[str, object]]:
    return [r.as_dict() for r in _run(run).tasks(name, host, handler)]


def task_result(run: object, name: str, host: str, handler: bool | None = None) -> dict[str, object]:
    try:
        return _run(run).task(name, host, handler).as_dict()
    except LookupError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def host_stats(run: object, host: str) -> dict[str, int]:
    try:
        return _run(run).host_stats(host)
    except LookupError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def playbook_summary(run: object) -> str:
    """Each failure and the counts; the end of stderr when the run printed no results."""
    try:
        return _run(run).summary()
    except AnsibleFilterError as exc:
        stderr = str(run.get("stderr", "")) if isinstance(run, Mapping) else ""
        return f"{exc}\n" + "\n".join(stderr.splitlines()[-20:])


def printed_secrets(secrets: list[str]) -> list[str]:
    return sorted(printed_forms(secrets))


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "playbook_results": playbook_results,
            "task_results": task_results,
            "task_result": task_result,
            "host_stats": host_stats,
            "playbook_summary": playbook_summary,
            "printed_forms": printed_secrets,
        }
