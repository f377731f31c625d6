"""A test app in the most common Python style: the sqlite3 module's default (implicit,
deferred) transactions and ``with conn:`` to commit. It knows nothing of walburst but the
(worker, seq) it stores; the adapter is the last three lines."""

import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import walburst_worker  # noqa: E402


def add_note(db, worker, seq, text):
    conn = sqlite3.connect(db, timeout=30)
    try:
        with conn:
            conn.execute("INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq)"
                         " VALUES (NULL, 'note', ?, 0, ?, ?)", (text, worker, seq))
    finally:
        conn.close()


walburst_worker.serve({"create_task": lambda op, a: add_note(
    a.db_path, a.worker, op["seq"], op["payload"])}, app="context-test")
