"""Naming SQLite failures by their result code, as the protocol's records and steps do."""

import sqlite3

SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_BUSY_SNAPSHOT = SQLITE_BUSY | (2 << 8)

# Before Python 3.11 the sqlite3 module exposes only the message; these are SQLite's own
# sqlite3_errstr() texts for the primary codes, so the primary name can still be sent.
_BY_MESSAGE = [
    ("database is locked", "SQLITE_BUSY", SQLITE_BUSY),
    ("database table is locked", "SQLITE_LOCKED", SQLITE_LOCKED),
    ("database schema is locked", "SQLITE_LOCKED", SQLITE_LOCKED),
    ("disk i/o error", "SQLITE_IOERR", 10),
    ("database disk image is malformed", "SQLITE_CORRUPT", 11),
    ("file is not a database", "SQLITE_NOTADB", 26),
    ("unable to open database file", "SQLITE_CANTOPEN", 14),
    ("attempt to write a readonly database", "SQLITE_READONLY", 8),
    ("database or disk is full", "SQLITE_FULL", 13),
    ("locking protocol", "SQLITE_PROTOCOL", 15),
    ("constraint failed", "SQLITE_CONSTRAINT", 19),
]


def code_of(exc):
    """(name, extended code or None) of a sqlite3 exception; walburst's own names else."""
    name = getattr(exc, "sqlite_errorname", None)
    code = getattr(exc, "sqlite_errorcode", None)
    if name:
        return name, code
    if isinstance(exc, sqlite3.Error):
        text = str(exc).lower()
        for needle, primary, number in _BY_MESSAGE:
            if needle in text:
                return primary, number
        if isinstance(exc, sqlite3.IntegrityError):
            return "SQLITE_CONSTRAINT", 19
        return "SQLITE_ERROR", None
    # Not SQLite's: the app's own exception, named as the protocol asks (APP_ prefix).
    return "APP_" + type(exc).__name__, None


def error_of(exc):
    """The protocol's ``error`` object for an exception."""
    name, _ = code_of(exc)
    return {"code": name, "message": str(exc) or type(exc).__name__}


def is_busy(exc):
    """SQLITE_BUSY* or SQLITE_LOCKED*: another connection holds a lock we need."""
    name, code = code_of(exc)
    if code is not None:
        return (code & 0xFF) in (SQLITE_BUSY, SQLITE_LOCKED)
    return name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED")


def is_retried_by_busy_handler(exc):
    """Whether SQLite's busy handler would have waited and tried again: every BUSY except
    BUSY_SNAPSHOT (a stale read snapshot that can never become writable)."""
    if not is_busy(exc):
        return False
    name, code = code_of(exc)
    return code != SQLITE_BUSY_SNAPSHOT and name != "SQLITE_BUSY_SNAPSHOT"
