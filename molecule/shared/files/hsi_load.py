#!/usr/bin/env python3
"""An HSI-like client under which settings change: queue writes and reads at a steady rate.

Usage: hsi_load.py PORT RATE STOP_FILE MAX_SECONDS [CA_FILE CERT_FILE KEY_FILE]
(the password comes on stdin, never in argv; with the three files it connects with TLS)

Pushes and pops `hsi:queue:live` items at RATE operations a second and opens a new connection
every 50 operations, as a worker that reconnects would, until STOP_FILE exists or MAX_SECONDS
have passed. Prints a JSON report: operations, failed operations by error type, the Redis run_ids
seen (one unless Redis restarted), and the queue items pushed but neither popped nor still queued.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter

import redis

KEY = "hsi:queue:live"
RECONNECT_EVERY = 50


def main() -> None:
    port, rate, stop_file, max_seconds = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    password = sys.stdin.readline().rstrip("\n")
    tls = (
        {"ssl": True, "ssl_ca_certs": sys.argv[5], "ssl_certfile": sys.argv[6], "ssl_keyfile": sys.argv[7]}
        if len(sys.argv) > 7
        else {}
    )

    def connect() -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=port, password=password, socket_timeout=2, socket_connect_timeout=2, **tls
        )

    client = connect()
    client.delete(KEY)
    run_ids = {str(client.info("server")["run_id"])}
    operations, errors = 0, Counter[str]()
    pushed, popped = 0, 0
    started = time.monotonic()
    while not os.path.exists(stop_file) and time.monotonic() - started < max_seconds:
        if operations % RECONNECT_EVERY == 0:
            client.close()
            client = connect()
        try:
            if operations % 2 == 0:
                client.lpush(KEY, pushed + 1)
                pushed += 1
            elif client.rpop(KEY) is not None:
                popped += 1
        except redis.RedisError as exc:
            errors[type(exc).__name__] += 1
        operations += 1
        time.sleep(max(0.0, started + operations / rate - time.monotonic()))
    client = connect()
    run_ids.add(str(client.info("server")["run_id"]))
    queued = int(client.llen(KEY))
    print(
        json.dumps(
            {
                "operations": operations,
                "failed": sum(errors.values()),
                "errors": dict(errors),
                "run_ids": len(run_ids),
                "seconds": round(time.monotonic() - started, 1),
                "lost": pushed - popped - queued,
            }
        )
    )


if __name__ == "__main__":
    main()
