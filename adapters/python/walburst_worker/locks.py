"""An app's own ``threading`` locks as lockstep steps, and a note when an actor thread is
stuck outside any step.

In lockstep exactly one actor runs at a time, and the runner grants the next step only
when every actor has asked for one. An app that holds a lock of its own across SQL (a
module-level ``threading.Lock`` held while it opens a connection, say) parks the holder
before a step *while holding it*; another actor of the process that waits for that lock
then blocks inside ``acquire()``, outside any step, and lockstep waits for it forever
(until its step deadline). :func:`track_locks` wraps such locks in a :class:`TrackedLock`:
on an actor thread in lockstep every ``acquire()`` is a loop of ``app_lock`` steps, each
one non-blocking attempt (PROTOCOL.md, ``app_lock``), so the waiter parks like everyone
else and tries again after the holder has run. The holder lets the lock go only while it
runs, between two of its steps, when every other actor is parked: the lock's state at each
choice is a function of the schedule, and so is the run.

Without tracking, :class:`StuckWatch` prints where an actor thread is when it has not
asked for a step for a while, so the runner's "did not park" failure comes with the line
it waits on in the worker's stderr.
"""

import sys
import threading
import time
import traceback

from .gate import GATE, _original_sleep
from .protocol import monotonic_ns

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _describe(value, exc):
    if exc is not None:
        return {"kind": "error", "code": "WALBURST_APP_LOCK_" + type(exc).__name__}
    return {"kind": "ok"} if value else {"kind": "would_block"}


class TrackedLock:
    """A ``threading.Lock`` or ``RLock`` whose acquisitions on an actor thread in lockstep
    are ``app_lock`` steps named ``name``; elsewhere (free mode, the main thread, inside a
    step) it is the lock itself. In lockstep a ``timeout`` is not time (only steps order
    events): a blocking acquire with a timeout waits as a blocking one, and a deadlock among
    the app's own locks runs into the step budget. An RLock's owner re-enters without a step
    (nothing else can happen there)."""

    def __init__(self, lock, name):
        if isinstance(lock, TrackedLock):
            lock = lock._lock
        self._lock = lock
        self.name = name
        # (Not named `_is_owned`: a Condition built on a plain Lock must not find one.)
        self._owned = getattr(lock, "_is_owned", None)
        # The actor holding it (taken in a lockstep step), and how many times it took it.
        self._holder = None
        self._depth = 0

    def acquire(self, blocking=True, timeout=-1):
        if not GATE.gated_here():
            op = GATE.current_op()
            t0 = monotonic_ns()
            try:
                return self._lock.acquire(blocking, timeout)
            finally:
                if op is not None:
                    op.lock_wait_us += (monotonic_ns() - t0) // 1000
        st = GATE.current_actor()
        if self._owned is not None and self._owned():
            self._lock.acquire()
            self._took(st)
            return True
        action = {"kind": "app_lock", "lock": self.name}
        while True:
            # One attempt per step, even a non-blocking acquire: before the first grant the
            # actor threads run at once, and who gets the lock must not be up to them.
            if GATE.step(action, lambda: self._lock.acquire(False), _describe):
                self._took(st)
                return True
            if not blocking:
                return False

    def _took(self, st):
        """The actor ``st`` holds it once more: its next ``want`` says so (``holding``)."""
        self._holder = st
        self._depth += 1
        st.holding[self.name] = st.holding.get(self.name, 0) + 1

    def _let_go(self, st):
        """Undoes one of ``st``'s takes (the bookkeeping of :meth:`_took`)."""
        self._depth -= 1
        if self._depth == 0:
            self._holder = None
        left = st.holding.get(self.name, 0) - 1
        if left > 0:
            st.holding[self.name] = left
        else:
            st.holding.pop(self.name, None)

    def release(self):
        st = self._holder
        if st is None:
            return self._lock.release()
        # Before the lock is free (nobody else may take it first and be undone here).
        self._let_go(st)
        try:
            self._lock.release()
        except BaseException:
            self._took(st)  # not released (not the owner): still held as before
            raise

    def locked(self):
        return self._lock.locked()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, exc_type, exc_value, traceback):
        self.release()
        return False

    def __getattr__(self, name):
        # Anything else (``_release_save`` for a Condition, ...) is the lock's own.
        if name == "_lock":
            raise AttributeError(name)  # (a copy being made has none yet)
        return getattr(self._lock, name)

    def __repr__(self):
        return "<walburst TrackedLock %s of %r>" % (self.name, self._lock)


def track_locks(holder, *names):
    """Replaces lock attributes of ``holder`` (a module, a class or any object) in place by
    :class:`TrackedLock` wrappers named ``<holder name>.<attribute>``, and returns them:
    the attributes ``names``, or every ``threading.Lock``/``RLock`` attribute when none are
    given. Call it after importing the app module and before its actors run; code that
    copied the lock elsewhere (``from app import LOCK``) keeps the bare lock, so track it
    there too. Idempotent."""
    owner = getattr(holder, "__name__", None) or type(holder).__name__
    if not names:
        names = sorted(n for n, v in vars(holder).items()
                       if isinstance(v, _LOCK_TYPES + (TrackedLock,)))
    out = []
    for n in names:
        lock = getattr(holder, n)
        if isinstance(lock, TrackedLock):
            out.append(lock)
            continue
        if not isinstance(lock, _LOCK_TYPES):
            raise TypeError("walburst_worker.track_locks: %s.%s is a %s, not a threading.Lock "
                            "or RLock" % (owner, n, type(lock).__name__))
        tracked = TrackedLock(lock, "%s.%s" % (owner, n))
        setattr(holder, n, tracked)
        out.append(tracked)
    return out


# Module names (and their submodules) whose new locks `track_new_locks` tracks.
_new_lock_modules = []
_real_lock = threading.Lock
_real_rlock = threading.RLock


def _tracked_module(name):
    return any(name == m or name.startswith(m + ".") for m in _new_lock_modules)


def _factory(real):
    def make(*args, **kwargs):
        lock = real(*args, **kwargs)
        # The caller's frame: the code that asked for a lock (never this module's).
        frame = sys._getframe(1)
        module = frame.f_globals.get("__name__") or ""
        if _tracked_module(module):
            return TrackedLock(lock, "%s:%d" % (module, frame.f_lineno))
        return lock

    make.__wrapped__ = real
    return make


def track_new_locks(*modules):
    """From now on, ``threading.Lock()`` and ``threading.RLock()`` called by code of the
    modules named (``"myapp"`` covers ``myapp.db`` too) return a :class:`TrackedLock` named
    after the line that created it (``"myapp.db:42"``): call it before importing the app,
    for locks :func:`track_locks` cannot reach (class attributes, locks made per object or
    at run time). Locks created by any other code (the standard library's, this adapter's)
    stay bare. Locks created on one line share its name: the coordinator then takes a
    turned-away attempt on one for the others too, which only delays their waiters."""
    for m in modules:
        if m not in _new_lock_modules:
            _new_lock_modules.append(m)
    threading.Lock = _factory(_real_lock)
    threading.RLock = _factory(_real_rlock)


# An actor thread that has not asked for a step this long is reported once (stderr only:
# a note for the person reading the failure, never part of the run's outcome).
STUCK_AFTER_S = 1.0


def where(ident, frames=4):
    """The innermost ``frames`` frames of thread ``ident``, formatted, or ``None``."""
    frame = sys._current_frames().get(ident)
    if frame is None:
        return None
    return "".join(traceback.format_stack(frame)[-frames:])


def stuck_note(st):
    """What :class:`StuckWatch` prints for actor ``st``: where its thread is, and what to do
    when that is a wait for a lock of its own process."""
    at = where(st.ident) or "  (its thread is gone)\n"
    return ("walburst-python: lockstep: actor %d has not asked for its next step for %.1f s "
            "(lockstep waits for it); its thread is at:\n%s"
            "walburst-python: if it waits for a lock that another actor of this process holds "
            "across a step, make that lock a step: walburst_worker.track_locks(module, "
            "\"NAME\") (adapters/python/README.md)\n"
            % (st.index, time.monotonic() - st.since, at))


class StuckWatch:
    """A daemon thread that reports, once per stretch, an actor thread that has run outside
    any step for :data:`STUCK_AFTER_S` (it cannot tell a slow app from one blocked on a lock
    of its own, so it only says where the thread is)."""

    def __init__(self, gate, out=None):
        self.gate = gate
        self.out = out or sys.stderr
        threading.Thread(target=self._loop, daemon=True, name="walburst-stuck-watch").start()

    def _loop(self):
        while True:
            _original_sleep(STUCK_AFTER_S / 4)
            now = time.monotonic()
            for st in list(self.gate.actors.values()):
                if st.outside_since(now) >= STUCK_AFTER_S and st.reported != st.since:
                    st.reported = st.since
                    self.out.write(stuck_note(st))
                    self.out.flush()
