"""walburst as a pytest plugin: the ``walburst`` fixture and ``--walburst-*`` options.

Installed with the ``walburst`` package (``pip install ./adapters/python``) and loaded by
pytest through its ``pytest11`` entry point. It is a separate package from
``walburst_worker`` on purpose: importing ``walburst_worker`` gates ``sqlite3.connect`` in
the importing process, which a test session must never get by merely having pytest
installed.
"""

from .runner import Outcome, Run, RunTimedOut, WalburstError, find_walburst, run_scenario

__all__ = ["Outcome", "Run", "RunTimedOut", "WalburstError", "find_walburst", "run_scenario"]
