"""walburst_worker.locks: an app's own threading locks as lockstep steps (TrackedLock,
track_locks) and the note that names where a stuck actor thread waits.

Each test runs its probe in a fresh interpreter (this file, with the probe's name as its
argument): importing walburst_worker patches sqlite3, fcntl and time, and the lockstep
probes drive the process-wide gate, neither of which may leak into the other tests.

Run: python3 -m unittest discover -s adapters/python/tests -v
"""

import os
import queue
import subprocess
import sys
import threading
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DEADLINE_S = 30


def _probe(name):
    return subprocess.run([sys.executable, os.path.abspath(__file__), name],
                          capture_output=True, text=True, timeout=120)


class Locks(unittest.TestCase):
    def check(self, name):
        p = _probe(name)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("probe ok", p.stdout, p.stdout + p.stderr)

    def test_outside_lockstep_a_tracked_lock_is_the_lock(self):
        self.check("free")

    def test_track_locks_replaces_module_locks_in_place(self):
        self.check("track")

    def test_track_new_locks_tracks_the_apps_locks_only(self):
        self.check("new")

    def test_in_lockstep_each_attempt_is_an_app_lock_step(self):
        self.check("lockstep")

    def test_the_stuck_note_names_the_line_an_actor_waits_on(self):
        self.check("stuck")


# --- the probes (run in a child interpreter) ---------------------------------------------

class _Channel:
    """Stands in for the runner's pipe: every message the gate sends, in order."""

    def __init__(self):
        self.sent = queue.Queue()

    def send(self, msg, flush=False):
        self.sent.put(msg)

    def next(self):
        return self.sent.get(timeout=DEADLINE_S)


def probe_free():
    from walburst_worker import TrackedLock
    lock = TrackedLock(threading.Lock(), "m.L")
    assert lock.acquire() is True and lock.locked()
    got = []
    t = threading.Thread(target=lambda: got.append(lock.acquire(False)))
    t.start()
    t.join(DEADLINE_S)
    assert got == [False], got
    lock.release()
    with lock:
        assert lock.locked()
    assert not lock.locked()
    r = TrackedLock(threading.RLock(), "m.R")
    with r:
        with r:  # re-entrant, as the RLock is
            pass
    assert r.acquire(timeout=1) is True
    r.release()
    # A Condition on either (free mode: the lock's own waits).
    for inner in (threading.Lock(), threading.RLock()):
        cond = threading.Condition(TrackedLock(inner, "m.C"))
        with cond:
            cond.notify_all()
            assert cond.wait(0) is False


def probe_track():
    import walburst_worker
    from walburst_worker import TrackedLock, track_locks
    m = types.ModuleType("app")
    m.A, m.B, m.OTHER = threading.Lock(), threading.RLock(), object()
    named = track_locks(m, "A")
    assert [t.name for t in named] == ["app.A"], named
    assert isinstance(m.A, TrackedLock) and not isinstance(m.B, TrackedLock)
    every = track_locks(m)
    assert [t.name for t in every] == ["app.A", "app.B"], every
    assert every[0] is m.A, "tracking again wraps nothing twice"
    try:
        track_locks(m, "OTHER")
    except TypeError as e:
        assert "app.OTHER is a object" in str(e), e
    else:
        raise AssertionError("a non-lock was tracked")
    assert walburst_worker.track_locks is track_locks


def probe_new():
    import queue as q
    import walburst_worker
    from walburst_worker import TrackedLock
    m = types.ModuleType("myapp.db")
    before = threading.Lock()
    walburst_worker.track_new_locks("myapp")
    src = "import threading\nA = threading.Lock()\nB = threading.RLock()\n"
    exec(compile(src, "myapp/db.py", "exec"), vars(m))
    assert isinstance(m.A, TrackedLock) and m.A.name == "myapp.db:2", m.A
    assert isinstance(m.B, TrackedLock) and m.B.name == "myapp.db:3", m.B
    with m.B:
        with m.B:
            pass
    # Not the app's: this module's, the standard library's, a module only named alike.
    assert not isinstance(threading.Lock(), TrackedLock)
    assert not isinstance(q.Queue().mutex, TrackedLock)
    assert not isinstance(threading.Condition()._lock, TrackedLock)
    other = types.ModuleType("myapplication")
    exec(compile("import threading\nA = threading.Lock()\n", "x.py", "exec"), vars(other))
    assert not isinstance(other.A, TrackedLock)
    assert not isinstance(before, TrackedLock)
    walburst_worker.track_new_locks("myapp")  # idempotent
    assert threading.Lock.__wrapped__ is not threading.Lock


def probe_lockstep():
    from walburst_worker.gate import GATE
    from walburst_worker import TrackedLock
    ch = _Channel()
    GATE.attach(ch, 0, True, [0])
    lock = TrackedLock(threading.Lock(), "app.L")
    rlock = TrackedLock(threading.RLock(), "app.R")
    lock._lock.acquire()  # held by a thread that is not an actor (this one)
    results = []

    def actor():
        GATE.enter_actor(0)
        results.append(lock.acquire(blocking=False))
        results.append(lock.acquire())
        with rlock:
            with rlock:  # the owner re-enters without a step
                pass
        lock.release()

    t = threading.Thread(target=actor)
    t.start()
    want = {"msg": "want", "worker": 0, "actor": 0,
            "action": {"kind": "app_lock", "lock": "app.L"}}

    def did(kind):
        return {"msg": "did", "worker": 0, "actor": 0, "result": {"kind": kind}}

    # A non-blocking acquire is one step, and says what it found.
    assert ch.next() == want
    GATE.on_grant(0)
    assert ch.next() == did("would_block")
    # A blocking one tries again, a step each time, until the holder has let go.
    assert ch.next() == want
    GATE.on_grant(0)
    assert ch.next() == did("would_block")
    assert ch.next() == want
    lock._lock.release()
    GATE.on_grant(0)
    assert ch.next() == did("ok")
    # Parked while holding L: the want says so (the coordinator's hint).
    r_want = dict(want, action={"kind": "app_lock", "lock": "app.R"}, holding=["app.L"])
    assert ch.next() == r_want
    GATE.on_grant(0)
    assert ch.next() == did("ok")
    t.join(DEADLINE_S)
    assert not t.is_alive()
    assert results == [False, True], results
    assert ch.sent.empty(), "the re-entry took a step: %r" % ch.sent.get()
    assert not rlock._lock._is_owned() and not lock.locked()
    assert GATE.actors[0].holding == {}, GATE.actors[0].holding


def probe_stuck():
    from walburst_worker.gate import GATE
    from walburst_worker.locks import stuck_note
    GATE.attach(_Channel(), 0, True, [0])
    LOCK = threading.Lock()
    LOCK.acquire()
    entered = threading.Event()
    states = []

    def actor():
        states.append(GATE.enter_actor(0))
        entered.set()
        with LOCK:  # the line the note must show
            pass

    t = threading.Thread(target=actor, daemon=True)
    t.start()
    assert entered.wait(DEADLINE_S)
    st = states[0]
    # Wait (with a deadline) until the thread is blocked on that line.
    import time
    deadline = time.monotonic() + DEADLINE_S
    while True:
        frame = sys._current_frames().get(st.ident)
        if frame is not None and frame.f_code.co_name == "actor" \
                and "with LOCK" in stuck_note(st):
            break
        assert time.monotonic() < deadline, "the actor thread never blocked"
        time.sleep(0.01)
    note = stuck_note(st)
    assert "actor 0 has not asked for its next step" in note, note
    assert "with LOCK:  # the line the note must show" in note, note
    assert "walburst_worker.track_locks" in note, note
    assert st.outside_since(time.monotonic()) > 0
    st.parked = True
    assert st.outside_since(time.monotonic()) == 0, "a parked actor is not stuck"
    LOCK.release()
    t.join(DEADLINE_S)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))
    globals()["probe_" + sys.argv[1]]()
    print("probe ok")
