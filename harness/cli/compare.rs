//! `walburst compare`: runs the comparison the arguments describe and maps its outcome to an
//! exit code.

use super::args::CompareArgs;
use crate::compare::{Output, execute, prepare};
use crate::error::Chain;
use crate::exit::{EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, EXIT_USAGE};
use crate::reporter::Console;

/// `walburst compare`: exit 0 when every run passed, 1 when one failed or could not be
/// carried out, 2 on bad input (nothing written), 130 when interrupted (the runs done so far
/// are compared and written; the run in progress stopped, its evidence kept).
pub fn command(a: CompareArgs) -> i32 {
    let a: crate::compare::CompareRequest = a.into();
    let prepared = match prepare(&a) {
        Ok(p) => p,
        Err(msg) => {
            errln!("error: {}", Chain(&msg));
            return EXIT_USAGE;
        }
    };
    if let Err(m) =
        crate::report::outputs::check_run_dirs(&a.output.out, a.output.work_dir.as_deref())
    {
        errln!("error: {}", Chain(&m));
        return EXIT_USAGE;
    }
    let worker_exe = match crate::exit::worker_exe(None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let out = Output {
        out_dir: a.output.out,
        work_dir: a.output.work_dir,
        keep: a.output.keep,
        worker_exe,
    };
    let mut console = Console::new(false);
    crate::signals::install_interrupt_handler();
    let releases: Vec<Option<crate::releases::SqliteVersion>> = if a.sqlite.is_empty() {
        vec![None]
    } else {
        a.sqlite.iter().copied().map(Some).collect()
    };
    let mut code = EXIT_PASS;
    let mut verdicts = Vec::new();
    for release in releases {
        let mut p = prepared.clone();
        if release.is_some() {
            p.base.sqlite.version = release;
        }
        let (c, line) = compare_once(&p, &out, &mut console);
        code = code.max(c);
        if let Some(v) = release {
            verdicts.push(format!("  SQLite {v}: {line}"));
        }
        if crate::signals::interrupted() {
            break;
        }
    }
    if !verdicts.is_empty() {
        console.line("side by side:");
        for v in verdicts {
            console.line(&v);
        }
    }
    if crate::signals::interrupted() {
        return EXIT_INTERRUPTED;
    }
    code
}

/// One comparison; returns its exit code and verdict line.
fn compare_once(
    p: &crate::compare::Prepared,
    out: &Output,
    console: &mut Console,
) -> (i32, String) {
    match execute(p, out, console) {
        Ok(c) => {
            console.line("");
            console.line(c.table.trim_end());
            console.line(&format!("compare report: {}", c.json_path.display()));
            console.line(&format!("chart: {}", c.svg_path.display()));
            match &c.page {
                Ok(p) => console.line(&format!("page: {}", p.display())),
                Err(e) => console.line(&format!(
                    "note: the compare page could not be drawn: {}",
                    Chain(e)
                )),
            }
            let failed = c
                .report
                .runs
                .iter()
                .filter(|r| r.verdict != crate::compare::RunVerdict::Pass)
                .count();
            let done = c.report.runs.len();
            let (code, line) = if crate::signals::interrupted() {
                (
                    EXIT_INTERRUPTED,
                    format!(
                        "INTERRUPTED compare {}: stopped after {done} runs ({failed} did not pass, the last one was interrupted); nothing is concluded",
                        c.report.scenario
                    ),
                )
            } else if failed == 0 {
                (
                    EXIT_PASS,
                    format!(
                        "PASS compare {}: {} runs passed",
                        c.report.scenario,
                        c.report.runs.len()
                    ),
                )
            } else {
                (
                    EXIT_FAIL,
                    format!(
                        "FAIL compare {}: {failed} of {} runs did not pass (see above and {})",
                        c.report.scenario,
                        c.report.runs.len(),
                        c.json_path.display()
                    ),
                )
            };
            console.line(&line);
            (
                code,
                format!("{line}; compare report: {}", c.json_path.display()),
            )
        }
        Err(e) => {
            let line = format!(
                "error: the comparison could not be carried out: {}",
                Chain(&*e)
            );
            errln!("{line}");
            (EXIT_FAIL, line)
        }
    }
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;
