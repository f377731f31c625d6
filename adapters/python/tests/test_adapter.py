"""The adapter against real worker processes and a real database, over the fake runner.

Run: python3 -m unittest discover -s adapters/python/tests -v
"""

import json
import os
import sqlite3
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fake_runner as fr  # noqa: E402

KINDS = ("create_task", "create_task", "claim_task", "heartbeat", "add_comment",
         "complete_task", "gc_events", "checkpoint")


def burst(tmp, workers=3, n=20, mode="free", kinds=("create_task",), journal="wal",
          actors=1, seed=7, **over):
    fr.setup_db(tmp, journal)
    starts, ops = {}, {}
    for w in range(workers):
        over2 = dict(over)
        over2.setdefault("sqlite", {})
        over2["sqlite"] = dict(over2["sqlite"], journal_mode=journal)
        over2.setdefault("workload", {})
        over2["workload"] = dict(over2["workload"], connections_per_worker=actors)
        starts[w] = fr.default_start(tmp, w, workers, mode, **over2)
        ops[w] = fr.make_ops(w, n, kinds, actors)
    return fr.run(tmp, starts, ops, seed=seed), starts


def count(tmp, sql):
    conn = sqlite3.connect(os.path.join(tmp, "db", "kanban.db"))
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


class Burst(unittest.TestCase):
    def test_free_burst_commits_every_create(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=4, n=30)
            self.assertEqual(out["fatal"], [], out.get("stderr"))
            self.assertEqual(out["exit"], {w: 0 for w in range(4)}, out.get("stderr"))
            self.assertEqual(len(out["done"]), 4)
            committed = [r for r in out["records"] if r["outcome"] == "committed"]
            self.assertEqual(len(committed), 120)
            self.assertEqual(count(tmp, "SELECT count(*) FROM tasks"), 120)
            self.assertEqual(count(tmp, "SELECT count(*) FROM task_events"), 120)
            r = committed[0]
            self.assertIsNotNone(r["event_id"])
            self.assertTrue(r["t_start_ns"] <= r["t_begin_ok_ns"] <= r["t_commit_issued_ns"]
                            <= r["t_end_ns"])
            hello = out["hello"][0]
            self.assertEqual((hello["protocol"], hello["language"]), (1, "python"))
            self.assertEqual(hello["sqlite_version"], sqlite3.sqlite_version)

    def test_mix_with_two_actors_per_worker(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=2, n=30, kinds=KINDS, actors=2)
            self.assertEqual(out["fatal"], [], out.get("stderr"))
            self.assertEqual(len(out["records"]), 60)
            outcomes = {r["outcome"] for r in out["records"]}
            self.assertTrue(outcomes <= {"committed", "rolled_back", "done"}, outcomes)
            checkpoints = [r for r in out["records"] if r["kind"] == "checkpoint"]
            for r in checkpoints:
                self.assertEqual(len(r["checkpoint"]), 3)

    def test_unsupported_kind_is_a_named_failure(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=1, n=3, kinds=("teleport",))
            self.assertEqual([r["error"]["code"] for r in out["records"]],
                             ["WALBURST_UNSUPPORTED"] * 3)


class Lockstep(unittest.TestCase):
    def run_twice(self, **kw):
        hashes = []
        for _ in range(2):
            with tempfile.TemporaryDirectory() as tmp:
                out, _ = burst(tmp, mode="lockstep", **kw)
                self.assertEqual(out["fatal"], [], out.get("stderr"))
                self.assertEqual(out["exit"], {w: 0 for w in out["exit"]}, out.get("stderr"))
                self.assertEqual(out["breaches"], 0)
                hashes.append((out["trace_hash"], fr.content_hash(
                    os.path.join(tmp, "db", "kanban.db")), len(out["trace"])))
        return hashes

    def test_lockstep_is_deterministic_in_wal(self):
        a, b = self.run_twice(workers=3, n=8, kinds=KINDS, actors=2)
        self.assertEqual(a, b)
        self.assertGreater(a[2], 50)

    def test_lockstep_is_deterministic_in_delete_mode(self):
        a, b = self.run_twice(workers=2, n=8, kinds=KINDS, journal="delete")
        self.assertEqual(a, b)

    def test_idle_connections_close_as_steps_of_the_first_actor(self):
        """In lockstep every close is a step, the idle connections' too: the first actor
        closes them after its last op. (Closed by the main thread once every actor was done,
        they ran ungated beside the other workers' steps, and the last close of a process may
        delete -wal/-shm: python-header-probe-lock-hazard-wal's trace then varied by run.)"""
        for early, extra in ((False, 0), (True, 2)):
            with tempfile.TemporaryDirectory() as tmp:
                out, _ = burst(tmp, workers=2, n=4, mode="lockstep", guard="header-probe",
                               connect_early=early,
                               workload={"connection": "per-op", "idle_connections": 1})
                self.assertEqual(out["fatal"], [], out.get("stderr"))
                steps = [json.loads(line) for line in out["trace"]]
                for w in range(2):
                    kinds = [action["kind"] for _, who, action, _ in steps if who[0] == w]
                    # Before the barrier (connect_early) the writer's and the idle
                    # connection's opens are no steps; each of their closes is one.
                    self.assertEqual(kinds.count("close"), kinds.count("open") + extra,
                                     (early, w, kinds))
                    self.assertEqual(kinds[-1], "close", (early, w, kinds))

    def test_lockstep_busy_is_retried_as_steps(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=3, n=6, mode="lockstep", journal="delete")
            busy = [b for r in out["records"] for b in r["busy"]]
            self.assertTrue(busy, "three writers in DELETE mode never met BUSY")
            self.assertTrue(all(b["retried"] for b in busy))
            self.assertTrue(all(r["outcome"] == "committed" for r in out["records"]))
            self.assertIn('"busy"', "".join(out["trace"]))

    def test_flock_strategy_in_lockstep(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=2, n=5, mode="lockstep",
                           strategy={"write_lock": "flock", "write_lock_wait": "blocking",
                                     "write_lock_scope": "transaction"})
            self.assertEqual(out["fatal"], [], out.get("stderr"))
            trace = "".join(out["trace"])
            self.assertIn('"flock"', trace)
            # The global write lock is named by its role, never by its path.
            self.assertIn('"lock": "write"', trace)
            self.assertNotIn(tmp, trace)
            self.assertEqual(count(tmp, "SELECT count(*) FROM tasks"), 10)

    def test_flock_steps_name_the_lock_file(self):
        """The gate names a flock's lock by the file under the descriptor, as walburst's
        own worker does: sidecars by role, other files by name, anything else unknown.
        (In a child process: importing the adapter installs its gate.)"""
        import json
        import subprocess
        script = (
            "import json, os, sys\n"
            "sys.path.insert(0, %r)\n"
            "from walburst_worker.gate import lock_name\n"
            "tmp, out = sys.argv[1], {}\n"
            "for file, db in [('kanban.db.init.lock', 'kanban.db'),\n"
            "                 ('kanban.db.lock', 'kanban.db'), ('app.pid.lock', 'kanban.db'),\n"
            "                 ('kanban.db.lock', None), ('init', 'kanban.db')]:\n"
            "    fd = os.open(os.path.join(tmp, file), os.O_RDWR | os.O_CREAT, 0o644)\n"
            "    out['%%s|%%s' %% (file, db)] = lock_name(fd, db)\n"
            "    os.close(fd)\n"
            "with open(os.path.join(tmp, 'f.lock'), 'w') as f:\n"
            "    out['file object'] = lock_name(f, 'kanban.db')\n"
            "r, w = os.pipe()\n"
            "out['pipe'] = lock_name(r, 'kanban.db')\n"
            "out['closed'] = lock_name(10 ** 6, 'kanban.db')\n"
            "print(json.dumps(out))\n" % fr.ADAPTER)
        with tempfile.TemporaryDirectory() as tmp:
            got = json.loads(subprocess.run([sys.executable, "-c", script, tmp], check=True,
                                            capture_output=True, text=True).stdout)
        self.assertEqual(got, {
            "kanban.db.init.lock|kanban.db": "init",
            "kanban.db.lock|kanban.db": "write",
            "app.pid.lock|kanban.db": "app.pid.lock",
            "kanban.db.lock|None": "kanban.db.lock",
            # A file literally named like a role would be mistaken for a sidecar: unknown.
            "init|kanban.db": None,
            "file object": "f.lock",
            "pipe": None,
            "closed": None,
        })


class ImplicitTransactions(unittest.TestCase):
    """An app using the sqlite3 module's implicit BEGIN and ``with conn:``."""

    def run_app(self, tmp, mode, workers=2, n=6):
        fr.setup_db(tmp)
        starts = {w: fr.default_start(tmp, w, workers, mode) for w in range(workers)}
        ops = {w: fr.make_ops(w, n) for w in range(workers)}
        return fr.run(tmp, starts, ops, argv=[sys.executable, os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "context_worker.py")])

    def test_with_conn_commit_is_seen(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = self.run_app(tmp, "free")
            self.assertEqual(out["fatal"], [], out.get("stderr"))
            self.assertEqual({r["outcome"] for r in out["records"]}, {"committed"})
            for r in out["records"]:
                self.assertIsNotNone(r["t_begin_ok_ns"])
                self.assertIsNotNone(r["t_commit_issued_ns"])
            self.assertEqual(count(tmp, "SELECT count(*) FROM task_events"), 12)

    def test_with_conn_in_lockstep(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = self.run_app(tmp, "lockstep")
            self.assertEqual(out["fatal"], [], out.get("stderr"))
            self.assertEqual(out["breaches"], 0)
            trace = "".join(out["trace"])
            self.assertIn('"commit"', trace)
            self.assertIn('"begin"', trace)
            self.assertEqual(count(tmp, "SELECT count(*) FROM task_events"), 12)


class Strategies(unittest.TestCase):
    def test_connection_scoped_lock_and_polled_init_lock(self):
        for mode in ("free", "lockstep"):
            with tempfile.TemporaryDirectory() as tmp:
                out, _ = burst(tmp, workers=2, n=5, mode=mode, connect_early=False,
                               workload={"connection": "per-op"},
                               strategy={"write_lock": "flock", "write_lock_wait": "poll",
                                         "write_lock_poll_ms": 5, "write_lock_timeout_ms": 60000,
                                         "write_lock_scope": "connection",
                                         "init_lock": "poll", "init_lock_poll_ms": 5,
                                         "init_lock_timeout_ms": 10000})
                self.assertEqual(out["fatal"], [], (mode, out.get("stderr")))
                self.assertEqual({r["outcome"] for r in out["records"]}, {"committed"}, mode)
                if mode == "lockstep":
                    trace = "".join(out["trace"])
                    self.assertIn('"lock": "init"', trace)
                    self.assertIn('"lock": "write"', trace)
                self.assertTrue(os.path.exists(os.path.join(tmp, "db", "kanban.db.lock")))
                self.assertTrue(os.path.exists(os.path.join(tmp, "db", "kanban.db.init.lock")))


class Schema(unittest.TestCase):
    """Every message the adapter writes has the keys PROTOCOL.schema.json gives it: all the
    required ones and no others."""

    SCHEMA = os.path.join(fr.ADAPTER, "..", "..", "PROTOCOL.schema.json")

    def check(self, defs, name, obj):
        d = defs[name]
        if "oneOf" in d:  # tagged by kind
            [d] = [v for v in d["oneOf"] if v["properties"]["kind"]["const"] == obj["kind"]]
        keys, props = set(obj), set(d["properties"])
        self.assertTrue(set(d.get("required", [])) <= keys, (name, obj))
        self.assertTrue(keys <= props, (name, sorted(keys - props)))

    def test_messages_match_the_schema(self):
        import json
        with open(self.SCHEMA) as f:
            defs = json.load(f)["$defs"]
        messages = []
        for mode in ("free", "lockstep"):
            with tempfile.TemporaryDirectory() as tmp:
                out, _ = burst(tmp, workers=2, n=12, mode=mode, kinds=KINDS, actors=2,
                               guard="page-count", journal="wal",
                               kills=[{"actor": 1, "seq": 9, "point": "mid-transaction"}])
                messages += out["messages"]
        seen = set()
        for m in messages:
            seen.add(m["msg"])
            self.check(defs, m["msg"], m)
            if m["msg"] == "op":
                if m["error"] is not None:
                    self.check(defs, "sql_error", m["error"])
                for b in m["busy"]:
                    self.check(defs, "busy_event", b)
                if m["guard"] is not None:
                    self.check(defs, "guard_report", m["guard"])
            elif m["msg"] == "want":
                self.check(defs, "step_action", m["action"])
            elif m["msg"] == "did":
                self.check(defs, "step_result", m["result"])
        self.assertEqual(seen, {"hello", "ready", "op", "done", "dying", "want", "did",
                                "actor_done", "settings"})


class Settings(unittest.TestCase):
    """``settings``: what the app's connections run with, read back on each of them."""

    def settings(self, out):
        return [m for m in out["messages"] if m["msg"] == "settings"]

    def test_each_connection_reports_what_it_runs_with(self):
        for mode in ("free", "lockstep"):
            with tempfile.TemporaryDirectory() as tmp:
                out, _ = burst(tmp, workers=2, n=6, mode=mode, journal="delete", actors=2)
                self.assertEqual(out["fatal"], [], out.get("stderr"))
                got = self.settings(out)
                # Persistent connections: one report each (2 workers x 2 actors).
                self.assertEqual(sorted((m["worker"], m["actor"]) for m in got),
                                 [(0, 0), (0, 1), (1, 0), (1, 1)], got)
                for m in got:
                    self.assertEqual(m["sqlite_version"], sqlite3.sqlite_version)
                    self.assertEqual((m["journal_mode"], m["synchronous"], m["locking_mode"]),
                                     ("delete", "full", "normal"))
                    self.assertEqual(m["busy_timeout_ms"], 0 if mode == "lockstep" else 120000)

    def test_app_mode_is_the_apps_own_rule(self):
        sys.path.insert(0, fr.ADAPTER)
        import kanban_app
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=2, n=4, journal="app",
                           workload={"connection": "per-op"})
            self.assertEqual(out["fatal"], [], out.get("stderr"))
            modes = {m["journal_mode"] for m in self.settings(out)}
            self.assertEqual(modes, {kanban_app.own_journal_mode()})

    def test_none_without_report_settings(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=1, n=3, report_settings=False)
            self.assertEqual(self.settings(out), [])
            self.assertEqual(len(out["done"]), 1)


class AppAlone(unittest.TestCase):
    def test_example_app_runs_without_the_adapter(self):
        """kanban_app is an app, not a walburst part: it must work on plain sqlite3."""
        import subprocess
        with tempfile.TemporaryDirectory() as tmp:
            fr.setup_db(tmp)
            code = (
                "import sys; sys.path.insert(0, %r)\n"
                "import sqlite3, kanban_app as app\n"
                "cfg = app.Config(%r, guard='page-count', write_lock='flock',\n"
                "                 write_lock_scope='connection')\n"
                "c = app.connect(cfg)\n"
                "assert type(c) is sqlite3.Connection, type(c)\n"
                "print(app.create_task(c, cfg, 1, 0, 5, 'body'))\n"
                "app.close(c)\n" % (fr.ADAPTER, os.path.join(tmp, "db", "kanban.db")))
            p = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(count(tmp, "SELECT count(*) FROM tasks"), 1)


class Guards(unittest.TestCase):
    def test_page_count_guard_fires_in_wal_not_in_delete(self):
        fired = {}
        for journal in ("wal", "delete"):
            with tempfile.TemporaryDirectory() as tmp:
                out, _ = burst(tmp, workers=2, n=30, journal=journal, guard="page-count")
                self.assertEqual(out["fatal"], [], out.get("stderr"))
                recs = out["records"]
                self.assertTrue(all(r["outcome"] == "committed" for r in recs))
                fired[journal] = [r["guard"] for r in recs if r["guard"]]
        self.assertGreater(len(fired["wal"]), 10)
        g = fired["wal"][0]
        self.assertEqual((g["guard"], g["journal_mode"]), ("page-count", "wal"))
        self.assertEqual(g["deficit"], g["claimed_pages"] - g["file_pages"])
        self.assertIn("torn-extend detected", g["message"])
        self.assertEqual(fired["delete"], [])

    def test_in_transaction_guard_rolls_back(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=1, n=40, guard="page-count",
                           guard_at="in-transaction")
            rolled = [r for r in out["records"] if r["outcome"] == "rolled_back"]
            self.assertTrue(rolled)
            self.assertTrue(all(r["guard"] for r in rolled))
            self.assertEqual(count(tmp, "SELECT count(*) FROM tasks"),
                             40 - len(rolled))

    def test_header_probes_run(self):
        for guard in ("header-probe", "header-probe-fd", "wal-aware"):
            with tempfile.TemporaryDirectory() as tmp:
                out, _ = burst(tmp, workers=2, n=10, guard=guard)
                self.assertEqual(out["fatal"], [], (guard, out.get("stderr")))
                self.assertEqual(len(out["records"]), 20)


class Lifecycle(unittest.TestCase):
    def test_kill_mid_transaction(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=1, n=10,
                           kills=[{"actor": 0, "seq": 4, "point": "mid-transaction"}])
            self.assertEqual([(d["seq"], d["point"]) for d in out["dying"]],
                             [(4, "mid-transaction")])
            self.assertEqual(out["exit"][0], -9)
            self.assertEqual([r["seq"] for r in out["records"]], [0, 1, 2, 3])
            self.assertEqual(count(tmp, "SELECT count(*) FROM tasks"), 4)

    def test_kill_after_commit_leaves_the_row(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=1, n=10,
                           kills=[{"actor": 0, "seq": 2, "point": "after-commit"}])
            self.assertEqual(len(out["records"]), 2)
            self.assertEqual(count(tmp, "SELECT count(*) FROM tasks"), 3)

    def test_kill_during_checkpoint(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=1, n=4, kinds=("checkpoint",),
                           kills=[{"actor": 0, "seq": 1, "point": "checkpoint"}])
            self.assertEqual([(d["seq"], d["point"]) for d in out["dying"]],
                             [(1, "checkpoint")])
            self.assertEqual([r["seq"] for r in out["records"]], [0])
            self.assertEqual(out["records"][0]["outcome"], "done")

    def test_per_op_connections_with_idle(self):
        with tempfile.TemporaryDirectory() as tmp:
            out, _ = burst(tmp, workers=2, n=10, guard="header-probe",
                           workload={"connection": "per-op", "idle_connections": 1})
            self.assertEqual(out["fatal"], [], out.get("stderr"))
            self.assertEqual(len(out["records"]), 20)

    def test_eof_before_go_exits_5_without_writing(self):
        with tempfile.TemporaryDirectory() as tmp:
            fr.setup_db(tmp)
            start = fr.default_start(tmp, 0, 1)
            with open(start["ops_path"], "w") as f:
                f.write('{"seq":0,"actor":0,"kind":"create_task","think_us":0,'
                        '"at_ms":1,"payload":"x"}\n')
            import json
            import subprocess
            p = subprocess.run([sys.executable, os.path.join(fr.ADAPTER, "kanban_worker.py")],
                               input=(json.dumps(start) + "\n").encode(),
                               capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 5, p.stderr)
            kinds = [json.loads(l)["msg"] for l in p.stdout.splitlines()]
            # The connection opened before the barrier reports its settings before `ready`.
            self.assertEqual(kinds, ["hello", "settings", "ready"])
            self.assertEqual(count(tmp, "SELECT count(*) FROM tasks"), 0)

    def test_eof_in_lockstep_exits_6(self):
        with tempfile.TemporaryDirectory() as tmp:
            fr.setup_db(tmp)
            start = fr.default_start(tmp, 0, 1, "lockstep")
            out = fr.run(tmp, {0: start}, {0: fr.make_ops(0, 5)}, close_stdin_after_go=True)
            self.assertEqual(out["exit"][0], 6)
            self.assertEqual(out["records"], [])

    def test_wrong_protocol_version_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            fr.setup_db(tmp)
            start = fr.default_start(tmp, 0, 1, protocol=2)
            out = fr.run(tmp, {0: start}, {0: fr.make_ops(0, 2)})
            self.assertEqual(out["exit"][0], 2)
            self.assertIn("protocol version mismatch", out["fatal"][0]["message"])

    def test_stray_print_goes_to_stderr(self):
        with tempfile.TemporaryDirectory() as tmp:
            script = os.path.join(tmp, "printing_worker.py")
            with open(script, "w") as f:
                f.write("import sys; sys.path.insert(0, %r)\n" % fr.ADAPTER)
                f.write("import kanban_worker, walburst_worker\n")
                f.write("orig = kanban_worker.OPS['create_task']\n")
                f.write("def noisy(op, a):\n    print('hello from the app')\n"
                        "    return orig(op, a)\n")
                f.write("kanban_worker.OPS['create_task'] = noisy\n")
                f.write("walburst_worker.serve(kanban_worker.OPS, open=kanban_worker.open_early)\n")
            fr.setup_db(tmp)
            out = fr.run(tmp, {0: fr.default_start(tmp, 0, 1)}, {0: fr.make_ops(0, 3)},
                         argv=[sys.executable, script])
            self.assertEqual(out["garbage"], [])
            self.assertEqual(len(out["records"]), 3)
            self.assertIn("hello from the app", out["stderr"][0])


class ReaderHolds(unittest.TestCase):
    def test_holds_are_drawn_from_the_seed(self):
        """A reader's holds between its reads come from the run's seed, worker, actor and
        op: the same seed holds alike, another seed does not (a free run repeats with its
        seed). In a child process (importing the adapter installs its gate), on a real
        database, with the sleeps recorded instead of slept."""
        import json
        import subprocess
        script = (
            "import json, sys, sqlite3, time\n"
            "sys.path.insert(0, %r)\n"
            "import kanban_worker as kw\n"
            "slept = []\n"
            "time.sleep = slept.append\n"
            "class Actor:\n"
            "    def __init__(self, seed):\n"
            "        self.start, self.worker, self.index = {'seed': seed}, 1, 0\n"
            "        self.workload = {'reader_hold_ms': [1, 20]}\n"
            "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "out = {}\n"
            "for name, seed in [('a', 3), ('b', 3), ('c', 4)]:\n"
            "    del slept[:]\n"
            "    kw.snapshot(conn, None, {'seq': 5}, Actor(seed))\n"
            "    out[name] = list(slept)\n"
            "print(json.dumps(out))\n" % fr.ADAPTER)
        with tempfile.TemporaryDirectory() as tmp:
            fr.setup_db(tmp)
            db = os.path.join(tmp, "db", "kanban.db")
            got = json.loads(subprocess.run([sys.executable, "-c", script, db], check=True,
                                            capture_output=True, text=True).stdout)
        self.assertEqual(len(got["a"]), 2, got)  # three reads, a hold between each two
        self.assertTrue(all(0.001 <= s <= 0.020 for s in got["a"]), got)
        self.assertEqual(got["a"], got["b"])
        self.assertNotEqual(got["a"], got["c"])


if __name__ == "__main__":
    unittest.main()
