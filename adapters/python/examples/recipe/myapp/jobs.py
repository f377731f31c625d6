"""The job queue's DB layer: one connection per call, `BEGIN IMMEDIATE` ... `COMMIT`."""

import json
import sqlite3

SCHEMA = ("CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, "
          "origin TEXT NOT NULL, taken_by TEXT)")


def _connect(db_path):
    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(SCHEMA)
    return conn


def enqueue(db_path, payload, origin):
    """Adds a job; `origin` (any JSON) is stored with it."""
    conn = _connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO jobs (payload, origin) VALUES (?, ?)",
                     (payload, json.dumps(origin)))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def take_next(db_path, taken_by):
    """Takes the oldest job nobody took, or returns None (and changes nothing)."""
    conn = _connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            "SELECT id FROM jobs WHERE taken_by IS NULL ORDER BY id LIMIT 1").fetchone()
        if row is None:
            conn.execute("ROLLBACK")
            return None
        conn.execute("UPDATE jobs SET taken_by = ? WHERE id = ?", (json.dumps(taken_by), row[0]))
        conn.execute("COMMIT")
        return row[0]
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
