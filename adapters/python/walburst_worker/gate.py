"""The lockstep gate and the gated connection factory: what importing ``walburst_worker``
puts in place (:func:`install`).

Importing ``walburst_worker`` replaces ``sqlite3.connect`` with a function that opens
every connection with a :class:`GatedConnection` factory (mixed into the app's own factory
if it passes one), so the statements an unmodified app issues through connections it opens
itself pass the gate: ``execute``/``executemany``/``executescript``, ``cursor().execute``,
``commit``, ``rollback`` and ``close``. The gate also watches what those statements do for
the op in flight (BEGIN/COMMIT times, BUSY events by extended code, whether COMMIT
returned OK), which is how an op record is built without the app's cooperation.

In free mode the gate only watches. In lockstep (``"mode":"lockstep"``) every action of an
actor thread is one step: ``want`` -> wait for ``grant`` -> run -> ``did``. There SQLite
never waits (``busy_timeout`` is forced to 0), and a statement turned away with BUSY is
retried by the gate as a new step, standing in for SQLite's busy handler exactly as
walburst's own worker does. ``fcntl.flock`` becomes one non-blocking attempt per step and
``time.sleep`` does nothing in actor threads (in lockstep only steps order events).

The gate is split by job: :mod:`.steps` (the gate, its ops and the step handshake, the
kills), :mod:`.sql` (classifying SQL text), :mod:`.connection` (the gated connection,
cursor and ``connect``) and :mod:`.flock` (the gated ``fcntl.flock``). This module puts
them in place (:func:`install`) and keeps every name importable from
``walburst_worker.gate``, where the adapter's other modules and its tests import them.
"""

import fcntl
import sqlite3
import time

from .connection import (GatedConnection, GatedConnectionMixin, GatedCursor,  # noqa: F401
                         GatedCursorMixin, gated_connect)
from .flock import gated_flock, lock_name  # noqa: F401
from .sql import classify, script_kind, split_script  # noqa: F401
from .steps import (GATE, ActorState, Gate, OpContext, _original_connect,  # noqa: F401
                    _original_flock, _original_sleep, _tls, as_step, describe_sql,
                    gated_sleep)


def install():
    """Puts the gated factory, flock and sleep in place; idempotent."""
    sqlite3.connect = gated_connect
    sqlite3.dbapi2.connect = gated_connect
    fcntl.flock = gated_flock
    time.sleep = gated_sleep
