"""The board's readers: one read of the board, and a report reader reading it several
times inside one read transaction (and its broken twin, a negative control).
"""

import time

from .txn import rollback_quietly


def read_board(conn):
    """One read of the board: (tasks, events, checksum), the checksum mixing each task's
    status with its timestamps (walburst's kanban readers read the same)."""
    tasks, checksum = conn.execute(
        "SELECT count(*), coalesce(sum((length(status) * 7919 + updated_at % 1000003 "
        "+ coalesce(heartbeat_at, 0) % 1000003) % 2147483647), 0) FROM tasks").fetchone()
    events = conn.execute("SELECT count(*) FROM task_events").fetchone()[0]
    return tasks, events, checksum


def read_snapshot(conn, reads=3, hold=None, restart=False):
    """A report reader: one read transaction reading the board ``reads`` times, calling
    ``hold()`` between reads (a slow report). Inside one snapshot every read must be the
    same. Returns [(tasks, events, checksum, CLOCK_MONOTONIC ns after the read)].

    ``restart=True`` is a deliberately broken reader (a negative control): it commits and
    begins again before every read after the first, so its reads see different snapshots."""
    conn.execute("BEGIN DEFERRED")
    try:
        out = []
        for i in range(reads):
            if i and hold is not None:
                hold()
            if i and restart:
                conn.execute("COMMIT")
                conn.execute("BEGIN DEFERRED")
            tasks, events, checksum = read_board(conn)
            out.append((tasks, events, checksum, time.monotonic_ns()))
        conn.execute("COMMIT")
    except BaseException:
        rollback_quietly(conn)
        raise
    return out
