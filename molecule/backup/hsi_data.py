#!/usr/bin/env python3
"""HSI-shaped data on a Redis host, run there by backup_test.py (docker exec, password on stdin).

load SEED MARKER   write a dataset of every type HSI uses (over 50 MB), print its size
writer SECONDS     RPUSH numbered items to hsi:queue:backup:writer until /tmp/writer-stop exists
                   (or SECONDS pass); /tmp/writer-acked always holds the last acknowledged number
digest             print a digest of every key's type, value and whether it has a TTL
info               print run_id, keyspace and rdb_saves
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import sys
import time
from typing import Any

import redis

WRITER_KEY = "hsi:queue:backup:writer"
STOP_FILE = "/tmp/writer-stop"
ACKED_FILE = "/tmp/writer-acked"


def client(db: int = 0) -> Any:
    password = sys.stdin.readline().rstrip("\n")
    return redis.Redis(host="127.0.0.1", port=6379, password=password, db=db, socket_timeout=30)


def blob(rng: random.Random, size: int) -> bytes:
    # Random bytes in base64: like JSON payloads and embeddings, hardly compressible (RDB uses LZF).
    return base64.b64encode(rng.randbytes(size * 3 // 4))


def load(r: Any, seed: int, marker: str) -> dict[str, int]:
    rng = random.Random(seed)
    pipe = r.pipeline(transaction=False)
    for q in range(8):  # detection queues: JSON-ish items
        for i in range(2500):
            item = json.dumps({"camera": f"cam{q}", "seq": i, "payload": blob(rng, 1200).decode()})
            pipe.rpush(f"hsi:queue:detections:cam{q}", item)
        pipe.execute()
    for q in range(2):  # dead-letter queues
        pipe.rpush(f"hsi:queue:dlq:detections:cam{q}", *[blob(rng, 900) for _ in range(500)])
    pipe.execute()
    for i in range(6000):  # cache entries, with a TTL (a day: none expires during the test)
        pipe.set(f"hsi:cache:thumb:{i}", blob(rng, 1500), ex=86400)
        if i % 500 == 0:
            pipe.execute()
    for i in range(20000):  # deduplication: small strings, no TTL
        pipe.set(f"dedupe:{rng.getrandbits(128):032x}", "1")
        if i % 2000 == 0:
            pipe.execute()
    for i in range(3000):  # batches and jobs: hashes
        pipe.hset(f"batch:{i}", mapping={"camera": f"cam{i % 8}", "count": i, "frames": blob(rng, 600)})
        pipe.hset(f"job:{i}", mapping={"status": rng.choice(["queued", "running", "done"]), "progress": i % 100})
    pipe.execute()
    for i in range(50):  # service orchestration: sets
        pipe.sadd(f"orchestrator:services:{i}", *[f"svc-{i}-{j}" for j in range(40)])
    pipe.execute()
    for i in range(8000):  # entity embeddings: 512 float32 as bytes
        pipe.set(f"entity_embeddings:person:{i}", rng.randbytes(2048))
        if i % 500 == 0:
            pipe.execute()
    for z in range(20):  # rate limits and timelines: sorted sets
        pipe.zadd(f"hsi:ratelimit:api:{z}", {f"req-{z}-{j}": time.time() + j for j in range(1000)})
    pipe.execute()
    for i in range(5000):  # an event stream
        pipe.xadd("hsi:events:stream", {"type": "detection", "camera": f"cam{i % 8}", "body": blob(rng, 400)})
        if i % 500 == 0:
            pipe.execute()
    pipe.set("hsi:marker", marker)
    pipe.execute()
    side = redis.Redis(**dict(r.connection_pool.connection_kwargs, db=1))  # a second database
    side.set("hsi:cache:db1", blob(rng, 100))
    side.hset("job:db1", mapping={"status": "done"})
    info = r.info("memory")
    return {"keys": int(r.dbsize()) + int(side.dbsize()), "used_memory": int(info["used_memory"])}


def value_of(r: Any, key: bytes) -> Any:
    kind = r.type(key).decode()
    if kind == "string":
        value: Any = r.get(key)
    elif kind == "list":
        value = r.lrange(key, 0, -1)
    elif kind == "hash":
        value = sorted(r.hgetall(key).items())
    elif kind == "set":
        value = sorted(r.smembers(key))
    elif kind == "zset":
        value = r.zrange(key, 0, -1, withscores=True)
    elif kind == "stream":
        value = [(entry_id, sorted(fields.items())) for entry_id, fields in r.xrange(key)]
    else:
        value = kind
    return kind, value


def digest(r: Any) -> dict[str, Any]:
    keys: dict[str, str] = {}
    writer: list[int] = []
    for db in (0, 1):
        c = redis.Redis(**dict(r.connection_pool.connection_kwargs, db=db))
        for key in c.scan_iter(count=1000):
            if key == WRITER_KEY.encode():
                writer = [int(x) for x in c.lrange(key, 0, -1)]
                continue
            kind, value = value_of(c, key)
            has_ttl = c.pttl(key) > 0
            keys[f"{db}:{key.decode()}"] = hashlib.sha256(repr((kind, value, has_ttl)).encode()).hexdigest()
    return {"keys": keys, "writer": writer}


def writer(r: Any, seconds: float) -> dict[str, int]:
    if os.path.exists(STOP_FILE):
        os.unlink(STOP_FILE)
    deadline = time.monotonic() + seconds
    acked = 0
    while not os.path.exists(STOP_FILE) and time.monotonic() < deadline:
        r.rpush(WRITER_KEY, acked + 1)
        acked += 1
        if acked % 20 == 0:
            with open(ACKED_FILE + ".tmp", "w", encoding="ascii") as handle:
                handle.write(str(acked))
            os.replace(ACKED_FILE + ".tmp", ACKED_FILE)
    with open(ACKED_FILE, "w", encoding="ascii") as handle:
        handle.write(str(acked))
    return {"acked": acked}


def main() -> None:
    command = sys.argv[1]
    r = client()
    if command == "load":
        result: Any = load(r, int(sys.argv[2]), sys.argv[3])
    elif command == "writer":
        result = writer(r, float(sys.argv[2]))
    elif command == "digest":
        result = digest(r)
    elif command == "info":
        persistence = r.info("persistence")
        result = {
            "run_id": r.info("server")["run_id"],
            "keyspace": {k: v["keys"] for k, v in r.info("keyspace").items()},
            "rdb_saves": persistence.get("rdb_saves"),
        }
    else:
        raise SystemExit(f"unknown command {command}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
