"""Run ``walburst run`` as a subprocess and read back what it wrote (no pytest here).

The fixture in ``plugin.py`` is a thin layer over :func:`run_scenario`; keeping this part
free of pytest lets a plain script or another test runner use it too.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Union

# How a failing verdict line names its primary failure: `... [category/detector: text]; reproduce: ...`.
_PRIMARY = re.compile(r" \[([a-z0-9_-]+)/([a-z0-9_-]+): ")

# `walburst run`'s exit statuses (README.md, "Two commands").
EXIT_MEANING = {
    0: "every run passed",
    1: "a run failed",
    2: "bad usage or input, nothing was run",
    3: "a run ended but its report could not be written",
    130: "interrupted",
}


class WalburstError(Exception):
    """walburst could not be found or started: an error of the test set-up, never a verdict."""


class RunTimedOut(WalburstError):
    """The ``timeout`` given to :func:`run_scenario` passed before walburst exited."""


def find_walburst() -> str:
    """The walburst executable: ``$WALBURST_BIN``, else the one this package installed beside
    the running interpreter (a venv's ``bin/``, which need not be on ``PATH``), else the
    first ``walburst`` on ``PATH``."""
    given = os.environ.get("WALBURST_BIN")
    if given:
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            raise WalburstError(f"WALBURST_BIN={given} is not an executable file")
        return given
    schemes = [sysconfig.get_path("scripts")]
    try:
        schemes.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:
        pass
    for scripts in schemes:
        candidate = os.path.join(scripts, "walburst")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("walburst")
    if found:
        return found
    raise WalburstError(
        "the walburst executable was not found: not beside this interpreter "
        f"({sys.executable}), not on PATH, and WALBURST_BIN is unset. "
        "Install it with `pip install ./adapters/python` (from a walburst checkout), or set "
        "WALBURST_BIN to a built binary (target/release/walburst)."
    )


@dataclass
class Run:
    """One (scenario, seed) that walburst ran and reported."""

    report_path: Path
    report: dict
    verdict_line: str

    @property
    def verdict(self) -> str:
        return self.report.get("verdict", "unknown")

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def seed(self) -> int:
        return self.report.get("seed")

    @property
    def scenario(self) -> str:
        return self.report.get("scenario", {}).get("name", "?")

    @property
    def reproduce(self) -> str:
        return self.report.get("reproduce", "")

    @property
    def page(self) -> Optional[Path]:
        """The HTML page beside the report, when it was drawn."""
        p = self.report_path.with_suffix(".html")
        return p if p.is_file() else None

    @property
    def run_dir(self) -> Optional[str]:
        return self.report.get("run_dir")

    @property
    def primary_failure(self) -> Optional[str]:
        """The failure walburst names as the cause (the ``[category/detector: ...]`` of its
        verdict line), in full from the report; without that mark, the first safety failure
        (else the first liveness failure)."""
        every = list(self.report.get("failures") or []) + list(self.report.get("liveness") or [])
        if not every:
            return None
        named = _PRIMARY.search(self.verdict_line)
        chosen = every[0]
        if named:
            chosen = next(
                (f for f in every
                 if (f.get("category"), f.get("detector")) == (named.group(1), named.group(2))),
                chosen,
            )
        more = len(every) - 1
        also = f"; {more} more in the report" if more else ""
        return f"{chosen.get('message')} (detector {chosen.get('detector')}{also})"


@dataclass
class Outcome:
    """What one ``walburst run`` invocation did: its exit status, and one :class:`Run` per
    report it wrote."""

    argv: List[str]
    returncode: int
    stdout: str
    stderr: str
    runs: List[Run] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and bool(self.runs) and all(r.passed for r in self.runs)

    def explain(self) -> str:
        """Why it did not pass, in the order a reader needs: verdict line, primary failure,
        the command that reproduces it, the page to open."""
        meaning = EXIT_MEANING.get(self.returncode, "unexpected exit status")
        # The verdict line first: pytest's short summary shows a failure's first line.
        lines = []
        for r in self.runs:
            if r.passed:
                continue
            lines.append(r.verdict_line)
            if r.primary_failure:
                lines.append(f"primary failure: {r.primary_failure}")
            lines.append(f"reproduce: {r.reproduce}")
            lines.append(f"page: {r.page if r.page else '(not drawn)'}")
            lines.append(f"report: {r.report_path}")
            if r.run_dir:
                lines.append(f"run directory kept: {r.run_dir}")
        if not self.runs or self.returncode not in (0, 1):
            # No report to explain it (bad input, a run that could not be carried out):
            # walburst's own words are the explanation.
            said = [ln for ln in (self.stderr.strip(), _fail_lines(self.stdout)) if ln]
            lines.extend(said or ["(walburst printed nothing)"])
            lines.append("command: " + " ".join(_quote(a) for a in self.argv))
        exited = f"walburst exited {self.returncode} ({meaning})"
        return "\n".join([exited] + lines if not lines or not self.runs else lines + [exited])


Scenario = Union[str, "os.PathLike[str]"]


def run_scenario(
    scenario: Scenario,
    *,
    out_dir: Path,
    seed: Optional[int] = None,
    workers: Optional[int] = None,
    ops: Optional[int] = None,
    mode: Optional[str] = None,
    keep: bool = False,
    work_dir: Optional[Path] = None,
    args: Sequence[str] = (),
    walburst: Optional[str] = None,
    timeout: Optional[float] = None,
) -> Outcome:
    """Runs ``walburst run SCENARIO`` and returns its :class:`Outcome`.

    ``scenario`` is a shipped name (``walburst list``) or a scenario file. ``out_dir`` must
    be empty or new: every report found in it afterwards is this call's. The running
    interpreter's directory goes first on ``PATH``, so a scenario whose worker command is
    ``python3 ...`` runs on the interpreter running the tests (where ``walburst_worker`` is
    installed), not on whichever ``python3`` the shell would find.
    """
    exe = walburst or find_walburst()
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"out_dir {out_dir} is not empty: its reports would be mixed up")
    argv = [exe, "run", os.fspath(scenario), "--out", str(out_dir)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if ops is not None:
        argv += ["--ops", str(ops)]
    if mode is not None:
        argv += ["--mode", mode]
    if keep:
        argv.append("--keep")
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        argv += ["--work-dir", str(work_dir)]
    argv += list(args)
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    try:
        p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    except FileNotFoundError as e:
        raise WalburstError(f"cannot start {exe}: {e}") from e
    except subprocess.TimeoutExpired as e:
        # subprocess.run killed walburst; its workers die with it (a parent-death signal).
        raise RunTimedOut(
            f"walburst did not finish within {timeout} s and was killed; nothing is concluded "
            f"about the app. command: {' '.join(_quote(a) for a in argv)}"
        ) from e
    outcome = Outcome(argv=argv, returncode=p.returncode, stdout=p.stdout, stderr=p.stderr)
    outcome.runs = _read_runs(out_dir, p.stdout)
    return outcome


def _read_runs(out_dir: Path, stdout: str) -> List[Run]:
    runs = []
    if not out_dir.is_dir():
        return runs
    for path in sorted(out_dir.rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        # Sweeps also write summaries: a run report is the one with a verdict and a seed.
        if not isinstance(data, dict) or "verdict" not in data or "seed" not in data:
            continue
        runs.append(Run(path, data, _verdict_line(stdout, data)))
    runs.sort(key=lambda r: (r.report.get("started_at", ""), str(r.report_path)))
    return runs


def _verdict_line(stdout: str, report: dict) -> str:
    """The console's one-line verdict for this report (`FAIL name seed=N: ...`)."""
    word = str(report.get("verdict", "")).upper()
    name = report.get("scenario", {}).get("name", "")
    head = f"{word} {name} seed={report.get('seed')}:"
    for line in stdout.splitlines():
        if line.startswith(head):
            return line
    return f"{head} (see the report)"


def _fail_lines(stdout: str) -> str:
    return "\n".join(ln for ln in stdout.splitlines() if ln.startswith(("FAIL ", "error:")))


def _quote(a: str) -> str:
    return a if a and all(c.isalnum() or c in "-_./=:#,+@" for c in a) else repr(a)
