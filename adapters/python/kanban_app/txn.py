"""How the app writes: every write inside :func:`write_txn` (BEGIN IMMEDIATE / COMMIT with
the field's jittered retry on "database is locked", the configured global lock, and the
guard after COMMIT or inside the transaction), and the dispatcher's checkpoint under the
same lock.
"""

import contextlib
import random
import sqlite3
import time

from . import guards
from .locks import LockTimeout, _write_lock


def _is_busy_error(exc):
    # As the field app classifies it: by the message text.
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and (
        "database is locked" in text or "database is busy" in text)


def rollback_quietly(conn):
    """After a failure inside a transaction: rolls back what is still open, never shadowing
    the error on its way out (SQLite may have rolled back already)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError:
            pass


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
                guards.check_file_length(conn, cfg)
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass  # SQLite already rolled back; do not shadow the real error
            raise
        try:
            _boundary(conn, "COMMIT", cfg)
        except BaseException:
            rollback_quietly(conn)
            raise
    finally:
        if lock is not None:
            lock.release()
    if cfg.guard_at == "after-commit":
        guards.check_file_length(conn, cfg)


class NothingToDo(Exception):
    """Raised inside a transaction that found nothing to write: it rolls back."""


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
