"""The example app (kanban_app/, through kanban_worker.py) under walburst, from pytest.

    pip install ./adapters/python pytest
    pytest adapters/python/examples          # add --walburst-seed N, --walburst-keep

The scenario is the shipped pr-45525 burst run through the Python app, scaled down to a
size that takes seconds. A run that does not pass fails the test with the verdict line,
the primary failure, the command that reproduces it and the HTML page to open.
"""

from pathlib import Path

SCENARIO = Path(__file__).resolve().parents[3] / "scenarios" / "python-pr-45525-burst.toml"


def test_kanban_app_commits_every_write_under_a_burst(walburst):
    outcome = walburst.run(SCENARIO, seed=7, workers=4, ops=20)
    (run,) = outcome.runs
    assert run.report["totals"]["committed"] == 4 * 20
