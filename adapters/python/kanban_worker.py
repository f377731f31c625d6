#!/usr/bin/env python3
"""walburst's kanban profile run through a Python app: the example adapter.

``kanban_app`` stands in for the app under test (it knows nothing of walburst); this file
is the whole adapter: it maps each op kind to a call of the app's own functions, builds
the app's configuration from the run's settings, and decides per-op or persistent
connections and idle connections as the scenario says. Run by the runner as
``python3 adapters/python/kanban_worker.py`` (see scenarios/python-*.toml).
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# First: installs the gated sqlite3.connect before the app's code is imported.
import walburst_worker  # noqa: E402
from walburst_worker import Nothing, guard_step  # noqa: E402

import kanban_app as app  # noqa: E402


def config(actor):
    s, st = actor.sqlite, actor.strategy
    return app.Config(
        actor.db_path,
        busy_timeout_ms=int(s.get("busy_timeout_ms", 120000)),
        journal_mode=s.get("journal_mode", "wal"),
        synchronous=s.get("synchronous", "full"),
        wal_autocheckpoint=int(s.get("wal_autocheckpoint", 1000)),
        journal_size_limit=int(s.get("journal_size_limit", 8388608)),
        secure_delete=bool(s.get("secure_delete", True)),
        cell_size_check=bool(s.get("cell_size_check", True)),
        checkpoint_on_close=bool(s.get("checkpoint_on_close", True)),
        page_size=s.get("page_size"),
        guard=actor.guard, guard_at=actor.guard_at,
        write_lock=st.get("write_lock", "none"),
        write_lock_wait=st.get("write_lock_wait", "blocking"),
        write_lock_poll_ms=int(st.get("write_lock_poll_ms", 50)),
        write_lock_timeout_ms=int(st.get("write_lock_timeout_ms", 120000)),
        write_lock_scope=st.get("write_lock_scope", "transaction"),
        lock_checkpoints=bool(st.get("lock_checkpoints", False)),
        init_lock=st.get("init_lock", "none"),
        init_lock_poll_ms=int(st.get("init_lock_poll_ms", 50)),
        init_lock_timeout_ms=int(st.get("init_lock_timeout_ms", 10000)),
        retries=int(st.get("retries", 0)),
        retry_jitter_ms=st.get("retry_jitter_ms", [20, 150]),
        create_schema=actor.workload.get("setup") == "race",
    )


def cfg_of(actor):
    if "cfg" not in actor.state:
        actor.state["cfg"] = config(actor)
    return actor.state["cfg"]


def open_early(actor):
    actor.state["conn"] = app.connect(cfg_of(actor))


def open_idle(actor):
    conn = app.connect(cfg_of(actor), writer=False)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn


def close(actor):
    conn = actor.state.pop("conn", None)
    if conn is not None:
        app.close(conn)


def with_conn(body):
    """Runs ``body(conn, cfg, op, actor)`` on the actor's connection: opened for the op
    and closed after it (per-op), or opened once and kept (persistent)."""

    def run(op, actor):
        cfg = cfg_of(actor)
        per_op = actor.workload.get("connection") == "per-op"
        conn = actor.state.get("conn")
        if conn is None:
            conn = app.connect(cfg)
            if not per_op:
                actor.state["conn"] = conn
        try:
            return body(conn, cfg, op, actor)
        finally:
            if per_op:
                actor.state.pop("conn", None)
                app.close(conn)

    return run


def wrote(result, why):
    if result is None:
        return Nothing(why)
    event_id, task_id = result
    return {"event_id": event_id, "task_id": task_id}


def claimed(result):
    """A claim's record: what it wrote, and its read of the task it claimed (the task's
    claim_lock as the app saw it), which walburst's isolation checker judges."""
    if result is None:
        return Nothing("nothing to claim")
    event_id, task_id, seen = result
    return {"event_id": event_id, "task_id": task_id,
            "claim_read": {"task_id": task_id, "claim_lock": seen}}


def list_txn(conn, cfg, op, actor):
    """The app's list transaction in the shape the run asks for (``workload.list_write``):
    appends, or a read-modify-write whose retry reads again (``rewrite``) or not
    (``rewrite-stale-retry``, the lost-update control)."""
    how = actor.workload.get("list_write") or "append"
    if how == "append":
        return app.list_txn(conn, cfg, actor.worker, op["seq"], op["at_ms"], op["list"])
    return app.list_rewrite_txn(conn, cfg, actor.worker, op["seq"], op["at_ms"], op["list"],
                                stale_retry=how == "rewrite-stale-retry")


def snapshot(conn, cfg, op, actor):
    """A reader's op (``workload.readers``): the app's read_snapshot, holding its snapshot a
    seeded 1-20 ms (``reader_hold_ms``) between reads; in lockstep the gate skips sleeps and
    the scheduler places other actors' steps between the reads. ``--reader=restart-between-reads``
    is the app's broken reader, the negative control of walburst's snapshot-stability check."""
    lo, hi = actor.workload.get("reader_hold_ms") or [1, 20]
    # Drawn from the run's seed (never the clock), so a free run's holds repeat with its seed.
    rng = random.Random("reader-hold-%d-%d-%d-%d" % (
        int(actor.start.get("seed") or 0), actor.worker, actor.index, op["seq"]))
    hold = lambda: time.sleep(rng.uniform(lo, hi) / 1000)  # noqa: E731
    restart = "--reader=restart-between-reads" in sys.argv[1:]
    reads = app.read_snapshot(conn, hold=hold, restart=restart)
    return {"reads": [{"tasks": t, "events": e, "checksum": c, "t_ns": ns}
                      for t, e, c, ns in reads]}


def listed(result):
    event_id, mops = result
    return {"event_id": event_id, "list": mops}


OPS = {
    "create_task": with_conn(lambda c, cfg, op, a: wrote(app.create_task(
        c, cfg, a.worker, op["seq"], op["at_ms"], op["payload"], op.get("task_id")), "")),
    "claim_task": with_conn(lambda c, cfg, op, a: claimed(app.claim_task(
        c, cfg, a.worker, op["seq"], op["at_ms"]))),
    "heartbeat": with_conn(lambda c, cfg, op, a: wrote(app.heartbeat(
        c, cfg, a.worker, op["seq"], op["at_ms"]), "no running task to heartbeat")),
    "add_comment": with_conn(lambda c, cfg, op, a: wrote(app.add_comment(
        c, cfg, a.worker, op["seq"], op["at_ms"], op["payload"]), "no task to comment on")),
    "complete_task": with_conn(lambda c, cfg, op, a: wrote(app.complete_task(
        c, cfg, a.worker, op["seq"], op["at_ms"], op["payload"]),
        "no running task to complete")),
    "gc_events": with_conn(lambda c, cfg, op, a: wrote(app.gc_events(
        c, cfg, a.worker, op["seq"], op["at_ms"]), "")),
    "list_txn": with_conn(lambda c, cfg, op, a: listed(list_txn(c, cfg, op, a))),
    "read_snapshot": with_conn(snapshot),
    "checkpoint": with_conn(lambda c, cfg, op, a: {"checkpoint": list(app.checkpoint(
        c, cfg, (a.workload.get("checkpoint_mode") or "passive").upper()))}),
}


def guard_report(exc):
    """The protocol's guard object from the app's torn-extend exception."""
    if not isinstance(exc, app.TornExtendError):
        return None
    return {"guard": exc.guard, "at": exc.at, "claimed_pages": exc.claimed_pages,
            "file_pages": exc.file_pages, "deficit": exc.claimed_pages - exc.file_pages,
            "page_size": exc.page_size, "file_size": exc.file_size,
            "journal_mode": exc.journal_mode, "message": str(exc)}


# The app's guard, wrapped so each run is one lockstep step and a firing is reported with
# the guard's own numbers. (The app calls it through its module, kanban_app.guards, so
# this reaches it.)
app.guards.check_file_length = guard_step(app.guards.check_file_length, guard_report)

# ``--claim=read-then-write``: the app's racy claim, the twin of the built-in worker's
# ``claim = "read-then-write"`` (scenarios/python-double-claim.toml, a negative control).
if "--claim=read-then-write" in sys.argv[1:]:
    OPS["claim_task"] = with_conn(lambda c, cfg, op, a: claimed(app.claim_task_read_then_write(
        c, cfg, a.worker, op["seq"], op["at_ms"])))

if __name__ == "__main__":
    walburst_worker.serve(OPS, open=open_early, idle=open_idle, close=close,
                          app="kanban-example")
