"""A small kanban board on SQLite, written the way the field app writes its DB layer.

This is the app side of the example: it knows nothing of walburst. Connections are opened
as the field app opens them (``busy_timeout`` first, then ``journal_mode=WAL``, then the
other pragmas; autocommit with explicit ``BEGIN IMMEDIATE``), every write runs inside
:func:`write_txn` (BEGIN IMMEDIATE / COMMIT with the field's jittered retry on "database is
locked"), and the post-commit (or in-transaction) file-length guard is one of the four the
field app has shipped: the old bare-close header probe, the same probe through a kept
descriptor, the page-count check, and the WAL-aware page-count check.

The schema and SQL are walburst's kanban profile (harness/workload/kanban.rs) statement for
statement, so walburst's built-in ledger and content hash apply to the database this app
leaves behind. Every row carries the (worker, seq) of the op that wrote it.
"""

import contextlib
import fcntl
import os
import random
import sqlite3
import threading
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id             TEXT PRIMARY KEY,
    board          TEXT NOT NULL DEFAULT 'default',
    title          TEXT NOT NULL,
    body           TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'ready',
    priority       INTEGER NOT NULL DEFAULT 0,
    assignee       TEXT,
    claim_lock     TEXT,
    claimed_by     TEXT,
    result         TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    heartbeat_at   INTEGER,
    completed_at   INTEGER,
    created_worker INTEGER NOT NULL,
    created_seq    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_tasks_status_priority ON tasks(status, priority DESC, created_at);
CREATE INDEX IF NOT EXISTS idx_tasks_board_status ON tasks(board, status);
CREATE INDEX IF NOT EXISTS idx_tasks_assignee ON tasks(assignee);
CREATE INDEX IF NOT EXISTS idx_tasks_claim_lock ON tasks(claim_lock);
CREATE INDEX IF NOT EXISTS idx_tasks_claimed_by ON tasks(claimed_by, status);
CREATE INDEX IF NOT EXISTS idx_tasks_updated_at ON tasks(updated_at);
CREATE INDEX IF NOT EXISTS idx_tasks_origin ON tasks(created_worker, created_seq);
CREATE TABLE IF NOT EXISTS task_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id    TEXT,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    worker     INTEGER NOT NULL,
    seq        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_events_task ON task_events(task_id, id);
CREATE INDEX IF NOT EXISTS idx_events_kind_created ON task_events(kind, created_at);
CREATE TABLE IF NOT EXISTS task_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id      TEXT NOT NULL,
    claimed_by   TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER,
    ended_at     INTEGER,
    outcome      TEXT,
    worker       INTEGER NOT NULL,
    seq          INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_runs_task ON task_runs(task_id);
CREATE INDEX IF NOT EXISTS idx_runs_open ON task_runs(claimed_by, ended_at);
CREATE TABLE IF NOT EXISTS task_comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id    TEXT NOT NULL,
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    worker     INTEGER NOT NULL,
    seq        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_comments_task ON task_comments(task_id);
"""

# A gc deletes heartbeat events older than this many logical milliseconds.
GC_AGE_MS = 20 * 1000


class Config:
    """How this app instance connects and guards (the settings the field app hard-codes)."""

    def __init__(self, db_path, *, busy_timeout_ms=120000, journal_mode="wal",
                 synchronous="full", wal_autocheckpoint=1000, journal_size_limit=8388608,
                 secure_delete=True, cell_size_check=True, checkpoint_on_close=True,
                 page_size=None, guard="wal-aware", guard_at="after-commit",
                 write_lock="none", write_lock_wait="blocking", write_lock_poll_ms=50,
                 write_lock_timeout_ms=120000, write_lock_scope="transaction",
                 lock_checkpoints=False, init_lock="none", init_lock_poll_ms=50,
                 init_lock_timeout_ms=10000, retries=0, retry_jitter_ms=(20, 150),
                 create_schema=False):
        self.db_path = db_path
        self.busy_timeout_ms = busy_timeout_ms
        self.journal_mode = journal_mode
        self.synchronous = synchronous
        self.wal_autocheckpoint = wal_autocheckpoint
        self.journal_size_limit = journal_size_limit
        self.secure_delete = secure_delete
        self.cell_size_check = cell_size_check
        self.checkpoint_on_close = checkpoint_on_close
        self.page_size = page_size
        self.guard = guard
        self.guard_at = guard_at
        self.write_lock = write_lock
        self.write_lock_wait = write_lock_wait
        self.write_lock_poll_ms = write_lock_poll_ms
        self.write_lock_timeout_ms = write_lock_timeout_ms
        self.write_lock_scope = write_lock_scope
        self.lock_checkpoints = lock_checkpoints
        self.init_lock = init_lock
        self.init_lock_poll_ms = init_lock_poll_ms
        self.init_lock_timeout_ms = init_lock_timeout_ms
        self.retries = retries
        self.retry_jitter_ms = tuple(retry_jitter_ms)
        self.create_schema = create_schema


# --- locks -------------------------------------------------------------------------

class FileLock:
    """An exclusive flock on a sidecar file; a descriptor per acquisition, so that two
    threads of one process contend like two processes."""

    def __init__(self, path, wait, poll_ms, timeout_ms):
        self.path, self.wait = path, wait
        self.poll_ms, self.timeout_ms = poll_ms, timeout_ms
        self.fd = None

    def acquire(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if self.wait == "blocking":
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.fd = fd
            return True
        for _ in range(max(1, self.timeout_ms // max(1, self.poll_ms))):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.fd = fd
                return True
            except BlockingIOError:
                time.sleep(self.poll_ms / 1000)
        os.close(fd)
        return False

    def release(self):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class LockTimeout(Exception):
    """The global write lock was not acquired in time."""


def _write_lock(cfg):
    return FileLock(cfg.db_path + ".lock", cfg.write_lock_wait, cfg.write_lock_poll_ms,
                    cfg.write_lock_timeout_ms)


# --- connecting --------------------------------------------------------------------

# The field app's own journal-mode rule: WAL only on a SQLite with the WAL-reset fix
# (3.51.3), the rollback journal (DELETE) below it.
WAL_SAFE_FROM = (3, 51, 3)


def own_journal_mode():
    """The journal mode this app picks for the SQLite it loaded."""
    return "wal" if sqlite3.sqlite_version_info >= WAL_SAFE_FROM else "delete"


def connect(cfg, *, writer=True):
    """Opens a connection the way the field app does. A connection-scoped write lock, if
    the strategy has one, is held until :func:`close`."""
    conn_lock = None
    if writer and cfg.write_lock == "flock" and cfg.write_lock_scope == "connection":
        conn_lock = _write_lock(cfg)
        if not conn_lock.acquire():
            raise LockTimeout("global write lock not acquired in time")
    init = None
    if cfg.init_lock != "none":
        init = FileLock(cfg.db_path + ".init.lock",
                        "blocking" if cfg.init_lock == "blocking" else "poll",
                        cfg.init_lock_poll_ms, cfg.init_lock_timeout_ms)
        if not init.acquire():
            init = None  # the field app proceeds without the lock after its timeout
    try:
        conn = sqlite3.connect(cfg.db_path, timeout=cfg.busy_timeout_ms / 1000,
                               isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=%d" % cfg.busy_timeout_ms)
            if cfg.page_size:
                conn.execute("PRAGMA page_size=%d" % cfg.page_size)
            # "app": the app's own rule decides (walburst's `journal_mode = "app"`).
            wanted = own_journal_mode() if cfg.journal_mode == "app" else cfg.journal_mode
            mode = conn.execute("PRAGMA journal_mode=%s" % wanted).fetchone()[0]
            if wanted == "wal" and str(mode).lower() != "wal":
                raise sqlite3.OperationalError(
                    "journal_mode=wal was refused; the database stayed in %s" % mode)
            if not cfg.checkpoint_on_close:
                if not hasattr(conn, "setconfig"):
                    raise sqlite3.NotSupportedError(
                        "checkpoint_on_close=false needs Connection.setconfig (Python 3.12+)")
                conn.setconfig(sqlite3.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, True)
            conn.execute("PRAGMA synchronous=%s" % cfg.synchronous.upper())
            conn.execute("PRAGMA wal_autocheckpoint=%d" % cfg.wal_autocheckpoint)
            conn.execute("PRAGMA journal_size_limit=%d" % cfg.journal_size_limit)
            conn.execute("PRAGMA secure_delete=%s" % ("ON" if cfg.secure_delete else "OFF"))
            conn.execute("PRAGMA cell_size_check=%s" % ("ON" if cfg.cell_size_check else "OFF"))
            if cfg.create_schema:
                _create_schema(conn)
        except BaseException:
            conn.close()
            raise
    except BaseException:
        if conn_lock is not None:
            conn_lock.release()
        raise
    finally:
        if init is not None:
            init.release()
    if conn_lock is not None:
        _conn_locks[id(conn)] = conn_lock
    return conn


# Connection-scoped write locks by connection (sqlite3.Connection takes no attributes).
_conn_locks = {}


def _create_schema(conn):
    for attempt in range(1000):
        try:
            conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
            return
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if not _is_busy_error(exc):
                raise
            time.sleep(random.uniform(0.02, 0.15))


def close(conn):
    """Closes a connection, then releases its connection-scoped write lock."""
    lock = _conn_locks.pop(id(conn), None)
    conn.close()
    if lock is not None:
        lock.release()


# --- transactions ------------------------------------------------------------------

def _is_busy_error(exc):
    # As the field app classifies it: by the message text.
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and (
        "database is locked" in text or "database is busy" in text)


def _boundary(conn, sql, cfg):
    for attempt in range(cfg.retries + 1):
        try:
            conn.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if not _is_busy_error(exc) or attempt == cfg.retries:
                raise
            lo, hi = cfg.retry_jitter_ms
            time.sleep(random.uniform(lo, hi) / 1000)


@contextlib.contextmanager
def write_txn(conn, cfg):
    """An IMMEDIATE write transaction with the configured global lock and guard."""
    lock = None
    if cfg.write_lock == "flock" and cfg.write_lock_scope == "transaction":
        lock = _write_lock(cfg)
        if not lock.acquire():
            raise LockTimeout("global write lock not acquired in time")
    try:
        _boundary(conn, "BEGIN IMMEDIATE", cfg)
        try:
            yield conn
            if cfg.guard_at == "in-transaction":
                check_file_length(conn, cfg)
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass  # SQLite already rolled back; do not shadow the real error
            raise
        try:
            _boundary(conn, "COMMIT", cfg)
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.OperationalError:
                    pass
            raise
    finally:
        if lock is not None:
            lock.release()
    if cfg.guard_at == "after-commit":
        check_file_length(conn, cfg)


class NothingToDo(Exception):
    """Raised inside a transaction that found nothing to write: it rolls back."""


# --- the guards --------------------------------------------------------------------

class TornExtendError(sqlite3.DatabaseError):
    """The guard's report, with its numbers."""

    def __init__(self, guard, at, claimed, file_pages, page_size, file_size, journal_mode,
                 path):
        self.guard, self.at = guard, at
        self.claimed_pages, self.file_pages = claimed, file_pages
        self.page_size, self.file_size = page_size, file_size
        self.journal_mode = journal_mode
        super().__init__(
            "torn-extend detected: page count mismatch on %s: header claims %d pages, "
            "file has %d pages" % (path, claimed, file_pages))


_kept_fd = {}
_kept_fd_lock = threading.Lock()


def _header_pages_bare(path):
    # The old field check, bare open/close included: closing this descriptor drops
    # every POSIX lock this process holds on the database file. That hazard is what is
    # under test; do not "fix" it.
    with open(path, "rb") as f:
        f.seek(28)
        raw = f.read(4)
    return int.from_bytes(raw, "big") if len(raw) == 4 else None


def _header_pages_fd(path):
    with _kept_fd_lock:
        fd = _kept_fd.get(path)
        if fd is None:
            fd = _kept_fd[path] = os.open(path, os.O_RDONLY)
    raw = os.pread(fd, 4, 28)
    return int.from_bytes(raw, "big") if len(raw) == 4 else None


def check_file_length(conn, cfg):
    """Raises TornExtendError when the main file is shorter than the page count says."""
    guard = cfg.guard
    if guard == "none":
        return
    if guard == "wal-aware":
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        if mode == "wal":
            # Committed pages legitimately live in -wal until a checkpoint.
            return
    if guard in ("page-count", "wal-aware"):
        claimed = conn.execute("PRAGMA page_count").fetchone()[0]
    elif guard == "header-probe":
        claimed = _header_pages_bare(cfg.db_path)
    elif guard == "header-probe-fd":
        claimed = _header_pages_fd(cfg.db_path)
    else:
        raise ValueError("unknown guard %r" % guard)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    if not claimed or not page_size:
        return  # an empty file has no header yet
    size = os.stat(cfg.db_path).st_size  # by path: no descriptor, no lock dropped
    file_pages = size // page_size
    if file_pages >= claimed:
        return
    mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    raise TornExtendError(guard, cfg.guard_at, claimed, file_pages, page_size, size, mode,
                          cfg.db_path)


# --- the board's writes ------------------------------------------------------------

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
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass
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
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass
        raise
    done = [{"f": "read", "key": k, "values": v} for k, v in read]
    return eid, done + [dict(m) for m in appends]


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
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass
        raise
    return out


def checkpoint(conn, cfg, mode="PASSIVE"):
    """The dispatcher's checkpoint; returns (busy, log frames, checkpointed frames)."""
    lock = None
    if cfg.write_lock == "flock" and cfg.write_lock_scope == "transaction" \
            and cfg.lock_checkpoints:
        lock = _write_lock(cfg)
        if not lock.acquire():
            raise LockTimeout("global write lock not acquired in time")
    try:
        return tuple(conn.execute("PRAGMA wal_checkpoint(%s)" % mode).fetchone())
    finally:
        if lock is not None:
            lock.release()
