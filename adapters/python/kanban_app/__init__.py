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

The app is split by job, read in this order: ``schema`` (the tables), ``config`` (the
settings the field app hard-codes), ``locks`` (its sidecar file locks), ``connection``
(opening and closing), ``txn`` (the write transaction, its retry and the checkpoint),
``guards`` (the file-length guards), ``tasks`` (the board's writes), ``lists`` (the
list-append transactions) and ``readers``. Every name is importable from ``kanban_app``
itself; the guard is called through its module, so wrap ``kanban_app.guards.check_file_length``
(as kanban_worker.py does) for a wrapper to reach the transactions.
"""

from .config import Config
from .connection import WAL_SAFE_FROM, close, connect, own_journal_mode
from .guards import TornExtendError, check_file_length
from .lists import list_rewrite_txn, list_txn
from .locks import FileLock, LockTimeout
from .readers import read_board, read_snapshot
from .schema import SCHEMA
from .tasks import (GC_AGE_MS, add_comment, claim_task, claim_task_read_then_write,
                    complete_task, create_task, gc_events, heartbeat, task_id, worker_name)
from .txn import NothingToDo, checkpoint, write_txn

__all__ = ["Config", "FileLock", "GC_AGE_MS", "LockTimeout", "NothingToDo", "SCHEMA",
           "TornExtendError", "WAL_SAFE_FROM", "add_comment", "check_file_length",
           "checkpoint", "claim_task", "claim_task_read_then_write", "close",
           "complete_task", "connect", "create_task", "gc_events", "heartbeat", "list_txn",
           "list_rewrite_txn", "own_journal_mode", "read_board", "read_snapshot", "task_id",
           "worker_name", "write_txn"]
