"""Classifying SQL text as SQLite takes its locks: what a statement or script does to
the write lock decides the step's kind the coordinator sees (PROTOCOL.md, ``want``).
"""

import functools
import re
import sqlite3

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
