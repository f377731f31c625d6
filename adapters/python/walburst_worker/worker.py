"""The runner-facing loop: handshake, start barrier, one thread per actor running its ops
through the app's own functions, one ``op`` record per op, ``done``.

An adapter is a mapping from op kind to a function ``fn(op, actor)`` that performs the op by
calling the app's own code (which opens its own connections: the gated factory installed
on import sees them). The function's return value says what it wrote:

* ``None`` or a dict with optional ``event_id``/``task_id`` (and, for a ``list_txn``, ``list``:
  its micro-ops with each read's ``values``; for a ``claim_task``, ``claim_read``: the task
  and its ``claim_lock`` as the claim read them): it ran; whether it committed
  is what the gate saw (a COMMIT that returned OK, or an autocommit write);
* :class:`Nothing` ``("why")``: it found nothing to do and rolled back;
* raising: the op failed, unless COMMIT had already returned OK (then it is committed and
  the exception is the reason, e.g. a post-commit guard) or COMMIT failed after the
  transaction ended (then it is ambiguous and the ledger settles it).
"""

import os
import sys
import threading

from .gate import GATE, OpContext, _original_sleep, as_step
from .locks import StuckWatch
from .settings import SETTINGS
from .protocol import (IMPLEMENTATION, PROTOCOL_VERSION, Channel, monotonic_ns, read_ops)
from . import errors

import sqlite3


class Nothing:
    """Returned by an op function that found nothing to do (its transaction rolled back)."""

    def __init__(self, reason):
        self.reason = reason


class Actor:
    """Who an op function runs as, the run's settings, and a place for its own state
    (a persistent connection, say)."""

    def __init__(self, start, index):
        self.start = start
        self.worker = start["worker"]
        self.index = index
        self.db_path = start["db_path"]
        self.sqlite = start.get("sqlite") or {}
        self.workload = start.get("workload") or {}
        self.strategy = start.get("strategy") or {}
        self.guard = start.get("guard") or "none"
        self.guard_at = start.get("guard_at") or "after-commit"
        self.lockstep = start.get("mode") == "lockstep"
        self.state = {}


def report_guard(report):
    """Attaches a guard report (the guard's own numbers) to the op in flight."""
    op = GATE.current_op()
    if op is not None:
        op.guard = report


def guard_step(fn, report_of):
    """Wraps an app's guard so each call is one ``guard`` step and a firing is reported:
    ``report_of(exc)`` turns the guard's exception into the protocol's guard object, or
    returns ``None`` for exceptions that are not a firing."""

    def describe(value, exc):
        if exc is None:
            return {"kind": "ok"}
        if report_of(exc) is not None:
            return {"kind": "fired"}
        return {"kind": "error", "code": "WALBURST_GUARD"}

    stepped = as_step("guard", fn, describe)

    def guarded(*args, **kwargs):
        try:
            return stepped(*args, **kwargs)
        except Exception as exc:
            report = report_of(exc)
            if report is not None:
                report_guard(report)
            raise

    guarded.__wrapped__ = fn
    return guarded


def _outcome(kind, ctx, result, exc):
    """(outcome, reason, error) from what the op function did and what the gate saw."""
    if exc is None:
        if kind == "read_snapshot" and not ctx.ambiguous:
            # A read transaction: its COMMIT acknowledges no write.
            return "done", None, None
        if ctx.commit_ok:
            return "committed", None, None
        if ctx.ambiguous:
            return "ambiguous", None, errors.error_of(ctx.commit_error)
        if isinstance(result, Nothing):
            return "rolled_back", result.reason, None
        if ctx.rolled_back:
            return "rolled_back", "the app rolled back", None
        return "done", None, None
    if ctx.commit_ok:
        if ctx.guard is not None:
            return "committed", None, None
        return "committed", "the app raised after COMMIT returned OK: %s" % exc, None
    if ctx.ambiguous:
        return "ambiguous", None, errors.error_of(ctx.commit_error)
    if ctx.guard is not None:
        return "rolled_back", "guard fired inside the transaction", None
    return "failed", None, errors.error_of(exc)


class Worker:
    def __init__(self, ops, open=None, idle=None, close=None, app=None):
        self.handlers = ops
        self.open_hook = open
        self.idle_hook = idle
        self.close_hook = close
        self.app = app

    def fatal(self, message, code=4):
        self.channel.send({"msg": "fatal", "worker": self.worker, "message": message},
                          flush=True)
        sys.stderr.write("walburst-python: fatal: %s\n" % message)
        sys.stderr.flush()
        os._exit(code)

    def main(self):
        self.channel = Channel()
        self.worker = None
        start = self.channel.read()
        if start is None:
            return 5
        self.worker = start.get("worker")
        if start.get("msg") != "start":
            self.fatal("expected a start message first, got %r" % start.get("msg"), 2)
        hello = {"msg": "hello", "protocol": PROTOCOL_VERSION, "worker": self.worker,
                 "pid": os.getpid(), "language": "python",
                 "implementation": "%s (%s %s)" % (IMPLEMENTATION,
                                                   sys.implementation.name,
                                                   sys.version.split()[0]),
                 "sqlite_version": sqlite3.sqlite_version}
        if self.app:
            hello["app"] = self.app
        self.channel.send(hello, flush=True)
        if start.get("protocol") != PROTOCOL_VERSION:
            self.fatal("protocol version mismatch (runner speaks %s, this adapter %d)"
                       % (start.get("protocol"), PROTOCOL_VERSION), 2)
        self.start = start
        io_points = (start.get("io") or {}).get("points") or []
        # A kill or power-loss point ends this process from inside SQLite (the preloaded
        # fault VFS), with no chance to flush: each record must be out before the next op.
        if any(p.get("action") in ("kill", "power-loss") for p in io_points):
            self.channel.flush_each = True
        try:
            ops = read_ops(start["ops_path"])
        except (OSError, ValueError, KeyError) as e:
            self.fatal("cannot read the ops file: %s" % e)
        workload = start.get("workload") or {}
        n_actors = int(workload.get("connections_per_worker", 1))
        by_actor = {a: [] for a in range(n_actors)}
        for op in ops:
            by_actor.setdefault(int(op.get("actor", 0)), []).append(op)
        self.lockstep = start.get("mode") == "lockstep"
        GATE.attach(self.channel, self.worker, self.lockstep, sorted(by_actor),
                    int(start.get("seed") or 0), start.get("db_path"))
        SETTINGS.attach(self.channel, self.worker, start.get("report_settings"))
        self.actors = {a: Actor(start, a) for a in by_actor}
        self.kills = {}
        for k in start.get("kills") or []:
            self.kills.setdefault((k.get("actor"), int(k["seq"])), set()).add(k["point"])

        idle_n = int(workload.get("idle_connections", 0))
        early = bool(start.get("connect_early"))
        held = []
        if early:
            try:
                if self.open_hook:
                    for a in sorted(self.actors):
                        self.open_hook(self.actors[a])
                        # What the app set on the connections it just opened.
                        SETTINGS.flush(None, actor=a)
                if self.idle_hook:
                    held = [self.idle_hook(self.actors[min(self.actors)]) for _ in range(idle_n)]
                    SETTINGS.flush(None)  # the idle connections: no actor's
            except Exception as e:
                self.fatal("cannot connect before the start barrier: %s (%s)"
                           % (e, errors.code_of(e)[0]))
        self.channel.send({"msg": "ready", "worker": self.worker, "pid": os.getpid()},
                          flush=True)
        go = self.channel.read()
        if go is None or go.get("msg") != "go":
            # The runner went away or aborted the run before the barrier opened.
            return 5
        SETTINGS.barrier_open = True
        self.finished = set()
        if self.lockstep:
            threading.Thread(target=self._read_grants, daemon=True).start()
            StuckWatch(GATE)
        late_idle = [] if early else [None] * idle_n
        # In lockstep the first actor closes the idle connections (opened before or after
        # the barrier) as steps after its last op, as the built-in worker does: a close left
        # to this thread would run ungated while the others step, and the last close of a
        # process may checkpoint and delete -wal/-shm (when it takes the file's exclusive
        # lock, e.g. after a bare close dropped the others' POSIX locks): the step it lands
        # before would depend on timing, and the trace on it.
        first = min(by_actor)
        closing = held if self.lockstep else []
        threads = [threading.Thread(target=self._run_actor,
                                    args=(a, by_actor[a],
                                          late_idle if a == first else [],
                                          closing if a == first else []))
                   for a in sorted(by_actor)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.lockstep:
            held = []
        for conn in late_idle + held:
            if conn is not None and hasattr(conn, "close"):
                conn.close()
        self.channel.send({"msg": "done", "worker": self.worker}, flush=True)
        return 0

    def _read_grants(self):
        while True:
            msg = self.channel.read()
            if msg is None:
                if len(self.finished) < len(self.actors):
                    # The coordinator is gone: nothing this process does matters any more.
                    os._exit(6)
                return
            if msg.get("msg") == "grant":
                GATE.on_grant(int(msg.get("actor", 0)))

    def _kill_points(self, actor, seq):
        return self.kills.get((actor, seq), set()) | self.kills.get((None, seq), set())

    def _run_actor(self, index, ops, late_idle, held_idle):
        actor = self.actors[index]
        st = GATE.enter_actor(index)
        try:
            if late_idle and self.idle_hook:
                for i in range(len(late_idle)):
                    late_idle[i] = self.idle_hook(actor)
            for op in ops:
                self._run_op(actor, st, op)
                SETTINGS.flush()
            if self.close_hook:
                self.close_hook(actor)
            if self.lockstep:
                # Gated steps of this actor (see main); the main thread then finds them
                # closed.
                for i, conn in enumerate(late_idle):
                    if conn is not None and hasattr(conn, "close"):
                        conn.close()
                    late_idle[i] = None
                for conn in held_idle:
                    if hasattr(conn, "close"):
                        conn.close()
            SETTINGS.flush()
        except Exception as e:
            self.fatal("actor %d: %s: %s" % (index, type(e).__name__, e))
        finally:
            self.finished.add(index)
            GATE.actor_done(index)

    def _run_op(self, actor, st, op):
        think = int(op.get("think_us") or 0)
        if think > 0 and not self.lockstep:
            _original_sleep(think / 1e6)
        points = self._kill_points(actor.index, int(op["seq"]))
        if "hang" in points:
            # Test-only: an op that never finishes; only the runner's watchdog can end it.
            while True:
                _original_sleep(3600)
        ctx = OpContext(op, points)
        st.op = ctx
        t_start = monotonic_ns()
        result, exc = None, None
        handler = self.handlers.get(op["kind"])
        try:
            if handler is None:
                raise _Unsupported(op["kind"])
            result = handler(op, actor)
        except _Unsupported as e:
            exc = e
        except Exception as e:
            exc = e
        finally:
            st.op = None
        if isinstance(exc, _Unsupported):
            outcome, reason, error = "failed", None, {
                "code": "WALBURST_UNSUPPORTED",
                "message": "this adapter has no function for op kind %r" % op["kind"]}
        else:
            outcome, reason, error = _outcome(op["kind"], ctx, result, exc)
        if "checkpoint" in points and op["kind"] == "checkpoint":
            GATE.die("checkpoint", actor.index, op["seq"])
        t_end = monotonic_ns()
        begin_wait_us = 0
        if ctx.t_begin_ok_ns is not None and ctx.t_begin_issued_ns is not None:
            begin_wait_us = max(0, ctx.t_begin_ok_ns - ctx.t_begin_issued_ns) // 1000
        info = result if isinstance(result, dict) else {}
        rec = {"msg": "op", "worker": self.worker, "actor": actor.index, "seq": op["seq"],
               "kind": op["kind"], "outcome": outcome, "reason": reason, "error": error,
               "busy": ctx.busy, "lock_wait_us": ctx.lock_wait_us,
               "begin_wait_us": begin_wait_us, "latency_us": (t_end - t_start) // 1000,
               "t_start_ns": t_start, "t_begin_ok_ns": ctx.t_begin_ok_ns,
               "t_commit_issued_ns": ctx.t_commit_issued_ns, "t_end_ns": t_end,
               "task_id": info.get("task_id"),
               "event_id": info.get("event_id") if outcome in ("committed", "ambiguous")
               else None,
               "guard": ctx.guard, "checkpoint": info.get("checkpoint", ctx.checkpoint)}
        if op.get("list"):
            # A list_txn reports its micro-ops with what each read returned; one that failed
            # before returning them reports the planned ones (its appends, reads unknown).
            rec["list"] = info.get("list", op["list"])
        if info.get("reads"):
            # A read_snapshot's reads of the board, in order, inside one read transaction.
            rec["reads"] = info["reads"]
        if info.get("claim_read") is not None:
            rec["claim_read"] = info["claim_read"]
        # In lockstep the runner waits for want lines: nothing may sit in a buffer.
        self.channel.send(rec, flush=self.lockstep)
        if "close" in points and not ctx.closed:
            # A persistent connection closes when the worker ends; dying now leaves it
            # open, as a crash at close would.
            GATE.die("close", actor.index, op["seq"])


class _Unsupported(Exception):
    pass


def serve(ops, *, open=None, idle=None, close=None, app=None):
    """Runs this process as a walburst worker and exits with the protocol's exit code.

    ``ops``: op kind -> ``fn(op, actor)``. ``open(actor)``: connect before the start
    barrier (when the runner allows it). ``idle(actor)``: open one idle connection and
    return it (held until the worker ends). ``close(actor)``: after the actor's last op.
    """
    worker = Worker(ops, open=open, idle=idle, close=close, app=app)
    try:
        code = worker.main()
    except Exception as e:  # the runner must hear why, not just see an exit code
        if getattr(worker, "channel", None) is not None:
            worker.fatal("%s: %s" % (type(e).__name__, e))
        sys.stderr.write("walburst-python: %s: %s\n" % (type(e).__name__, e))
        sys.stderr.flush()
        os._exit(4)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
