#!/usr/bin/env python3
"""A queue worker configured like the HSI backend, as test load for the password rotation.

It reads REDIS_URL and REDIS_PASSWORD from the env file once at start (a restart picks up a new
password), then pushes and pops items on hsi:queue:* keys at a fixed rate. Every acknowledged
push and every popped item is logged, so a checker can prove that no item was lost; every failed
operation is logged with its error. SIGTERM ends it after the current operation.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import uuid
from pathlib import Path
from types import FrameType

import redis
from dotenv import dotenv_values

QUEUES = ("hsi:queue:detections", "hsi:queue:analysis")
stopping = False


def stop(_signum: int, _frame: FrameType | None) -> None:
    global stopping
    stopping = True


def main() -> None:
    env_file, state_dir, rate = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    signal.signal(signal.SIGTERM, stop)
    settings = dotenv_values(env_file)
    client = redis.Redis.from_url(
        str(settings["REDIS_URL"]),
        password=settings.get("REDIS_PASSWORD") or None,
        socket_timeout=5,
        socket_connect_timeout=5,
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    ops = failures = 0
    started = time.monotonic()
    next_at = started
    with (
        open(state_dir / "pushed.log", "a", buffering=1, encoding="utf-8") as pushed,
        open(state_dir / "popped.log", "a", buffering=1, encoding="utf-8") as popped,
        open(state_dir / "failures.log", "a", buffering=1, encoding="utf-8") as failed,
    ):
        n = 0
        while not stopping:
            queue = QUEUES[n % len(QUEUES)]
            item = f"{run}:{n}"
            n += 1
            try:
                client.lpush(queue, item)
                pushed.write(item + "\n")
                ops += 1
                got = client.rpop(queue)
                ops += 1
                if isinstance(got, bytes):
                    popped.write(got.decode() + "\n")
            except redis.RedisError as exc:
                failures += 1
                failed.write(f"{time.time():.3f} {run} {type(exc).__name__}: {exc}\n")
            next_at += 1.0 / rate
            time.sleep(max(0.0, next_at - time.monotonic()))
    seconds = time.monotonic() - started
    with open(state_dir / "runs.jsonl", "a", encoding="utf-8") as runs:
        runs.write(json.dumps({"run": run, "ops": ops, "failures": failures, "seconds": round(seconds, 3)}) + "\n")


if __name__ == "__main__":
    main()
