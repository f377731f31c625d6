"""What the app's connections actually run with (PROTOCOL.md, ``settings``).

The app sets its own PRAGMAs on the connections it opens; walburst's report must say what
ran, not what the scenario asked for. For each connection the gated factory opened, the
adapter reads the effective values back from SQLite on that very connection and sends one
``settings`` message (again whenever the app later runs a PRAGMA that sets one of them):

* after the adapter's ``open`` hook (before the start barrier), for the connections it
  opened;
* at the end of each op, and at an actor's end, for the connections that actor opened or
  re-set since their last report;
* just before such a connection closes.

The read is one lockstep step of its own (a ``statement`` labelled ``settings``) on an
actor thread, so it never takes a lock outside the schedule; in lockstep, a connection
outside any actor (an idle connection closed at the end) is not read after ``go``. It runs
on a plain ``sqlite3.Cursor``, past the gate's own cursor, and a PRAGMA that cannot be read
is reported as absent rather than failing the app's op.
"""

import re
import sqlite3
import threading

_SETS = re.compile(
    r"^\s*PRAGMA\s+(?:main\.)?(journal_mode|synchronous|wal_autocheckpoint|busy_timeout"
    r"|locking_mode)\s*(=|\()", re.I)

_SYNCHRONOUS = {0: "off", 1: "normal", 2: "full", 3: "extra"}


class Reporter:
    """The process's one reporter: silent until :meth:`attach` says the runner wants it."""

    def __init__(self):
        self.channel = None
        self.worker = None
        self.enabled = False
        self.barrier_open = False
        self._lock = threading.Lock()
        # Connections waiting for a report, by the actor whose thread opened or re-set
        # them (``None``: a thread outside any actor, e.g. the ``open`` hook's).
        self._pending = {}

    def attach(self, channel, worker, enabled):
        self.channel = channel
        self.worker = worker
        self.enabled = bool(enabled)

    def _key(self):
        from .gate import _tls as gate_tls
        st = getattr(gate_tls, "actor", None)
        return st.index if st is not None else None

    def mark(self, conn):
        """``conn`` has settings nobody has reported yet (just opened, or re-set)."""
        if not self.enabled:
            return
        key = self._key()
        with self._lock:
            conns = self._pending.setdefault(key, [])
            if not any(c is conn for c in conns):
                conns.append(conn)

    def note_sql(self, conn, sql):
        if self.enabled and isinstance(sql, str) and _SETS.match(sql):
            self.mark(conn)

    def before_close(self, conn):
        """``conn`` is about to close: report it if it never was, or was re-set since."""
        if not self.enabled:
            return
        with self._lock:
            pending = any(c is conn for conns in self._pending.values() for c in conns)
        if pending or "_wb_settings_last" not in getattr(conn, "__dict__", {"": 0}):
            self.report(conn)

    def flush(self, key=None, actor=None):
        """Reports every pending connection of ``key`` (default: this thread's actor)."""
        if not self.enabled:
            return
        if key is None:
            key = self._key()
        with self._lock:
            conns = self._pending.pop(key, [])
        for conn in conns:
            self.report(conn, actor if actor is not None else key)

    def report(self, conn, actor=None):
        """Reads ``conn``'s settings (one step in lockstep) and sends them if they differ
        from what was last reported for it."""
        if not self.enabled:
            return
        from .gate import GATE
        with self._lock:
            for conns in self._pending.values():
                conns[:] = [c for c in conns if c is not conn]
        if actor is None:
            actor = self._key()
        on_actor_thread = self._key() is not None
        if GATE.lockstep and self.barrier_open and not on_actor_thread:
            return  # no step to read it in: reading now could race a granted step
        try:
            values = GATE.step({"kind": "statement", "label": "settings"},
                               lambda: read(conn))
        except Exception:
            return
        if values is None:
            return
        last = conn.__dict__.get("_wb_settings_last") if hasattr(conn, "__dict__") else None
        if values == last:
            return
        if hasattr(conn, "__dict__"):
            conn.__dict__["_wb_settings_last"] = values
        msg = {"msg": "settings", "worker": self.worker}
        if actor is not None:
            msg["actor"] = actor
        msg.update(values)
        self.channel.send(msg)


def read(conn):
    """The effective settings of ``conn``, through a plain cursor (not the gate's)."""
    try:
        cur = sqlite3.Cursor(conn)
    except sqlite3.Error:
        return None  # closed

    def one(pragma):
        try:
            row = cur.execute("PRAGMA " + pragma).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None

    values = {"sqlite_version": sqlite3.sqlite_version}
    mode = one("journal_mode")
    if mode is not None:
        values["journal_mode"] = str(mode).lower()
    sync = one("synchronous")
    if sync is not None:
        values["synchronous"] = _SYNCHRONOUS.get(int(sync), str(sync))
    for pragma, field in (("wal_autocheckpoint", "wal_autocheckpoint"),
                          ("busy_timeout", "busy_timeout_ms")):
        v = one(pragma)
        if v is not None:
            values[field] = int(v)
    locking = one("locking_mode")
    if locking is not None:
        values["locking_mode"] = str(locking).lower()
    try:
        cur.close()
    except sqlite3.Error:
        pass
    return values


SETTINGS = Reporter()
