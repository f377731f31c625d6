"""The pytest plugin under pytest itself: each test writes a test file, runs pytest on it in a
subprocess (pytester) and reads what pytest printed and wrote. The runs are real walburst
runs of shipped scenarios, scaled down to a fraction of a second.

Needs the walburst package installed in the interpreter that runs it (the plugin is found
through its pytest11 entry point, the binary beside the interpreter):

    pip install ./adapters/python pytest
    pytest adapters/python/plugin_tests

tests/python_package.rs does exactly this in a fresh venv.
"""

import xml.etree.ElementTree as ET
from pathlib import Path

pytest_plugins = ["pytester"]


def properties(junit: Path):
    """(name, value) of every JUnit property, in order."""
    root = ET.parse(junit).getroot()
    return [(p.get("name"), p.get("value")) for p in root.iter("property")]


def test_a_passing_run_passes_and_lands_in_junit_properties(pytester):
    pytester.makepyfile(
        test_smoke="""
        def test_smoke(walburst):
            outcome = walburst.run("smoke", seed=2, workers=2, ops=10)
            assert outcome.passed and [r.seed for r in outcome.runs] == [2]
        """
    )
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(f"--junitxml={junit}")
    result.assert_outcomes(passed=1)
    props = dict(properties(junit))
    assert props["walburst_verdict"].startswith("PASS smoke seed=2: "), props
    assert props["walburst_seed"] == "2"
    assert props["walburst_reproduce"] == "walburst run smoke --seed 2 --workers 2 --ops 10"
    assert Path(props["walburst_report"]).is_file()
    assert props["walburst_page"].endswith(".html") and Path(props["walburst_page"]).is_file()


def test_a_failing_run_fails_the_test_with_verdict_failure_reproduce_and_page(pytester):
    # truncated-db cuts the database by a page after the burst: integrity must fail.
    pytester.makepyfile(
        test_damage="""
        def test_damage(walburst):
            walburst.run("truncated-db", seed=1, workers=2, ops=10)
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*FAIL truncated-db seed=1: *integrity DAMAGED*",
            "*primary failure: integrity: integrity_check: *(detector integrity_check; * more in the report)",
            "*reproduce: walburst run truncated-db --seed 1 --workers 2 --ops 10",
            "*page: *truncated-db-s1-*.html",
            "*run directory kept: *",
            "*walburst exited 1 (a run failed)",
        ]
    )
    # pytest's short summary (a failure's first line) is the verdict line.
    result.stdout.fnmatch_lines(["FAILED test_damage.py::test_damage - Failed: FAIL truncated-db seed=1: *"])
    # The failure is the plugin's message, not a Python traceback into the plugin.
    assert "pytest_walburst" not in out, out
    page = next(ln for ln in out.splitlines() if "page: " in ln).split("page: ", 1)[1].strip()
    assert Path(page).is_file(), page


def test_check_false_hands_back_the_outcome_of_a_negative_control(pytester):
    pytester.makepyfile(
        test_control="""
        def test_control(walburst):
            outcome = walburst.run("truncated-db", seed=1, workers=2, ops=10, check=False)
            assert not outcome.passed and outcome.returncode == 1
            (run,) = outcome.runs
            assert run.report["failures"][0]["category"] == "integrity"
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_walburst_seed_overrides_the_tests_seed_and_keep_keeps_the_run_directory(pytester):
    pytester.makepyfile(
        test_seed="""
        import os

        def test_seed(walburst, pytestconfig):
            (run,) = walburst.run("smoke", seed=2, workers=2, ops=10).runs
            assert run.seed == 5
            kept = pytestconfig.getoption("walburst_keep")
            assert (run.run_dir is not None and os.path.isdir(run.run_dir)) == kept
        """
    )
    pytester.runpytest_subprocess("--walburst-seed", "5", "--walburst-keep").assert_outcomes(
        passed=1
    )
    pytester.runpytest_subprocess("--walburst-seed", "5").assert_outcomes(passed=1)


def test_bad_input_fails_with_walbursts_own_words(pytester):
    pytester.makepyfile(
        test_bad="""
        def test_bad(walburst):
            walburst.run("smoke", workers=0)
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*walburst exited 2 (bad usage or input, nothing was run)", "*error: *workers*"]
    )


def test_a_relative_scenario_file_is_found_beside_the_test(pytester):
    pytester.mkdir("sub")
    (pytester.path / "sub" / "tiny.toml").write_text(
        'name = "tiny"\nseeds = [3]\n[workload]\nworkers = 2\nops_per_worker = 5\n'
    )
    (pytester.path / "sub" / "test_tiny.py").write_text(
        "def test_tiny(walburst):\n"
        "    (run,) = walburst.run('tiny.toml').runs\n"
        "    assert run.scenario == 'tiny' and run.seed == 3\n"
    )
    pytester.runpytest_subprocess("sub").assert_outcomes(passed=1)


def test_a_run_past_its_timeout_fails_the_test_and_says_so(pytester):
    # A worker that never says hello, and a start deadline far past the test's timeout:
    # the run cannot end before the timeout, whatever the machine's speed.
    pytester.makefile(
        ".toml",
        stuck="""
        name = "stuck"
        seeds = [1]
        [worker]
        command = ["python3", "-c", "import time; time.sleep(600)"]
        [limits]
        start_timeout_secs = 600
        [workload]
        workers = 1
        ops_per_worker = 1
        """,
    )
    pytester.makepyfile(
        test_stuck="""
        def test_stuck(walburst):
            walburst.run("stuck.toml", timeout=1)
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*walburst did not finish within 1 s and was killed*"])


def test_the_primary_failure_is_the_one_the_verdict_line_names():
    from pytest_walburst import Run

    report = {
        "verdict": "fail",
        "seed": 1,
        "failures": [
            {"category": "unreadable", "detector": "ledger", "message": "unreadable: ledger"},
            {"category": "integrity", "detector": "integrity_check", "message": "integrity: bad"},
        ],
        "liveness": [],
    }
    named = "FAIL x seed=1: ... (false 0, real 0) [integrity/integrity_check: integrity: b...]; reproduce: walburst run x --seed 1"
    assert Run(Path("x.json"), report, named).primary_failure == (
        "integrity: bad (detector integrity_check; 1 more in the report)"
    )
    # A verdict line without the mark (an older walburst): the first failure.
    plain = "FAIL x seed=1: ...; reproduce: walburst run x --seed 1"
    assert Run(Path("x.json"), report, plain).primary_failure.startswith("unreadable: ledger")
