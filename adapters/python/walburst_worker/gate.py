"""The lockstep gate and the gated connection factory.

Importing ``walburst_worker`` replaces ``sqlite3.connect`` with a function that opens
every connection with a :class:`GatedConnection` factory (mixed into the app's own factory
if it passes one), so the statements an unmodified app issues through connections it opens
itself pass the gate: ``execute``/``executemany``/``executescript``, ``cursor().execute``,
``commit``, ``rollback`` and ``close``. The gate also watches what those statements do for
the op in flight (BEGIN/COMMIT times, BUSY events by extended code, whether COMMIT
returned OK), which is how an op record is built without the app's cooperation.

In free mode the gate only watches. In lockstep (``"mode":"lockstep"``) every action of an
actor thread is one step: ``want`` -> wait for ``grant`` -> run -> ``did``. There SQLite
never waits (``busy_timeout`` is forced to 0), and a statement turned away with BUSY is
retried by the gate as a new step, standing in for SQLite's busy handler exactly as
walburst's own worker does. ``fcntl.flock`` becomes one non-blocking attempt per step and
``time.sleep`` does nothing in actor threads (in lockstep only steps order events).
"""

import fcntl
import functools
import os
import re
import signal
import sqlite3
import threading
import time

from . import errors
from .protocol import monotonic_ns
from .settings import SETTINGS

_tls = threading.local()

_original_connect = sqlite3.connect
_original_flock = fcntl.flock
_original_sleep = time.sleep

_CONNECT_ARGS = ("timeout", "detect_types", "isolation_level", "check_same_thread",
                 "factory", "cached_statements", "uri")


class OpContext:
    """What the gate saw while one op ran on one actor thread."""

    def __init__(self, op, kill_points):
        self.op = op
        self.kill_points = kill_points
        self.busy = []
        self.t_begin_issued_ns = None
        self.t_begin_ok_ns = None
        self.t_commit_issued_ns = None
        self.commit_ok = False
        self.commit_error = None
        self.ambiguous = False
        self.rolled_back = False
        self.closed = False
        self.guard = None
        self.guard_error = None
        self.checkpoint = None
        self.lock_wait_us = 0
        self._last_busy = None

    def note_busy(self, kind, key, exc, retried):
        code, _ = errors.code_of(exc)
        event = {"code": code, "during": _DURING.get(kind, "statement"), "retried": retried}
        self.busy.append(event)
        self._last_busy = (key, event)

    def note_attempt(self, key):
        """The app issued the same action again after a BUSY: it retried."""
        if self._last_busy is not None and self._last_busy[0] == key:
            self._last_busy[1]["retried"] = True
        self._last_busy = None


_DURING = {"open": "connect", "begin": "begin", "commit": "commit"}


class ActorState:
    def __init__(self, worker, index):
        self.worker = worker
        self.index = index
        self.grant = threading.Semaphore(0)
        self.op = None
        self.in_step = False
        # For the stuck-actor note (locks.StuckWatch): the actor's thread, whether it waits
        # for a grant or has finished, since when it runs outside any step, and which such
        # stretch was reported already.
        self.ident = None
        self.parked = False
        self.done = False
        self.since = time.monotonic()
        self.reported = None
        # Tracked app locks this actor holds (name -> depth): sent with each `want`, so the
        # coordinator skips attempts on them by the other actors (locks.TrackedLock).
        self.holding = {}

    def outside_since(self, now):
        """Seconds this actor's thread has run outside any step (0 while it waits for a
        grant, runs a step, or has finished)."""
        if self.ident is None or self.parked or self.in_step or self.done:
            return 0.0
        return now - self.since


class Gate:
    """The process's one gate: free until :meth:`attach` says lockstep."""

    def __init__(self):
        self.lockstep = False
        self.channel = None
        self.worker = None
        self.actors = {}
        self.gone = False
        self.db_name = None

    def attach(self, channel, worker, lockstep, actors, seed=0, db_path=None):
        self.seed = seed
        # The database's file name, to name walburst's sidecar locks by role in flock steps.
        self.db_name = os.path.basename(db_path) if db_path else None
        self.channel = channel
        self.worker = worker
        self.lockstep = lockstep
        self.actors = {a: ActorState(worker, a) for a in actors}

    def enter_actor(self, index):
        """Binds the calling thread to an actor: its actions are that actor's steps."""
        st = self.actors[index]
        st.ident = threading.get_ident()
        st.since = time.monotonic()
        _tls.actor = st
        return st

    def on_grant(self, index):
        st = self.actors.get(index)
        if st is not None:
            st.grant.release()

    def on_eof(self):
        """The coordinator is gone: every parked actor wakes and the process exits."""
        self.gone = True
        for st in self.actors.values():
            st.grant.release()

    def current_actor(self):
        """The actor bound to the calling thread, or ``None``."""
        return getattr(_tls, "actor", None)

    def current_op(self):
        st = getattr(_tls, "actor", None)
        return st.op if st is not None else None

    def gated_here(self):
        """Whether an action on this thread now is a lockstep step of its own."""
        st = getattr(_tls, "actor", None)
        return self.lockstep and st is not None and not st.in_step

    def step(self, action, fn, describe=None):
        """Runs ``fn`` as one step; ``describe`` maps (value, exception) to a StepResult."""
        st = getattr(_tls, "actor", None)
        if not self.lockstep or st is None or st.in_step:
            return fn()
        describe = describe or describe_sql
        st.parked = True
        want = {"msg": "want", "worker": st.worker, "actor": st.index, "action": action}
        if st.holding:
            want["holding"] = sorted(st.holding)
        self.channel.send(want, flush=True)
        st.grant.acquire()
        st.parked = False
        if self.gone:
            # Coordinator gone (EOF in lockstep): do nothing more, not even clean up.
            os._exit(6)
        st.in_step = True
        try:
            value = fn()
        except BaseException as exc:
            st.in_step = False
            self._did(st, describe(None, exc))
            raise
        st.in_step = False
        self._did(st, describe(value, None))
        return value

    def _did(self, st, result):
        st.since = time.monotonic()
        self.channel.send({"msg": "did", "worker": st.worker, "actor": st.index,
                           "result": result}, flush=True)

    def actor_done(self, index):
        st = self.actors.get(index)
        if st is not None:
            st.done = True
        if self.lockstep:
            self.channel.send({"msg": "actor_done", "worker": self.worker, "actor": index},
                              flush=True)

    def die(self, point, actor=None, seq=None):
        """Announces a seeded kill, then SIGKILLs the whole process, as a crash would."""
        st = getattr(_tls, "actor", None)
        if actor is None and st is not None:
            actor = st.index
        if seq is None and st is not None and st.op is not None:
            seq = st.op.op["seq"]
        def kill():
            os.kill(os.getpid(), signal.SIGKILL)
            while True:  # SIGKILL cannot be caught; this is not reached
                _original_sleep(1)

        # The stream stays held from `dying` to the kill: no sibling actor reports after it.
        self.channel.last_words({"msg": "dying", "worker": self.worker, "actor": actor,
                                 "seq": seq, "point": point}, kill)

    def maybe_die(self, point):
        op = self.current_op()
        if op is not None and point in op.kill_points:
            self.die(point)


GATE = Gate()


def describe_sql(value, exc):
    if exc is None:
        return {"kind": "ok"}
    if errors.is_busy(exc):
        return {"kind": "busy", "code": errors.code_of(exc)[0]}
    return {"kind": "error", "code": errors.code_of(exc)[0]}


# --- classifying SQL text -----------------------------------------------------------

_COMMENT = re.compile(r"^\s*(?:--[^\n]*\n|/\*.*?\*/|\s)*", re.S)
_BUSY_TIMEOUT = re.compile(r"^\s*PRAGMA\s+(?:main\.)?busy_timeout\s*(=|\()", re.I)
_DML = {"INSERT", "UPDATE", "DELETE", "REPLACE"}
# Statements that write: inside a deferred transaction the first one takes the write lock.
_WRITES = _DML | {"CREATE", "DROP", "ALTER"}
# DDL that may write nothing (the object exists, or does not): it may take no lock at all,
# so it is a plain statement (the coordinator never calls its OK a breach).
_MAYBE_NO_WRITE = re.compile(r"^\s*(?:CREATE|DROP)\b[^(;]*?\bIF\s+(?:NOT\s+)?EXISTS\b", re.I)


def _word(w):
    return w.upper().rstrip(";")


@functools.lru_cache(maxsize=1024)
def classify(sql):
    """(kind, label) of one statement, as SQLite takes its locks: begin (IMMEDIATE or
    EXCLUSIVE: holds the write lock), begin_deferred (plain BEGIN: holds nothing until its
    first write), commit, rollback, checkpoint, write (a statement that writes), statement;
    and savepoint / release (label: the savepoint's name), which the connection resolves
    (``GatedConnectionMixin._walburst_kind``): an outermost SAVEPOINT opens a deferred
    transaction, and the RELEASE that ends it commits."""
    text = _COMMENT.sub("", sql, count=1)
    words = text.split(None, 4)
    head = _word(words[0]) if words else ""
    if head == "BEGIN":
        mode = _word(words[1]) if len(words) > 1 else ""
        return ("begin" if mode in ("IMMEDIATE", "EXCLUSIVE") else "begin_deferred"), None
    if head in ("COMMIT", "END"):
        return "commit", None
    if head == "ROLLBACK" and "TO" not in (w.upper() for w in words[1:3]):
        # (ROLLBACK TO a savepoint does not end the transaction: a plain statement.)
        return "rollback", None
    if head == "SAVEPOINT" and len(words) > 1:
        return "savepoint", _word(words[1]).strip('"`[]')
    if head == "RELEASE" and len(words) > 1:
        name = words[2] if _word(words[1]) == "SAVEPOINT" and len(words) > 2 else words[1]
        return "release", _word(name).strip('"`[]')
    if head == "PRAGMA" and "wal_checkpoint" in text.lower():
        return "checkpoint", None
    label = " ".join(words[:3]) if head in ("INSERT", "DELETE", "REPLACE") else " ".join(words[:2])
    writes = head in _WRITES and not _MAYBE_NO_WRITE.match(text)
    return ("write" if writes else "statement"), label[:60]


def split_script(script):
    """The statements of ``script``, each complete (``sqlite3.complete_statement``), in
    order; a trailing incomplete piece is kept as the last one (SQLite reports it)."""
    out, acc = [], ""
    for piece in script.split(";"):
        acc += piece + ";"
        if sqlite3.complete_statement(acc):
            if acc.strip(" \t\r\n;"):
                out.append(acc.strip())
            acc = ""
    rest = acc[:-1].strip()
    if rest:
        out.append(rest)
    return out


def script_kind(script, in_transaction):
    """(kind, commits) of an ``executescript`` run as one step: walks the script's own
    transaction control from ``in_transaction`` and says what the coordinator must know.
    ``begin`` when it ends inside a transaction that wrote (it holds the write lock),
    ``begin_deferred`` inside one that did not, ``write`` when it wrote and ended every
    transaction (the lock taken and released within the step), else ``statement``;
    ``commits``: something it wrote was committed inside it."""
    in_tx, wrote_in_tx, opened_by_sp = in_transaction, False, False
    wrote = commits = False
    savepoints = []
    for stmt in split_script(script):
        kind, name = classify(stmt)
        if kind in ("begin", "begin_deferred") and not in_tx:
            in_tx, wrote_in_tx, opened_by_sp = True, kind == "begin", False
        elif kind == "savepoint":
            if not in_tx:
                in_tx, wrote_in_tx, opened_by_sp = True, False, True
            savepoints.append(name)
        elif kind == "release" and name in savepoints:
            del savepoints[len(savepoints) - 1 - savepoints[::-1].index(name):]
            if opened_by_sp and not savepoints:
                commits = commits or wrote_in_tx
                in_tx = wrote_in_tx = False
        elif kind == "commit" and in_tx:
            commits = commits or wrote_in_tx
            in_tx = wrote_in_tx = False
            savepoints = []
        elif kind == "rollback":
            in_tx = wrote_in_tx = False
            savepoints = []
        elif kind == "write":
            wrote = True
            if in_tx:
                wrote_in_tx = True
            else:
                commits = True
    if in_tx:
        return ("begin" if wrote_in_tx else "begin_deferred"), commits
    return ("write" if wrote or commits else "statement"), commits


@functools.lru_cache(maxsize=1024)
def _is_dml(sql):
    words = _COMMENT.sub("", sql, count=1).split(None, 1)
    return bool(words) and words[0].upper() in _DML


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


def _kill_during_checkpoint(gate, actor, seq):
    """Lands the seeded kill while the checkpoint runs: a timer a seeded few microseconds
    in (free mode's best effort; the op's record dies with it either way)."""
    import random
    delay = random.Random("kill-timer-%d-%d-%d" % (gate.seed, gate.worker, seq)).randrange(2000)

    def fire():
        _original_sleep(delay / 1e6)
        gate.die("checkpoint", actor, seq)

    threading.Thread(target=fire, daemon=True).start()


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


def lock_name(fd, db_name):
    """The protocol's name for the lock file open on ``fd`` (PROTOCOL.md, ``flock``):
    ``"init"`` for ``<db>.init.lock``, ``"write"`` for ``<db>.lock``, any other file by its
    file name, never its path (a trace must not depend on the run directory). ``None``
    (an unknown lock, never grouped with another) when the descriptor is not a named file,
    or when its name is itself ``init``/``write`` and would be mistaken for a sidecar."""
    try:
        n = fd if isinstance(fd, int) else fd.fileno()
        target = os.readlink("/proc/self/fd/%d" % n)
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    if not target.startswith("/") or target.endswith(" (deleted)"):
        return None  # a pipe, socket or anonymous inode, or a file no longer linked
    name = os.path.basename(target)
    if db_name and name.startswith(db_name):
        role = {".init.lock": "init", ".lock": "write"}.get(name[len(db_name):])
        if role:
            return role
    if name in ("", ".", "..", "init", "write"):
        return None
    return name


def gated_flock(fd, operation):
    """``fcntl.flock``: in lockstep one non-blocking attempt per step; the wait for an
    exclusive or shared lock is charged to the op's ``lock_wait_us``."""
    if operation & fcntl.LOCK_UN:
        return _original_flock(fd, operation)
    op = GATE.current_op()
    t0 = monotonic_ns()
    try:
        if not GATE.gated_here():
            return _original_flock(fd, operation)
        nonblocking = bool(operation & fcntl.LOCK_NB)
        attempt = operation | fcntl.LOCK_NB
        # Naming the lock lets the coordinator skip attempts it knows must fail.
        action = {"kind": "flock"}
        name = lock_name(fd, GATE.db_name)
        if name is not None:
            action["lock"] = name

        def describe(value, exc):
            if exc is None:
                return {"kind": "ok"}
            if isinstance(exc, BlockingIOError):
                return {"kind": "would_block"}
            return {"kind": "error", "code": "WALBURST_FLOCK_" + type(exc).__name__}

        while True:
            try:
                return GATE.step(action, lambda: _original_flock(fd, attempt),
                                 describe)
            except BlockingIOError:
                if nonblocking:
                    raise
    finally:
        if op is not None:
            op.lock_wait_us += (monotonic_ns() - t0) // 1000


def gated_sleep(seconds):
    """In lockstep an actor's sleep is not time: only steps order what happens."""
    if GATE.lockstep and getattr(_tls, "actor", None) is not None:
        return None
    return _original_sleep(seconds)


def as_step(kind, fn, describe=None):
    """Wraps an app function (a guard probe, a custom lock) so each call is one step."""

    def stepped(*args, **kwargs):
        return GATE.step({"kind": kind}, lambda: fn(*args, **kwargs), describe)

    stepped.__wrapped__ = fn
    return stepped


def install():
    """Puts the gated factory, flock and sleep in place; idempotent."""
    sqlite3.connect = gated_connect
    sqlite3.dbapi2.connect = gated_connect
    fcntl.flock = gated_flock
    time.sleep = gated_sleep
