"""The wire side of the walburst worker protocol (version 1): JSON lines on the pipes.

The runner writes to our stdin (``start``, ``go``, ``grant``); we write to the pipe it
gave us as stdout (``hello``, ``ready``, ``op``, ``want``/``did``, ``done``...). The
channel keeps that pipe private: file descriptor 1 is pointed at stderr once the channel
owns the pipe, so that a stray ``print`` in the app under test lands in the worker's
stderr file instead of breaking the protocol.
"""

import json
import os
import sys
import threading
import time

PROTOCOL_VERSION = 1
IMPLEMENTATION = "walburst-python 0.1"

# Records are buffered and flushed at most this often (the runner's watchdog still sees
# a stalled worker's last records); lockstep and barrier messages are flushed at once.
FLUSH_EVERY_S = 0.2
# The runner refuses worker lines longer than this.
MAX_LINE_BYTES = 1 << 20


class Channel:
    """One writer for the whole process; every thread's messages go through it."""

    def __init__(self, out_fd=None, in_stream=None):
        if out_fd is None:
            sys.stdout.flush()
            out_fd = os.dup(1)
            # From now on whatever the app prints goes to stderr, not into the protocol.
            os.dup2(2, 1)
        self._out = os.fdopen(out_fd, "wb", buffering=1 << 16)
        self._in = in_stream if in_stream is not None else sys.stdin.buffer
        self._lock = threading.Lock()
        # Runs with a kill or power-loss ``[io]`` point (``start.io``): every record goes out
        # at once, because the process dies inside SQLite with no chance to flush; a commit
        # the runner never heard of is not acknowledged (and a successor would run it again).
        self.flush_each = False
        self._last_flush = time.monotonic()
        self._flusher = threading.Thread(target=self._flush_loop, daemon=True)
        self._flusher.start()

    def _flush_loop(self):
        while True:
            time.sleep(FLUSH_EVERY_S)
            with self._lock:
                self._flush_locked()

    def _flush_locked(self):
        try:
            self._out.flush()
        except (BrokenPipeError, OSError, ValueError):
            # The runner is gone: nobody is left to report to.
            os._exit(3)
        self._last_flush = time.monotonic()

    def send(self, msg, flush=False):
        line = json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(line) >= MAX_LINE_BYTES:
            line = json.dumps(
                {"msg": "fatal", "worker": msg.get("worker"),
                 "message": "a %s message of %d bytes exceeds the 1 MiB line cap"
                 % (msg.get("msg"), len(line))}).encode("utf-8")
            flush = True
        with self._lock:
            try:
                self._out.write(line + b"\n")
            except (BrokenPipeError, OSError, ValueError):
                os._exit(3)
            if flush or self.flush_each or time.monotonic() - self._last_flush >= FLUSH_EVERY_S:
                self._flush_locked()

    def last_words(self, msg, then):
        """Writes and flushes ``msg``, then calls ``then`` (which must end the process) while
        still holding the stream: no other thread writes a line after it, so every other
        actor has at most one op past its last record (PROTOCOL.md, "Seeded kills")."""
        line = json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        with self._lock:
            try:
                self._out.write(line + b"\n")
            except (BrokenPipeError, OSError, ValueError):
                os._exit(3)
            self._flush_locked()
            then()

    def flush(self):
        with self._lock:
            self._flush_locked()

    def read(self):
        """The next message from the runner, or ``None`` at EOF."""
        while True:
            line = self._in.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                # The draft's text form (`go`, `grant 3`) is accepted too.
                parts = line.decode("utf-8", "replace").split()
                msg = {"msg": parts[0]}
                if parts[0] == "grant" and len(parts) > 1:
                    msg["actor"] = int(parts[1])
            if isinstance(msg, dict) and "msg" in msg:
                return msg
            sys.stderr.write("walburst-python: ignoring runner line %r\n" % line[:200])


def monotonic_ns():
    """CLOCK_MONOTONIC in nanoseconds: the runner reads the same clock."""
    return time.monotonic_ns()


def read_ops(path):
    """The worker's ops, in order, from the JSON-lines file the runner wrote."""
    ops = []
    with open(path, "r", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                ops.append(json.loads(line))
            except ValueError as e:
                raise ValueError("%s line %d is not JSON: %s" % (path, n, e)) from e
    return ops
