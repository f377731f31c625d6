"""The board's write transactions: create, claim (and the deliberately racy claim),
heartbeat, comment, complete, and the gc of old heartbeat events.
"""

import random
import sqlite3
import time

from .txn import NothingToDo, _boundary, _is_busy_error, rollback_quietly, write_txn

# A gc deletes heartbeat events older than this many logical milliseconds.
GC_AGE_MS = 20 * 1000


def worker_name(worker):
    return "w%03d" % worker


def task_id(worker, seq):
    return "t-%03d-%06d" % (worker, seq)


def _event(conn, task, kind, detail, at, worker, seq):
    cur = conn.execute(
        "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq) "
        "VALUES (?, ?, ?, ?, ?, ?)", (task, kind, detail, at, worker, seq))
    return cur.lastrowid


def _open_run(conn, me, order):
    return conn.execute(
        "SELECT id, task_id FROM task_runs WHERE claimed_by = ? AND ended_at IS NULL "
        "ORDER BY id %s LIMIT 1" % order, (me,)).fetchone()


def create_task(conn, cfg, worker, seq, at, body, tid=None):
    """Creates a task and its 'created' event; returns (event id, task id)."""
    me, tid = worker_name(worker), tid or task_id(worker, seq)
    with write_txn(conn, cfg):
        conn.execute(
            "INSERT INTO tasks (id, title, body, priority, created_at, updated_at, "
            "created_worker, created_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (tid, "task %d of %s" % (seq, me), body, seq % 5, at, at, worker, seq))
        eid = _event(conn, tid, "created", '{"by":"%s"}' % me, at, worker, seq)
    return eid, tid


def claim_task(conn, cfg, worker, seq, at):
    """Claims the best ready task by compare-and-swap; None when there is none to win, else
    (event id, task id, the task's claim_lock as read before claiming it)."""
    me = worker_name(worker)
    try:
        with write_txn(conn, cfg):
            row = conn.execute(
                "SELECT id, claim_lock FROM tasks WHERE status = 'ready' AND claim_lock IS NULL "
                "ORDER BY priority DESC, created_at LIMIT 1").fetchone()
            if row is None:
                raise NothingToDo("no ready task to claim")
            tid, seen = row
            cur = conn.execute(
                "UPDATE tasks SET status = 'running', claim_lock = ?, claimed_by = ?, "
                "assignee = ?, updated_at = ? WHERE id = ? AND status = 'ready' "
                "AND claim_lock IS NULL", ("%s:%d" % (me, seq), me, me, at, tid))
            if cur.rowcount != 1:
                raise NothingToDo("claim lost the compare-and-swap")
            conn.execute(
                "INSERT INTO task_runs (task_id, claimed_by, started_at, worker, seq) "
                "VALUES (?, ?, ?, ?, ?)", (tid, me, at, worker, seq))
            eid = _event(conn, tid, "claimed", '{"by":"%s"}' % me, at, worker, seq)
    except NothingToDo:
        return None
    return eid, tid, seen


def claim_task_read_then_write(conn, cfg, worker, seq, at):
    """A deliberately racy claim, the twin of walburst's ``claim = "read-then-write"`` (the
    ``python-double-claim`` negative control): a deferred transaction reads the best ready
    task, then updates it by id alone; when the update is turned away (busy, or a stale
    snapshot once another claim committed) it rolls back and retries the update in a new
    transaction without reading again, so two workers can claim one task. Never copy it.
    Returns what :func:`claim_task` returns."""
    me = worker_name(worker)
    conn.execute("BEGIN DEFERRED")
    try:
        row = conn.execute(
            "SELECT id, claim_lock FROM tasks WHERE status = 'ready' AND claim_lock IS NULL "
            "ORDER BY priority DESC, created_at LIMIT 1").fetchone()
        if row is None:
            raise NothingToDo("no ready task to claim")
        tid, seen = row
        for attempt in range(cfg.retries + 1):
            try:
                conn.execute(
                    "UPDATE tasks SET status = 'running', claim_lock = ?, claimed_by = ?, "
                    "assignee = ?, updated_at = ? WHERE id = ?",
                    ("%s:%d" % (me, seq), me, me, at, tid))
                break
            except sqlite3.OperationalError as exc:
                if not _is_busy_error(exc) or attempt == cfg.retries:
                    raise
                # The race: a new snapshot, the same task, nothing read again.
                conn.execute("ROLLBACK")
                lo, hi = cfg.retry_jitter_ms
                time.sleep(random.uniform(lo, hi) / 1000)
                conn.execute("BEGIN DEFERRED")
        conn.execute(
            "INSERT INTO task_runs (task_id, claimed_by, started_at, worker, seq) "
            "VALUES (?, ?, ?, ?, ?)", (tid, me, at, worker, seq))
        eid = _event(conn, tid, "claimed", '{"by":"%s"}' % me, at, worker, seq)
        _boundary(conn, "COMMIT", cfg)
    except NothingToDo:
        conn.execute("ROLLBACK")
        return None
    except BaseException:
        rollback_quietly(conn)
        raise
    return eid, tid, seen


def heartbeat(conn, cfg, worker, seq, at):
    me = worker_name(worker)
    try:
        with write_txn(conn, cfg):
            run = _open_run(conn, me, "DESC")
            if run is None:
                raise NothingToDo("no running task to heartbeat")
            run_id, tid = run
            conn.execute("UPDATE task_runs SET heartbeat_at = ? WHERE id = ?", (at, run_id))
            conn.execute("UPDATE tasks SET heartbeat_at = ? WHERE id = ?", (at, tid))
            eid = _event(conn, tid, "heartbeat", '{"run":%d}' % run_id, at, worker, seq)
    except NothingToDo:
        return None
    return eid, tid


def add_comment(conn, cfg, worker, seq, at, body):
    me = worker_name(worker)
    try:
        with write_txn(conn, cfg):
            row = conn.execute(
                "SELECT id FROM tasks ORDER BY updated_at DESC, id LIMIT 1").fetchone()
            if row is None:
                raise NothingToDo("no task to comment on")
            tid = row[0]
            conn.execute(
                "INSERT INTO task_comments (task_id, author, body, created_at, worker, seq) "
                "VALUES (?, ?, ?, ?, ?, ?)", (tid, me, body, at, worker, seq))
            eid = _event(conn, tid, "commented", '{"by":"%s"}' % me, at, worker, seq)
    except NothingToDo:
        return None
    return eid, tid


def complete_task(conn, cfg, worker, seq, at, result):
    me = worker_name(worker)
    try:
        with write_txn(conn, cfg):
            run = _open_run(conn, me, "ASC")
            if run is None:
                raise NothingToDo("no running task to complete")
            run_id, tid = run
            conn.execute(
                "UPDATE tasks SET status = 'done', result = ?, claim_lock = NULL, "
                "completed_at = ?, updated_at = ? WHERE id = ?", (result, at, at, tid))
            conn.execute("UPDATE task_runs SET ended_at = ?, outcome = 'done' WHERE id = ?",
                         (at, run_id))
            eid = _event(conn, tid, "completed", '{"run":%d}' % run_id, at, worker, seq)
    except NothingToDo:
        return None
    return eid, tid


def gc_events(conn, cfg, worker, seq, at):
    with write_txn(conn, cfg):
        cur = conn.execute(
            "DELETE FROM task_events WHERE kind = 'heartbeat' AND created_at < ?",
            (at - GC_AGE_MS,))
        eid = _event(conn, None, "gc", '{"deleted":%d}' % cur.rowcount, at, worker, seq)
    return eid, None
