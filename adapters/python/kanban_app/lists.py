"""The list transactions of walburst's ``list-append`` profile: appends and reads in one
write transaction, or as a read-modify-write of whole lists (and its lost-update control).
"""

import random
import sqlite3
import time

from .tasks import _event
from .txn import _boundary, _is_busy_error, rollback_quietly, write_txn


def list_txn(conn, cfg, worker, seq, at, mops):
    """One list-append transaction (walburst's ``list-append`` profile): appends to and reads
    of keyed lists in table ``lists``, in order, inside one write transaction. Returns
    (event id, the micro-ops with each read's values filled in)."""
    done = []
    with write_txn(conn, cfg):
        for m in mops:
            if m["f"] == "append":
                conn.execute("INSERT INTO lists (key, value, worker, seq) VALUES (?, ?, ?, ?)",
                             (m["key"], m["value"], worker, seq))
                done.append(dict(m))
            else:
                rows = conn.execute("SELECT value FROM lists WHERE key = ? ORDER BY id",
                                    (m["key"],)).fetchall()
                done.append({"f": "read", "key": m["key"], "values": [r[0] for r in rows]})
        eid = _event(conn, None, "list_txn", "", at, worker, seq)
    return eid, done


def _touched_keys(mops):
    keys = []
    for m in mops:
        if m["key"] not in keys:
            keys.append(m["key"])
    return keys


def _read_register(conn, key):
    row = conn.execute("SELECT list FROM list_registers WHERE key = ?", (key,)).fetchone()
    return [int(v) for v in row[0].split()] if row else []


def list_rewrite_txn(conn, cfg, worker, seq, at, mops, stale_retry=False):
    """The list transaction as a read-modify-write (walburst's ``list_write = "rewrite"``):
    each list is one row of ``list_registers``, read in a deferred transaction and written
    back whole with this transaction's values appended (each value also goes to ``lists``,
    whose id order is the commit order). When the write is turned away ("database is
    locked": busy, or a stale snapshot) the whole transaction runs again, reads included.

    ``stale_retry=True`` is the lost-update negative control (``rewrite-stale-retry``,
    scenarios/python-lost-update.toml): the retry writes the lists read before, reading
    nothing again, and overwrites what another process committed meanwhile. Never copy it.
    Returns (event id, the reads then the appends, as walburst's record wants them)."""
    appends = [m for m in mops if m["f"] == "append"]
    conn.execute("BEGIN DEFERRED")
    try:
        read = None
        for attempt in range(cfg.retries + 1):
            if read is None:
                read = [(k, _read_register(conn, k)) for k in _touched_keys(mops)]
            lists = {}
            for m in appends:
                base = dict(read)[m["key"]]
                lists.setdefault(m["key"], list(base)).append(m["value"])
            try:
                # The event first: it takes the write lock, or is turned away before any
                # write.
                eid = _event(conn, None, "list_txn", "", at, worker, seq)
                break
            except sqlite3.OperationalError as exc:
                if not _is_busy_error(exc) or attempt == cfg.retries:
                    raise
                conn.execute("ROLLBACK")
                lo, hi = cfg.retry_jitter_ms
                time.sleep(random.uniform(lo, hi) / 1000)
                conn.execute("BEGIN DEFERRED")
                if not stale_retry:
                    read = None  # the correct retry: read again in the new snapshot
        for key in sorted(lists):
            conn.execute("INSERT OR REPLACE INTO list_registers (key, list) VALUES (?, ?)",
                         (key, " ".join(str(v) for v in lists[key])))
        for m in appends:
            conn.execute("INSERT INTO lists (key, value, worker, seq) VALUES (?, ?, ?, ?)",
                         (m["key"], m["value"], worker, seq))
        _boundary(conn, "COMMIT", cfg)
    except BaseException:
        rollback_quietly(conn)
        raise
    done = [{"f": "read", "key": k, "values": v} for k, v in read]
    return eid, done + [dict(m) for m in appends]
