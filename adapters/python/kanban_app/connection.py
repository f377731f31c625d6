"""Opening and closing connections as the field app does: ``busy_timeout`` first, then
``journal_mode`` (WAL, or the app's own rule), then the other pragmas; autocommit with
explicit transactions; an optional first-connect lock and connection-scoped write lock.
"""

import random
import sqlite3
import time

from .locks import FileLock, LockTimeout, _write_lock
from .schema import SCHEMA
from .txn import _is_busy_error

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
