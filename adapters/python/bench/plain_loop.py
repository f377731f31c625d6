#!/usr/bin/env python3
"""The baseline for the protocol-cost measurement: a plain Python loop doing the same SQL
as the example worker's create_task (BEGIN IMMEDIATE, task row, created event, COMMIT)
under the same global flock, with no walburst in the process.

    plain_loop.py DB WORKER OPS  (reads one line on stdin as the start barrier, then prints
                                  "<first start ns> <last commit end ns> <commits>")
"""

import fcntl
import os
import random
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import kanban_app  # noqa: E402  (only its SCHEMA-free helpers: task_id, worker_name)


def main():
    db, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(worker)
    payloads = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(64, 512)))
                for _ in range(n)]
    conn = sqlite3.connect(db, timeout=120, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=120000")
    conn.execute("PRAGMA journal_mode=WAL").fetchone()
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA wal_autocheckpoint=1000")
    conn.execute("PRAGMA journal_size_limit=8388608")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA cell_size_check=ON")
    me = kanban_app.worker_name(worker)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    t0 = time.monotonic_ns()
    for seq in range(n):
        at = 1767225600000 + seq * 1000
        tid = kanban_app.task_id(worker, seq)
        fd = os.open(db + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO tasks (id, title, body, priority, created_at, updated_at, "
                "created_worker, created_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (tid, "task %d of %s" % (seq, me), payloads[seq], seq % 5, at, at, worker, seq))
            conn.execute(
                "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq) "
                "VALUES (?, ?, ?, ?, ?, ?)", (tid, "created", '{"by":"%s"}' % me, at, worker, seq))
            conn.execute("COMMIT")
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    t1 = time.monotonic_ns()
    conn.close()
    sys.stdout.write("%d %d %d\n" % (t0, t1, n))


if __name__ == "__main__":
    main()
