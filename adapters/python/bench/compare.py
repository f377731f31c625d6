#!/usr/bin/env python3
"""Measures the protocol's cost: the Python example worker run by walburst under a global
flock (python-global-lock.toml) against plain_loop.py doing the same SQL under the same
lock, alternating, PAIRS times, and prints commits/s of both and their ratio.

    compare.py WALBURST_BINARY [PAIRS] [WORKERS] [OPS]

Both sides count from the start barrier's release to the last commit's end.
"""

import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import kanban_app  # noqa: E402


def walburst_once(binary, workers, ops, out_dir):
    before = set(os.listdir(out_dir))
    subprocess.run([binary, "run", os.path.join(HERE, "python-global-lock.toml"),
                    "--workers", str(workers), "--ops", str(ops), "--out", out_dir],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    new = sorted(set(os.listdir(out_dir)) - before)
    if len(new) != 1:
        raise RuntimeError("walburst wrote %d reports" % len(new))
    with open(os.path.join(out_dir, new[0])) as f:
        rep = json.load(f)
    if rep["verdict"] != "pass":
        raise RuntimeError("the walburst run did not pass: %s" % new[0])
    return rep["totals"]["commits_per_sec"], rep["totals"]["committed"]


def plain_once(workers, ops):
    tmp = tempfile.mkdtemp(prefix="walburst-plain-")
    try:
        db = os.path.join(tmp, "kanban.db")
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL").fetchone()
        conn.executescript("BEGIN IMMEDIATE;" + kanban_app.SCHEMA + "COMMIT;")
        conn.close()
        procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "plain_loop.py"), db,
                                   str(w), str(ops)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
                 for w in range(workers)]
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("plain loop did not get ready")
        t_go = time.monotonic_ns()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        ends, commits = [], 0
        for p in procs:
            _, t1, n = map(int, p.stdout.readline().split())
            ends.append(t1)
            commits += n
            p.wait(timeout=600)
        return commits / ((max(ends) - t_go) / 1e9), commits
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    binary = sys.argv[1]
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    ops = int(sys.argv[4]) if len(sys.argv) > 4 else 220
    out_dir = tempfile.mkdtemp(prefix="walburst-bench-reports-")
    rows = []
    try:
        for i in range(pairs):
            w, wn = walburst_once(binary, workers, ops, out_dir)
            p, pn = plain_once(workers, ops)
            rows.append((w, p))
            print("pair %d: walburst+python %.0f commits/s (%d), plain loop %.0f commits/s (%d),"
                  " ratio %.3f" % (i + 1, w, wn, p, pn, w / p), flush=True)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    wm = statistics.median(r[0] for r in rows)
    pm = statistics.median(r[1] for r in rows)
    print("median: walburst+python %.0f commits/s, plain loop %.0f commits/s, ratio %.3f"
          % (wm, pm, wm / pm))


if __name__ == "__main__":
    main()
