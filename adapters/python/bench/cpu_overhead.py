#!/usr/bin/env python3
"""The adapter's CPU cost per op, without the disk: the example app's create_task on a
tmpfs database at synchronous=OFF, with and without the gated connection (free mode), each
in its own interpreter, measured in process CPU time so that other load on the machine
does not count.

    cpu_overhead.py [OPS] [ROUNDS]
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import os, sys, time, sqlite3
sys.path.insert(0, {adapter!r})
if {gated!r}:
    import walburst_worker  # installs the gated sqlite3.connect
import kanban_app as app
db = {db!r}
c = sqlite3.connect(db, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL").fetchone()
c.executescript("BEGIN IMMEDIATE;" + app.SCHEMA + "COMMIT;")
c.close()
cfg = app.Config(db, synchronous="off", guard="none")
conn = app.connect(cfg)
t = time.process_time()
for seq in range({ops}):
    app.create_task(conn, cfg, 0, seq, 1000, "x" * 200)
print((time.process_time() - t) / {ops} * 1e6)
"""


def once(gated, ops):
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        code = CHILD.format(adapter=os.path.dirname(HERE), gated=gated,
                            db=os.path.join(tmp, "k.db"), ops=ops)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        return float(out.stdout)


def main():
    ops = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    plain, gated = [], []
    for _ in range(rounds):
        plain.append(once(False, ops))
        gated.append(once(True, ops))
    plain.sort()
    gated.sort()
    p, g = plain[rounds // 2], gated[rounds // 2]
    print("CPU per create_task (median of %d): plain %.1f us, gated %.1f us, "
          "gate overhead %.1f us per op" % (rounds, p, g, g - p))


if __name__ == "__main__":
    main()
