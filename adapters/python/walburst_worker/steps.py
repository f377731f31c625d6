"""The lockstep gate: the process's one :data:`GATE`, what it saw of each op, and the
step handshake with the coordinator.

In free mode the gate only watches. In lockstep (``"mode":"lockstep"``) every action of an
actor thread is one step: ``want`` -> wait for ``grant`` -> run -> ``did``
(:meth:`Gate.step`). The gate also announces and lands the seeded kills (``dying``, then
SIGKILL), and keeps the functions :mod:`.gate`'s ``install`` replaces, taken before it does.
"""

import fcntl
import os
import signal
import sqlite3
import threading
import time

from . import errors

_tls = threading.local()

_original_connect = sqlite3.connect
_original_flock = fcntl.flock
_original_sleep = time.sleep


class OpContext:
    """What the gate saw while one op ran on one actor thread."""

    def __init__(self, op, kill_points):
        self.op = op
        self.kill_points = kill_points
        self.busy = []
        self.t_begin_issued_ns = None
        self.t_begin_ok_ns = None
        self.t_commit_issued_ns = None
        self.commit_ok = False
        self.commit_error = None
        self.ambiguous = False
        self.rolled_back = False
        self.closed = False
        self.guard = None
        self.guard_error = None
        self.checkpoint = None
        self.lock_wait_us = 0
        self._last_busy = None

    def note_busy(self, kind, key, exc, retried):
        code, _ = errors.code_of(exc)
        event = {"code": code, "during": _DURING.get(kind, "statement"), "retried": retried}
        self.busy.append(event)
        self._last_busy = (key, event)

    def note_attempt(self, key):
        """The app issued the same action again after a BUSY: it retried."""
        if self._last_busy is not None and self._last_busy[0] == key:
            self._last_busy[1]["retried"] = True
        self._last_busy = None


_DURING = {"open": "connect", "begin": "begin", "commit": "commit"}


class ActorState:
    def __init__(self, worker, index):
        self.worker = worker
        self.index = index
        self.grant = threading.Semaphore(0)
        self.op = None
        self.in_step = False
        # For the stuck-actor note (locks.StuckWatch): the actor's thread, whether it waits
        # for a grant or has finished, since when it runs outside any step, and which such
        # stretch was reported already.
        self.ident = None
        self.parked = False
        self.done = False
        self.since = time.monotonic()
        self.reported = None
        # Tracked app locks this actor holds (name -> depth): sent with each `want`, so the
        # coordinator skips attempts on them by the other actors (locks.TrackedLock).
        self.holding = {}

    def outside_since(self, now):
        """Seconds this actor's thread has run outside any step (0 while it waits for a
        grant, runs a step, or has finished)."""
        if self.ident is None or self.parked or self.in_step or self.done:
            return 0.0
        return now - self.since


class Gate:
    """The process's one gate: free until :meth:`attach` says lockstep."""

    def __init__(self):
        self.lockstep = False
        self.channel = None
        self.worker = None
        self.actors = {}
        self.gone = False
        self.db_name = None

    def attach(self, channel, worker, lockstep, actors, seed=0, db_path=None):
        self.seed = seed
        # The database's file name, to name walburst's sidecar locks by role in flock steps.
        self.db_name = os.path.basename(db_path) if db_path else None
        self.channel = channel
        self.worker = worker
        self.lockstep = lockstep
        self.actors = {a: ActorState(worker, a) for a in actors}

    def enter_actor(self, index):
        """Binds the calling thread to an actor: its actions are that actor's steps."""
        st = self.actors[index]
        st.ident = threading.get_ident()
        st.since = time.monotonic()
        _tls.actor = st
        return st

    def on_grant(self, index):
        st = self.actors.get(index)
        if st is not None:
            st.grant.release()

    def on_eof(self):
        """The coordinator is gone: every parked actor wakes and the process exits."""
        self.gone = True
        for st in self.actors.values():
            st.grant.release()

    def current_actor(self):
        """The actor bound to the calling thread, or ``None``."""
        return getattr(_tls, "actor", None)

    def current_op(self):
        st = getattr(_tls, "actor", None)
        return st.op if st is not None else None

    def gated_here(self):
        """Whether an action on this thread now is a lockstep step of its own."""
        st = getattr(_tls, "actor", None)
        return self.lockstep and st is not None and not st.in_step

    def step(self, action, fn, describe=None):
        """Runs ``fn`` as one step; ``describe`` maps (value, exception) to a StepResult."""
        st = getattr(_tls, "actor", None)
        if not self.lockstep or st is None or st.in_step:
            return fn()
        describe = describe or describe_sql
        st.parked = True
        want = {"msg": "want", "worker": st.worker, "actor": st.index, "action": action}
        if st.holding:
            want["holding"] = sorted(st.holding)
        self.channel.send(want, flush=True)
        st.grant.acquire()
        st.parked = False
        if self.gone:
            # Coordinator gone (EOF in lockstep): do nothing more, not even clean up.
            os._exit(6)
        st.in_step = True
        try:
            value = fn()
        except BaseException as exc:
            st.in_step = False
            self._did(st, describe(None, exc))
            raise
        st.in_step = False
        self._did(st, describe(value, None))
        return value

    def _did(self, st, result):
        st.since = time.monotonic()
        self.channel.send({"msg": "did", "worker": st.worker, "actor": st.index,
                           "result": result}, flush=True)

    def actor_done(self, index):
        st = self.actors.get(index)
        if st is not None:
            st.done = True
        if self.lockstep:
            self.channel.send({"msg": "actor_done", "worker": self.worker, "actor": index},
                              flush=True)

    def die(self, point, actor=None, seq=None):
        """Announces a seeded kill, then SIGKILLs the whole process, as a crash would."""
        st = getattr(_tls, "actor", None)
        if actor is None and st is not None:
            actor = st.index
        if seq is None and st is not None and st.op is not None:
            seq = st.op.op["seq"]
        def kill():
            os.kill(os.getpid(), signal.SIGKILL)
            while True:  # SIGKILL cannot be caught; this is not reached
                _original_sleep(1)

        # The stream stays held from `dying` to the kill: no sibling actor reports after it.
        self.channel.last_words({"msg": "dying", "worker": self.worker, "actor": actor,
                                 "seq": seq, "point": point}, kill)

    def maybe_die(self, point):
        op = self.current_op()
        if op is not None and point in op.kill_points:
            self.die(point)


GATE = Gate()


def describe_sql(value, exc):
    if exc is None:
        return {"kind": "ok"}
    if errors.is_busy(exc):
        return {"kind": "busy", "code": errors.code_of(exc)[0]}
    return {"kind": "error", "code": errors.code_of(exc)[0]}


def _kill_during_checkpoint(gate, actor, seq):
    """Lands the seeded kill while the checkpoint runs: a timer a seeded few microseconds
    in (free mode's best effort; the op's record dies with it either way)."""
    import random
    delay = random.Random("kill-timer-%d-%d-%d" % (gate.seed, gate.worker, seq)).randrange(2000)

    def fire():
        _original_sleep(delay / 1e6)
        gate.die("checkpoint", actor, seq)

    threading.Thread(target=fire, daemon=True).start()


def gated_sleep(seconds):
    """In lockstep an actor's sleep is not time: only steps order what happens."""
    if GATE.lockstep and getattr(_tls, "actor", None) is not None:
        return None
    return _original_sleep(seconds)


def as_step(kind, fn, describe=None):
    """Wraps an app function (a guard probe, a custom lock) so each call is one step."""

    def stepped(*args, **kwargs):
        return GATE.step({"kind": kind}, lambda: fn(*args, **kwargs), describe)

    stepped.__wrapped__ = fn
    return stepped
