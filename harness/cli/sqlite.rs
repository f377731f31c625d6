//! `walburst sqlite list | prepare VERSION... | advise | known-bugs`: the SQLite releases
//! walburst can run on, and the known multi-process bugs by release.

use crate::run::event::{Reporter, RunEvent};
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};

use crate::error::Chain;
use crate::exit::{EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, EXIT_USAGE};
use crate::releases::advise::{self, VersionSource};
use crate::releases::{cache, known_bugs, origin, prepare, version};

#[derive(Debug, Args)]
pub struct SqliteArgs {
    #[command(subcommand)]
    pub command: SqliteCommand,
}

#[derive(Debug, Subcommand)]
pub enum SqliteCommand {
    /// The SQLite releases walburst can provide, which are prepared, and where.
    List,
    /// Build releases for `--sqlite` ahead of time (about 1-2 minutes each on 2 cores; needs
    /// the crate registry and walburst's source tree, and for a release from an npm package
    /// the npm registry, once: the tarball is kept and checked against its pinned
    /// integrity). Already prepared ones are kept.
    Prepare {
        /// Releases as listed by `walburst sqlite list`, e.g. 3.50.2.
        #[arg(value_name = "VERSION", required = true, value_delimiter = ',')]
        versions: Vec<String>,
    },
    /// Which known multi-process SQLite bugs affect a release, and the walburst command that
    /// shows each (the table: `walburst sqlite known-bugs`).
    ///
    /// The release comes from exactly one of: --version V; --python PY, which runs
    /// `PY -c 'import sqlite3;print(sqlite3.sqlite_version)'`; or a command after `--`,
    /// which must exit 0 within 60 s and print the SQLite version (3.MINOR.PATCH) on its
    /// standard output, e.g. `-- sqlite3 --version` (other numbers are ignored; two
    /// different 3.x.y versions are refused as ambiguous).
    ///
    /// Exit status: 0 no known bug affects it, 1 at least one does, 2 bad input (the flag
    /// is named: a malformed version, a command that cannot start, fails, or prints no
    /// version).
    #[command(group(ArgGroup::new("source").required(true).args(["version", "python", "command"])))]
    Advise {
        /// The SQLite release, e.g. 3.50.2 (any release, offered or not).
        #[arg(long, value_name = "V")]
        version: Option<version::SqliteVersion>,
        /// A Python interpreter whose `sqlite3` module's library to check, e.g. python3.
        #[arg(long, value_name = "PY")]
        python: Option<PathBuf>,
        /// A command that prints the SQLite version a program links (after `--`).
        #[arg(last = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
    /// The known multi-process SQLite bugs: affected releases, fix, the scenario that shows
    /// each, and the expected verdict on every offered release.
    ///
    /// With --measure, runs each bug's scenario on every offered release (or those --sqlite
    /// names; releases not yet prepared are prepared first, 1-2 minutes each), prints the
    /// measured verdicts beside the expected ones and writes `known-bugs-measured.json`
    /// into --out. Exit status: 0 every cell gave the table's verdict, 1 one did not (or
    /// could not be judged), 2 bad input, 130 interrupted.
    KnownBugs {
        /// Run the table instead of printing it.
        #[arg(long)]
        measure: bool,
        /// With --measure: only these releases, e.g. 3.51.1,3.51.3 (default: every offered one).
        #[arg(
            long,
            value_name = "VERSION",
            value_delimiter = ',',
            requires = "measure"
        )]
        sqlite: Vec<String>,
        /// With --measure: where each cell's reports, its log and the summary go.
        #[arg(
            long,
            value_name = "DIR",
            default_value = "reports/known-bugs",
            requires = "measure"
        )]
        out: PathBuf,
        /// With --measure: the longest one cell (one scenario on one release, its prepare
        /// included) may take before it is stopped and counted as an error.
        #[arg(long, value_name = "DURATION", default_value = "60m", value_parser = humantime::parse_duration, requires = "measure")]
        cell_timeout: std::time::Duration,
    },
    /// Internal: print this binary's SQLite (version, source id, origin) as JSON.
    #[command(hide = true)]
    Identity,
}

pub fn command(a: SqliteArgs) -> i32 {
    match a.command {
        SqliteCommand::List => list(),
        SqliteCommand::KnownBugs {
            measure: true,
            sqlite,
            out,
            cell_timeout,
        } => super::known_bugs_measure::command(super::known_bugs_measure::MeasureRequest {
            releases: sqlite,
            out,
            cell_timeout,
        }),
        SqliteCommand::KnownBugs { .. } => known_bugs_table(),
        SqliteCommand::Advise {
            version,
            python,
            command,
        } => {
            let source = match (version, python) {
                (Some(v), _) => VersionSource::Given(v),
                (None, Some(py)) => VersionSource::Python(py),
                (None, None) => VersionSource::Command(command),
            };
            advise_on(&source)
        }
        SqliteCommand::Identity => {
            outln!(
                "{}",
                serde_json::to_string(&origin::this()).expect("identity serializes")
            );
            EXIT_PASS
        }
        SqliteCommand::Prepare { versions } => {
            let mut wanted = Vec::new();
            for text in &versions {
                match version::parse_offered(text) {
                    Ok(v) => wanted.push(v),
                    Err(e) => {
                        errln!("error: VERSION: {}", Chain(&e));
                        return EXIT_USAGE;
                    }
                }
            }
            crate::signals::install_interrupt_handler();
            let mut code = EXIT_PASS;
            let total = wanted.len();
            for (done, v) in wanted.into_iter().enumerate() {
                let mut console = crate::reporter::Console::new(false);
                match prepare::ensure(v, &mut |p| console.event(&RunEvent::Prepare(p))) {
                    Err(e @ prepare::PrepareError::Interrupted { .. }) => {
                        errln!("error: {}", Chain(&e));
                        outln!(
                            "INTERRUPTED sqlite prepare: {done} of {total} releases prepared; SQLite {v} was stopped and nothing of it is left half-written in the cache"
                        );
                        return EXIT_INTERRUPTED;
                    }
                    Ok(p) => outln!(
                        "SQLite {v}: {} ({:.1} MB, prepared in {:.0} s)",
                        cache::version_dir(v).display(),
                        p.bytes as f64 / 1e6,
                        p.prepare_secs
                    ),
                    Err(e) => {
                        errln!("error: cannot prepare SQLite {v}: {}", Chain(&e));
                        code = EXIT_FAIL;
                    }
                }
            }
            code
        }
    }
}

fn list() -> i32 {
    let me = origin::this();
    outln!(
        "this walburst runs SQLite {} ({}); cache: {}",
        me.version,
        me.origin.describe(),
        cache::root().display()
    );
    outln!(
        "{:<8} {:<32} {:<22} status",
        "sqlite",
        "amalgamation from",
        "compiled by"
    );
    for r in version::RELEASES {
        let bundled = if r.sqlite == version::SqliteVersion::bundled() {
            "bundled (always available); as a library for external workers: "
        } else {
            ""
        };
        let prepared = cache::read_prepared(r.sqlite);
        let status = bundled.to_string()
            + &match &prepared {
                Some(p) if cache::is_current(p) => format!(
                    "prepared ({:.1} MB, {})",
                    p.bytes as f64 / 1e6,
                    p.prepared_at
                ),
                Some(_) => "prepared from other walburst sources (re-prepared on use)".into(),
                None => "not prepared (prepared on first use)".into(),
            };
        outln!(
            "{:<8} {:<32} {:<22} {status}",
            r.sqlite.to_string(),
            r.origin_text(),
            format!("libsqlite3-sys {}", r.libsqlite3_sys),
        );
        // An npm release's source id is pinned in the table (and checked after building);
        // a crate's is what its prepared library reported.
        let source_id = match (r.pinned_source_id(), &prepared) {
            (Some(pinned), _) => format!("{pinned} (pinned, checked when prepared)"),
            (None, Some(p)) => format!("{} (reported by the prepared library)", p.sqlite_source_id),
            (None, None) if r.sqlite == version::SqliteVersion::bundled() => {
                format!("{} (this binary)", me.source_id)
            }
            (None, None) => "read when prepared".into(),
        };
        outln!("{:<8} source id: {source_id}", "");
    }
    EXIT_PASS
}

fn advise_on(source: &VersionSource) -> i32 {
    let v = match advise::read_version(source) {
        Ok(v) => v,
        Err(e) => {
            errln!("error: {}", Chain(&e));
            return EXIT_USAGE;
        }
    };
    let read_from = match source {
        VersionSource::Given(_) => "from --version".to_string(),
        VersionSource::Python(py) => format!("what {} links", py.display()),
        VersionSource::Command(argv) => format!(
            "printed by `{}`",
            argv.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    };
    let advice = advise::advise(v);
    out!("{}", advice.render(&read_from));
    if advice.affecting.is_empty() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}

fn known_bugs_table() -> i32 {
    let t = known_bugs::table();
    outln!(
        "known multi-process SQLite bugs (reviewed through {}):",
        t.reviewed_through
    );
    for b in &t.bugs {
        outln!("\n{} [{}]", b.name, b.id);
        outln!("  affected: {}", b.affected);
        match &b.demo {
            known_bugs::Demo::Scenario {
                scenario,
                sweep,
                args,
            } => {
                let args = args.as_deref().map(|a| format!(" {a}")).unwrap_or_default();
                outln!("  scenario: {scenario}{args} (FAILs on an affected release)");
                if let Some(s) = sweep {
                    outln!("  every offered release: walburst run {s}");
                }
            }
            known_bugs::Demo::Missing(why) => outln!("  scenario: {}", why.trim()),
        }
    }
    outln!(
        "\nexpected on each offered release (FAIL/pass: the scenario's verdict; hit: affected, no scenario yet; -: not affected):"
    );
    out!("{:<8}", "sqlite");
    for b in &t.bugs {
        out!(" {:<24}", b.id);
    }
    outln!();
    for r in version::RELEASES {
        out!("{:<8}", r.sqlite.to_string());
        for b in &t.bugs {
            out!(" {:<24}", b.expected_on(r.sqlite).cell());
        }
        outln!();
    }
    EXIT_PASS
}
