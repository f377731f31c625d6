"""The file-length guards, one of the four the field app has shipped: the old bare-close
header probe, the same probe through a kept descriptor, the page-count check, and the
WAL-aware page-count check. :func:`check_file_length` is called through this module
(``guards.check_file_length``), so a wrapper put here reaches every transaction.
"""

import os
import sqlite3
import threading


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
