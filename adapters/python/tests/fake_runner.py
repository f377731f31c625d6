"""A small runner for the adapter's own tests: it speaks the runner's side of the worker
protocol over real pipes to real worker processes on a real database, so the adapter can
be tested without walburst. (walburst itself is the real runner; tests/python_worker.rs
drives the adapter through it.)"""

import hashlib
import json
import os
import queue
import random
import sqlite3
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTER = os.path.dirname(HERE)
sys.path.insert(0, ADAPTER)

import kanban_app  # noqa: E402  (only for its SCHEMA, to set the database up)

DEADLINE_S = 60


def default_start(run_dir, worker, workers, mode="free", **over):
    start = {
        "msg": "start", "protocol": 1, "worker": worker, "workers": workers, "incarnation": 0,
        "run_dir": run_dir, "db_path": os.path.join(run_dir, "db", "kanban.db"),
        "ops_path": os.path.join(run_dir, "ops-%d.jsonl" % worker),
        "mode": mode, "seed": 7, "scenario": "fake",
        "sqlite": {"journal_mode": "wal", "synchronous": "full", "wal_autocheckpoint": 1000,
                   "busy_timeout_ms": 120000, "journal_size_limit": 8388608,
                   "secure_delete": True, "cell_size_check": True,
                   "checkpoint_on_close": True},  # page_size: absent unless set
        "workload": {"profile": "kanban", "connection": "persistent",
                     "connections_per_worker": 1, "idle_connections": 0,
                     "checkpoint_mode": "passive", "setup": "runner"},
        "strategy": {"write_lock": "none", "init_lock": "none"},
        "guard": "wal-aware", "guard_at": "after-commit", "connect_early": True, "kills": [],
        "report_settings": True,
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(start.get(k), dict):
            start[k] = dict(start[k], **v)
        else:
            start[k] = v
    return start


def make_ops(worker, n, kinds=("create_task",), actors=1, seed=7):
    rng = random.Random("%d-%d" % (seed, worker))
    ops = []
    for seq in range(n):
        ops.append({"seq": seq, "actor": seq % actors, "kind": rng.choice(kinds),
                    "think_us": 0, "at_ms": 1767225600000 + seq * 1000,
                    "task_id": kanban_app.task_id(worker, seq),
                    "payload": "".join(rng.choice("abcdefgh") for _ in range(rng.randint(64, 512)))})
    return ops


def setup_db(run_dir, journal_mode="wal"):
    os.makedirs(os.path.join(run_dir, "db"), exist_ok=True)
    conn = sqlite3.connect(os.path.join(run_dir, "db", "kanban.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=%s" % journal_mode).fetchone()
    conn.executescript("BEGIN IMMEDIATE;" + kanban_app.SCHEMA + "COMMIT;")
    conn.close()


class Proc:
    def __init__(self, worker, argv, run_dir, events):
        self.worker = worker
        self.stderr_path = os.path.join(run_dir, "worker-%d.stderr" % worker)
        with open(self.stderr_path, "wb") as err:
            self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=err, cwd=run_dir)
        self.t = threading.Thread(target=self._read, args=(events,), daemon=True)
        self.t.start()

    def _read(self, events):
        for line in self.p.stdout:
            try:
                events.put((self.worker, json.loads(line)))
            except ValueError:
                events.put((self.worker, {"msg": "__garbage__", "line": line[:200]}))
        events.put((self.worker, {"msg": "__eof__"}))

    def send(self, msg):
        # A worker whose stdin we closed on purpose (close_stdin_after_go) may still park
        # an actor before it sees EOF: the grant then has nowhere to go, as with a real
        # runner whose pipe is gone.
        if self.p.stdin.closed:
            return
        try:
            self.p.stdin.write((json.dumps(msg) + "\n").encode())
            self.p.stdin.flush()
        except (BrokenPipeError, OSError):
            pass


def run(run_dir, starts, ops, argv=None, seed=7, close_stdin_after_go=False,
        deadline_s=DEADLINE_S):
    """Runs one worker per start message; returns a dict of what happened."""
    argv = argv or [sys.executable, os.path.join(ADAPTER, "kanban_worker.py")]
    for w, worker_ops in ops.items():
        with open(starts[w]["ops_path"], "w") as f:
            for op in worker_ops:
                f.write(json.dumps(op) + "\n")
    events = queue.Queue()
    procs = {w: Proc(w, argv, run_dir, events) for w in starts}
    for w, p in procs.items():
        p.send(starts[w])
    out = {"hello": {}, "records": [], "fatal": [], "dying": [], "done": set(),
           "trace": [], "garbage": [], "exit": {}, "breaches": 0, "messages": []}
    lockstep = any(s["mode"] == "lockstep" for s in starts.values())
    ready, eof = set(), set()
    rng = random.Random(seed)
    parked, granted, holders = {}, None, set()
    live = {(w, a) for w in starts for a in
            range(starts[w]["workload"]["connections_per_worker"])}
    hasher = hashlib.sha256()
    end = time.monotonic() + deadline_s
    went = False
    while len(eof) < len(procs):
        if time.monotonic() > end:
            for p in procs.values():
                p.p.kill()
            raise TimeoutError("fake runner deadline: %s" % out)
        try:
            w, msg = events.get(timeout=0.5)
        except queue.Empty:
            continue
        kind = msg["msg"]
        if not kind.startswith("__"):
            out["messages"].append(msg)
        if kind == "hello":
            out["hello"][w] = msg
        elif kind == "ready":
            ready.add(w)
            if ready == set(procs) and not went:
                went = True
                for p in procs.values():
                    p.send({"msg": "go"})
                    if close_stdin_after_go:
                        p.p.stdin.close()
        elif kind == "op":
            out["records"].append(msg)
        elif kind == "fatal":
            out["fatal"].append(msg)
        elif kind == "dying":
            out["dying"].append(msg)
        elif kind == "done":
            out["done"].add(w)
        elif kind == "__garbage__":
            out["garbage"].append(msg)
        elif kind == "__eof__":
            eof.add(w)
            live = {x for x in live if x[0] != w}
            parked = {k: v for k, v in parked.items() if k[0] != w}
            if granted and granted[0][0] == w:
                granted = None
        elif kind == "want":
            parked[(w, msg["actor"])] = msg["action"]
        elif kind == "did":
            (a, action) = granted
            result = msg["result"]
            line = json.dumps([len(out["trace"]), a, action, result], sort_keys=True)
            hasher.update(line.encode())
            out["trace"].append(line)
            if action["kind"] == "begin" and result["kind"] == "ok":
                if holders - {a}:
                    out["breaches"] += 1
                holders.add(a)
            elif action["kind"] in ("commit", "rollback", "close") and \
                    result["kind"] not in ("busy",):
                holders.discard(a)
            granted = None
        elif kind == "actor_done":
            live.discard((w, msg["actor"]))
        if lockstep and went and granted is None and live and \
                all(x in parked for x in live):
            a = sorted(parked)[rng.randrange(len(parked))]
            granted = (a, parked.pop(a))
            procs[a[0]].send({"msg": "grant", "actor": a[1]})
    for w, p in procs.items():
        try:
            p.p.stdin.close()
        except OSError:
            pass
        out["exit"][w] = p.p.wait(timeout=30)
        p.t.join(timeout=30)
        p.p.stdout.close()
        with open(p.stderr_path, "rb") as f:
            out.setdefault("stderr", {})[w] = f.read().decode("utf-8", "replace")
    out["trace_hash"] = hasher.hexdigest()
    return out


def content_hash(db_path):
    conn = sqlite3.connect(db_path)
    h = hashlib.sha256()
    for table in ("tasks", "task_events", "task_runs", "task_comments"):
        for row in conn.execute("SELECT * FROM %s ORDER BY 1" % table):
            h.update(repr(row).encode())
    conn.close()
    return h.hexdigest()
