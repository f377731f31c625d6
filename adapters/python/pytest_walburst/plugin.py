"""The pytest side: ``--walburst-seed``, ``--walburst-keep`` and the ``walburst`` fixture.

A test asks the fixture to run a scenario; a run that does not pass fails the test with the
verdict line, the primary failure, the command that reproduces it and the HTML page to open.
Each run's verdict, seed, reproduce command, report and page are recorded as properties of
the test (``user_properties``, what ``record_property`` fills), so they appear in pytest's
JUnit XML (``--junitxml``; testcase properties are only valid in the schema of
``junit_family = legacy`` or ``xunit1``, which readers such as CI test reporters accept
either way).
"""

from pathlib import Path
from typing import List, Optional, Sequence

import pytest

from .runner import Outcome, Scenario, WalburstError, run_scenario


def pytest_addoption(parser):
    group = parser.getgroup("walburst", "walburst (seeded multi-process SQLite write bursts)")
    group.addoption(
        "--walburst-seed",
        type=int,
        default=None,
        metavar="N",
        help="run every walburst scenario with this seed instead of the one the test gives "
        "(or the scenario's own seeds)",
    )
    group.addoption(
        "--walburst-keep",
        action="store_true",
        default=False,
        help="keep every run directory (database, records, trace) under the test's tmp_path, "
        "passing runs too; failing runs always keep theirs",
    )


class Walburst:
    """The ``walburst`` fixture: ``walburst.run(scenario, seed=..., workers=..., ops=...)``."""

    def __init__(self, request, tmp_path: Path):
        self._request = request
        self._tmp = tmp_path
        self._calls = 0
        self.outcomes: List[Outcome] = []

    @property
    def seed_option(self) -> Optional[int]:
        return self._request.config.getoption("walburst_seed")

    @property
    def keep(self) -> bool:
        return bool(self._request.config.getoption("walburst_keep"))

    def run(
        self,
        scenario: Scenario,
        *,
        seed: Optional[int] = None,
        workers: Optional[int] = None,
        ops: Optional[int] = None,
        mode: Optional[str] = None,
        args: Sequence[str] = (),
        check: bool = True,
        timeout: Optional[float] = None,
    ) -> Outcome:
        """Runs ``scenario`` (a shipped name, or a scenario file; a relative file is looked
        up beside the test file first) and returns the :class:`Outcome`. With ``check``
        (the default) a run that does not pass fails the test; ``check=False`` hands the
        outcome back instead (a negative control asserts ``not outcome.passed`` itself).
        ``--walburst-seed`` on the command line overrides ``seed``."""
        self._calls += 1
        base = self._tmp / f"walburst-{self._calls}"
        if self.seed_option is not None:
            seed = self.seed_option
        try:
            outcome = run_scenario(
                self._resolve(scenario),
                out_dir=base / "reports",
                work_dir=base / "runs",
                seed=seed,
                workers=workers,
                ops=ops,
                mode=mode,
                keep=self.keep,
                args=args,
                timeout=timeout,
            )
        except WalburstError as e:
            pytest.fail(str(e), pytrace=False)
        self.outcomes.append(outcome)
        # As record_property does, without its fixture's warning under xunit2 at every use.
        record = self._request.node.user_properties.append
        for r in outcome.runs:
            record(("walburst_verdict", r.verdict_line))
            record(("walburst_seed", r.seed))
            record(("walburst_reproduce", r.reproduce))
            record(("walburst_report", str(r.report_path)))
            if r.page:
                record(("walburst_page", str(r.page)))
        if check and not outcome.passed:
            pytest.fail(outcome.explain(), pytrace=False)
        return outcome

    def _resolve(self, scenario: Scenario) -> str:
        spec = str(scenario)
        file, sep, case = spec.partition("#")
        if "/" not in file and not file.endswith(".toml"):
            return spec  # a shipped name (`walburst list`), perhaps with #CASE
        path = Path(file)
        if not path.is_absolute() and not path.exists():
            beside = Path(str(self._request.node.path)).parent / path
            if beside.exists():
                path = beside
        return f"{path}{sep}{case}"


@pytest.fixture
def walburst(request, tmp_path) -> Walburst:
    """Runs walburst scenarios; a run that does not pass fails the test with its verdict
    line, primary failure, reproduce command and HTML page."""
    return Walburst(request, tmp_path)
