"""walburst's worker protocol for Python apps (standard library only, Python 3.9+).

Import this package before the app under test: importing it installs the gated
connection factory for ``sqlite3.connect`` (and lockstep-aware ``fcntl.flock`` and
``time.sleep``), so connections the app opens itself are seen and, in lockstep, gated.
See adapters/python/README.md.
"""

from .gate import GATE, as_step, classify, install
from .locks import TrackedLock, track_locks, track_new_locks
from .protocol import PROTOCOL_VERSION
from .worker import Actor, Nothing, guard_step, report_guard, serve

install()

__all__ = ["Actor", "GATE", "Nothing", "PROTOCOL_VERSION", "as_step", "classify",
           "guard_step", "install", "report_guard", "serve", "TrackedLock", "track_locks",
           "track_new_locks"]
