//! JUnit XML (via `quick-junit`): one testsuite for the regression corpus, one per base
//! scenario, one testcase per (case, seed). A failure's message holds the first reason and
//! the reproduce command; its body all reasons, the command and the report's path.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::summary::{PairKind, Status, Summary};

/// The most of a run's output kept in `system-out`.
const MAX_OUTPUT: usize = 16 * 1024;

pub fn build(summary: &Summary) -> Report {
    let mut suites: Vec<(String, TestSuite)> = Vec::new();
    for e in &summary.results {
        let suite_name = match e.pair.kind {
            PairKind::Regression => "regressions".to_string(),
            PairKind::Sweep => e.pair.suite.clone(),
        };
        let status = match e.result.status {
            Status::Pass => TestCaseStatus::success(),
            other => {
                let kind = if other == Status::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut st = TestCaseStatus::non_success(kind);
                let first = e.result.reasons.first().map_or("failed", String::as_str);
                st.set_message(format!("{first}; reproduce: {}", e.pair.reproduce));
                st.set_type(match other {
                    Status::Fail => "walburst.fail",
                    Status::Error => "walburst.error",
                    _ => "walburst.not-run",
                });
                let mut body: Vec<String> =
                    e.result.reasons.iter().map(|r| format!("- {r}")).collect();
                body.push(format!("reproduce: {}", e.pair.reproduce));
                if let Some(r) = &e.result.report {
                    body.push(format!("report: {}", r.display()));
                }
                if let Some(d) = &e.result.run_dir {
                    body.push(format!("run directory kept: {}", d.display()));
                }
                if let Some(n) = &e.pair.note {
                    body.push(format!("regression note: {n}"));
                }
                st.set_description(body.join("\n"));
                st
            }
        };
        let mut tc = TestCase::new(e.pair.name.clone(), status);
        tc.set_classname(e.pair.case.clone());
        tc.set_time(Duration::from_secs_f64(e.result.wall_secs.max(0.0)));
        if !e.result.output.is_empty() {
            let out = &e.result.output;
            let start = out.len().saturating_sub(MAX_OUTPUT);
            let start = (start..=out.len())
                .find(|&i| out.is_char_boundary(i))
                .unwrap_or(out.len());
            tc.set_system_out(&out[start..]);
        }
        tc.add_property(Property::new("seed", e.pair.seed.to_string()));
        tc.add_property(Property::new("reproduce", e.pair.reproduce.as_str()));
        if let Some(shard) = e.shard {
            tc.add_property(Property::new("shard", shard.to_string()));
        }
        match suites.iter_mut().find(|(n, _)| *n == suite_name) {
            Some((_, s)) => {
                s.add_test_case(tc);
            }
            None => {
                let mut s = TestSuite::new(suite_name.clone());
                s.add_test_case(tc);
                suites.push((suite_name, s));
            }
        }
    }
    let mut report = Report::new("walburst");
    report.set_time(Duration::from_secs_f64(summary.wall_secs.max(0.0)));
    report.add_test_suites(suites.into_iter().map(|(_, s)| s));
    report
}

pub fn write(summary: &Summary, path: &Path) -> Result<(), crate::report::WriteError> {
    let xml = build(summary)
        .to_string()
        .map_err(|e| crate::report::WriteError {
            doing: "serialize the JUnit XML for",
            path: path.to_path_buf(),
            error: std::io::Error::other(e),
        })?;
    crate::report::write_atomic(path, xml.as_bytes())
}
