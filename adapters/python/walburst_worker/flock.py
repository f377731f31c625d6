"""``fcntl.flock`` through the gate: in lockstep one non-blocking attempt per step, the
lock named by its role or file name so the coordinator can skip attempts that must fail.
"""

import fcntl
import os

from .protocol import monotonic_ns
from .steps import GATE, _original_flock


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
