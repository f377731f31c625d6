"""The gated connection factory: what ``sqlite3.connect`` becomes.

Every connection opens with a :class:`GatedConnection` factory (mixed into the app's own
factory if it passes one), so the statements an unmodified app issues through connections
it opens itself pass the gate: ``execute``/``executemany``/``executescript``,
``cursor().execute``, ``commit``, ``rollback`` and ``close``. Each is one step in lockstep,
and the connection watches what it does for the op in flight (BEGIN/COMMIT times, BUSY
events by extended code, whether COMMIT returned OK). In lockstep SQLite never waits
(``busy_timeout`` is forced to 0): a statement turned away with BUSY is retried here as a
new step, standing in for SQLite's busy handler exactly as walburst's own worker does.
"""

import re
import sqlite3
import time

from . import errors
from .protocol import monotonic_ns
from .settings import SETTINGS
from .sql import _BUSY_TIMEOUT, _is_dml, classify, script_kind
from .steps import (GATE, _kill_during_checkpoint, _original_connect, _original_sleep, _tls,
                    describe_sql)

_CONNECT_ARGS = ("timeout", "detect_types", "isolation_level", "check_same_thread",
                 "factory", "cached_statements", "uri")


class _Rows:
    """The rows of a checkpoint, already read inside its step (a cursor stand-in)."""

    def __init__(self, rows, description):
        self._rows = list(rows)
        self.description = description
        self.rowcount = -1
        self.lastrowid = None

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def fetchall(self):
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, size=1):
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    def __iter__(self):
        return iter(self.fetchall())

    def close(self):
        self._rows = []


class GatedConnectionMixin:
    """Mixed in front of the app's connection class; see the module docstring."""

    def _walburst_run(self, kind, label, key, fn, script_commits=None):
        gate = GATE
        op = gate.current_op()
        st = getattr(_tls, "actor", None)
        nested = st is not None and st.in_step
        if op is not None and not nested:
            op.note_attempt(key)
            if kind == "begin" and op.t_begin_issued_ns is None:
                op.t_begin_issued_ns = monotonic_ns()
            elif kind == "commit":
                gate.maybe_die("mid-transaction")
            elif kind == "checkpoint" and "checkpoint" in op.kill_points:
                _kill_during_checkpoint(gate, st.index, op.op["seq"])
        was_in_tx = self.in_transaction
        deferred_before = self.__dict__.get("_wb_deferred", False)
        action = {"kind": kind}
        if label is not None:
            action["label"] = label
        waited_until = time.monotonic() + 60
        while True:
            stamps = {}

            def run():
                if kind in ("commit", "rollback"):
                    stamps["issued"] = monotonic_ns()
                value = fn()
                if kind == "begin":
                    stamps["begin_ok"] = monotonic_ns()
                elif kind == "write":
                    stamps["write_ok"] = monotonic_ns()
                return value

            describe = _describe_checkpoint if kind == "checkpoint" else describe_sql
            try:
                value = gate.step(action, run, describe)
            except sqlite3.Error as exc:
                if not self.in_transaction:
                    self._walburst_forget()
                if op is not None and not nested:
                    if "issued" in stamps and op.t_commit_issued_ns is None:
                        op.t_commit_issued_ns = stamps["issued"]
                    busy = errors.is_busy(exc)
                    retry = gate.gated_here() and errors.is_retried_by_busy_handler(exc)
                    if busy:
                        op.note_busy(kind, key, exc, retry)
                    if kind == "commit" and was_in_tx and not self.in_transaction:
                        # The transaction ended inside a failed COMMIT: nobody knows whether
                        # it is durable. The ledger settles it.
                        op.ambiguous = True
                        op.commit_error = exc
                    if retry:
                        continue
                if gate.lockstep and st is None and errors.is_retried_by_busy_handler(exc) \
                        and time.monotonic() < waited_until:
                    # Before the barrier (ungated) lockstep still has busy_timeout=0; the
                    # busy handler's wait is done here, off the schedule.
                    _original_sleep(0.001)
                    continue
                raise
            break
        self._walburst_track(kind, key[1] if key else "")
        if op is not None and not nested:
            if "issued" in stamps and op.t_commit_issued_ns is None:
                op.t_commit_issued_ns = stamps["issued"]
            if kind == "begin" and op.t_begin_ok_ns is None:
                op.t_begin_ok_ns = stamps.get("begin_ok")
            elif kind == "write" and deferred_before and op.t_begin_ok_ns is None:
                # A deferred transaction's first write took the write lock: its interval
                # starts when that write returned (SQLite took the lock during it).
                op.t_begin_ok_ns = stamps.get("write_ok")
            if script_commits:
                # ``executescript`` committed a transaction of its own (or the one pending).
                op.commit_ok = True
                op.t_commit_issued_ns = op.t_commit_issued_ns or monotonic_ns()
            elif kind == "commit" and was_in_tx:
                op.commit_ok = True
                gate.maybe_die("after-commit")
            elif kind == "rollback" and was_in_tx:
                op.rolled_back = True
            elif kind == "checkpoint" and value._rows and op.checkpoint is None:
                op.checkpoint = [int(v) for v in value._rows[0][:3]]
            elif kind in ("statement", "write") and not was_in_tx \
                    and not self.in_transaction and _is_dml(key[1]):
                # An autocommit write: it committed when the statement returned.
                op.commit_ok = True
                op.t_commit_issued_ns = op.t_commit_issued_ns or monotonic_ns()
        return value

    def _walburst_kind(self, sql):
        kind, label = classify(sql)
        if kind == "savepoint":
            # Outside a transaction a SAVEPOINT opens a deferred one (BEGIN DEFERRED).
            return ("statement" if self.in_transaction else "begin_deferred"), "SAVEPOINT"
        if kind == "release":
            sps = self.__dict__.get("_wb_savepoints", [])
            outermost = bool(sps) and label in sps and sps[::-1].index(label) == len(sps) - 1
            if outermost and self.__dict__.get("_wb_sp_opened", False):
                # Releasing the savepoint that opened the transaction commits it.
                return "commit", None
            return "statement", "RELEASE"
        if kind == "write" and self.isolation_level is not None \
                and not self.in_transaction and _is_dml(sql):
            # The sqlite3 module will issue BEGIN before this statement: the statement
            # writes in the same step, so the write lock is held when it returns: a begin.
            return "begin", label
        return kind, label

    def _walburst_forget(self):
        self.__dict__["_wb_deferred"] = False
        self.__dict__["_wb_savepoints"] = []
        self.__dict__["_wb_sp_opened"] = False

    def _walburst_track(self, kind, sql):
        """After a step that returned OK: the deferred transaction and savepoint stack of
        this connection, as SQLite keeps them."""
        if not self.in_transaction:
            self._walburst_forget()
            return
        d = self.__dict__
        parsed, name = classify(sql) if sql else (None, None)
        if kind == "begin_deferred":
            d["_wb_deferred"] = True
            d["_wb_sp_opened"] = parsed == "savepoint"
            d["_wb_savepoints"] = [name] if parsed == "savepoint" else []
        elif kind == "begin":
            d["_wb_deferred"] = False
        elif kind == "write":
            d["_wb_deferred"] = False
        elif parsed == "savepoint":
            d.setdefault("_wb_savepoints", []).append(name)
        elif parsed == "release":
            sps = d.get("_wb_savepoints", [])
            if name in sps:
                del sps[len(sps) - 1 - sps[::-1].index(name):]

    def cursor(self, factory=None):
        return super().cursor(_gated_cursor_class(factory))

    def execute(self, sql, parameters=(), /):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, script, /):
        return self.cursor().executescript(script)

    def commit(self):
        if not self.in_transaction:
            return super().commit()
        return self._walburst_run("commit", None, ("commit", "COMMIT"), super().commit)

    def rollback(self):
        if not self.in_transaction:
            return super().rollback()
        return self._walburst_run("rollback", None, ("rollback", "ROLLBACK"), super().rollback)

    def __exit__(self, exc_type, exc_value, traceback):
        # ``with conn:`` commits or rolls back in C, past the overrides above; route it
        # through them so the gate sees (and in lockstep orders) that COMMIT too.
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                if self.in_transaction:
                    self.rollback()
                raise
        else:
            self.rollback()
        return False

    def close(self):
        op = GATE.current_op()
        st = getattr(_tls, "actor", None)
        if op is not None and not (st is not None and st.in_step):
            GATE.maybe_die("close")
            op.closed = True
        was_in_tx = self.in_transaction
        SETTINGS.before_close(self)
        GATE.step({"kind": "close"}, super().close)
        if op is not None and was_in_tx:
            op.rolled_back = True


class GatedCursorMixin:
    def execute(self, sql, parameters=(), /):
        conn = self.connection
        kind, label = conn._walburst_kind(sql)
        SETTINGS.note_sql(conn, sql)
        if GATE.lockstep and _BUSY_TIMEOUT.match(sql):
            # Lockstep never waits inside SQLite: the gate is the busy handler.
            sql, parameters = "PRAGMA busy_timeout=0", ()
        base = super()
        if kind == "checkpoint":
            def run():
                cur = base.execute(sql, parameters)
                return _Rows(cur.fetchall(), cur.description)
        else:
            def run():
                return base.execute(sql, parameters)
        return conn._walburst_run(kind, label, (kind, sql), run)

    def executemany(self, sql, seq_of_parameters, /):
        conn = self.connection
        kind, label = conn._walburst_kind(sql)
        base = super()
        return conn._walburst_run(kind, label, (kind, sql),
                                  lambda: base.executemany(sql, seq_of_parameters))

    def executescript(self, script, /):
        conn = self.connection
        commits = None
        if re.search(r"\bCREATE\b", script, re.I):
            kind = "schema"
        else:
            # Legacy transaction control (every Python before 3.12, and the default after)
            # commits a pending transaction first; then the script's own BEGIN, COMMIT,
            # SAVEPOINT and RELEASE decide, and the gate follows them.
            legacy = not hasattr(sqlite3, "LEGACY_TRANSACTION_CONTROL") or \
                conn.autocommit == sqlite3.LEGACY_TRANSACTION_CONTROL
            kind, commits = script_kind(script, conn.in_transaction and not legacy)
            commits = commits or (legacy and conn.in_transaction)
        label = None if kind == "schema" else "script"
        base = super()
        return conn._walburst_run(kind, label, (kind, script),
                                  lambda: base.executescript(script), script_commits=commits)


def _describe_checkpoint(value, exc):
    if exc is None and value is not None and value._rows and value._rows[0] \
            and value._rows[0][0]:
        return {"kind": "busy", "code": "SQLITE_BUSY"}
    return describe_sql(value, exc)


class GatedConnection(GatedConnectionMixin, sqlite3.Connection):
    pass


class GatedCursor(GatedCursorMixin, sqlite3.Cursor):
    pass


_mixed = {}


def _gated_cursor_class(factory):
    if factory is None or factory is sqlite3.Cursor:
        return GatedCursor
    if issubclass(factory, GatedCursorMixin):
        return factory
    return _mix(GatedCursorMixin, factory)


def _mix(mixin, cls):
    key = (mixin, cls)
    if key not in _mixed:
        _mixed[key] = type("Gated" + cls.__name__, (mixin, cls), {})
    return _mixed[key]


def gated_connect(database, *args, **kwargs):
    """``sqlite3.connect`` with the gated factory; in lockstep with ``timeout=0``."""
    for name, value in zip(_CONNECT_ARGS, args):
        kwargs[name] = value
    factory = kwargs.get("factory") or sqlite3.Connection
    if factory is sqlite3.Connection:
        factory = GatedConnection
    elif not issubclass(factory, GatedConnectionMixin):
        factory = _mix(GatedConnectionMixin, factory)
    kwargs["factory"] = factory
    if GATE.lockstep:
        kwargs["timeout"] = 0
    op = GATE.current_op()
    while True:
        try:
            conn = GATE.step({"kind": "open"}, lambda: _original_connect(database, **kwargs))
            SETTINGS.mark(conn)
            return conn
        except sqlite3.Error as exc:
            if op is not None and errors.is_busy(exc):
                op.note_busy("open", ("open", str(database)), exc, GATE.gated_here())
            if GATE.gated_here() and errors.is_retried_by_busy_handler(exc):
                continue
            raise
