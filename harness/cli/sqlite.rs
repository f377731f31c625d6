//! `walburst sqlite list | prepare VERSION...`: the SQLite releases walburst can run on.

use clap::{Args, Subcommand};

use crate::exit::{EXIT_FAIL, EXIT_PASS, EXIT_USAGE};
use crate::releases::{cache, origin, prepare, version};

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
    /// the crate registry and walburst's source tree). Already prepared ones are kept.
    Prepare {
        /// Releases as listed by `walburst sqlite list`, e.g. 3.50.2.
        #[arg(value_name = "VERSION", required = true, value_delimiter = ',')]
        versions: Vec<String>,
    },
    /// Internal: print this binary's SQLite (version, source id, origin) as JSON.
    #[command(hide = true)]
    Identity,
}

pub fn command(a: SqliteArgs) -> i32 {
    match a.command {
        SqliteCommand::List => list(),
        SqliteCommand::Identity => {
            println!(
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
                        eprintln!("error: VERSION: {e}");
                        return EXIT_USAGE;
                    }
                }
            }
            let mut code = EXIT_PASS;
            for v in wanted {
                match prepare::ensure(v) {
                    Ok(p) => println!(
                        "SQLite {v}: {} ({:.1} MB, prepared in {:.0} s)",
                        cache::version_dir(v).display(),
                        p.bytes as f64 / 1e6,
                        p.prepare_secs
                    ),
                    Err(e) => {
                        eprintln!("error: cannot prepare SQLite {v}: {e:#}");
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
    println!(
        "this walburst runs SQLite {} ({}); cache: {}",
        me.version,
        me.origin.describe(),
        cache::root().display()
    );
    println!(
        "{:<8} {:<15} {:<9} status",
        "sqlite", "libsqlite3-sys", "rusqlite"
    );
    for r in version::RELEASES {
        let bundled = if r.sqlite == version::SqliteVersion::bundled() {
            "bundled (always available); as a library for external workers: "
        } else {
            ""
        };
        let status = bundled.to_string()
            + &match cache::read_prepared(r.sqlite) {
                Some(p) if cache::is_current(&p) => format!(
                    "prepared ({:.1} MB, {})",
                    p.bytes as f64 / 1e6,
                    p.prepared_at
                ),
                Some(_) => "prepared from other walburst sources (re-prepared on use)".into(),
                None => "not prepared (prepared on first use)".into(),
            };
        println!(
            "{:<8} {:<15} {:<9} {status}",
            r.sqlite.to_string(),
            r.libsqlite3_sys,
            r.rusqlite
        );
    }
    EXIT_PASS
}
