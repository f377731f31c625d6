"""The app's own file locks: an exclusive ``flock`` on a sidecar file, blocking or polled
(the global write lock ``<db>.lock`` and the first-connect lock ``<db>.init.lock``).
"""

import fcntl
import os
import time


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
