#!/usr/bin/env python3
"""Write acknowledged queue items, SIGKILL redis-server mid-stream, and count what survived.

Usage: durability_probe.py PORT SECONDS   (the password comes on stdin, never in argv)

With `appendfsync everysec`, every write acknowledged more than one second before the kill must be
there after systemd brings Redis back; writes of the last second may be lost. Prints a JSON report.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import redis

KEY = "hsi:queue:durability"


def connect(port: int, password: str) -> redis.Redis:
    return redis.Redis(port=port, password=password, socket_timeout=2, socket_connect_timeout=2)


def main() -> None:
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    password = sys.stdin.readline().rstrip("\n")
    client = connect(port, password)
    client.delete(KEY)
    pid = int(client.info("server")["process_id"])

    acked_at: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        client.rpush(KEY, len(acked_at) + 1)
        acked_at.append(time.monotonic())
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    deadline = killed_at + 60
    while True:
        try:
            survived = [int(x) for x in connect(port, password).lrange(KEY, 0, -1)]
            break
        except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    back_after = time.monotonic() - killed_at
    old_enough = sum(1 for t in acked_at if t <= killed_at - 1.0)
    present = set(survived)
    print(
        json.dumps(
            {
                "acked": len(acked_at),
                "acked_more_than_1s_before_kill": old_enough,
                "lost_of_those": sum(1 for i in range(1, old_enough + 1) if i not in present),
                "survived": len(survived),
                "lost_in_last_second": len(acked_at) - len(present),
                "in_order": survived == list(range(1, len(survived) + 1)),
                "back_after_seconds": round(back_after, 2),
                "new_pid": pid != int(connect(port, password).info("server")["process_id"]),
            }
        )
    )


if __name__ == "__main__":
    main()
