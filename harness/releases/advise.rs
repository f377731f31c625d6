//! `walburst sqlite advise`: which known multi-process bugs (`known_bugs`) affect the SQLite
//! a user's program links, and the walburst command that shows each.
//!
//! The version comes from `--version V`, from a Python interpreter (`--python PY` runs
//! `PY -c 'import sqlite3;print(sqlite3.sqlite_version)'`), or from any command after `--`.
//! The command's contract: it exits 0 within [`COMMAND_DEADLINE`] and prints the SQLite
//! version as `3.MINOR.PATCH` somewhere on its standard output (`sqlite3 --version`,
//! `select sqlite_version()`); every other number is ignored, and two different `3.x.y`
//! numbers are refused as ambiguous rather than guessed between.

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use super::known_bugs::{self, BugKind, Demo, KnownBug};
use super::version::SqliteVersion;

/// How long a version command may take: starting an interpreter, not a workload.
pub const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

/// The Python one-liner `--python` runs.
pub const PYTHON_SNIPPET: &str = "import sqlite3;print(sqlite3.sqlite_version)";

/// Where the version to advise on comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSource {
    /// `--version V`.
    Given(SqliteVersion),
    /// `--python PY`.
    Python(PathBuf),
    /// `-- CMD ARGS...` (never empty).
    Command(Vec<OsString>),
}

impl VersionSource {
    /// The flag the user gave, for error messages.
    pub fn flag(&self) -> &'static str {
        match self {
            VersionSource::Given(_) => "--version",
            VersionSource::Python(_) => "--python",
            VersionSource::Command(_) => "-- CMD",
        }
    }

    fn argv(&self) -> Option<Vec<OsString>> {
        match self {
            VersionSource::Given(_) => None,
            VersionSource::Python(py) => Some(vec![
                py.clone().into_os_string(),
                "-c".into(),
                PYTHON_SNIPPET.into(),
            ]),
            VersionSource::Command(argv) => Some(argv.clone()),
        }
    }
}

/// Why no version could be read. Each is the user's input (exit 2) and names its flag.
#[derive(Debug, thiserror::Error)]
pub enum AdviseError {
    #[error("{flag}: cannot start `{program}`")]
    Start {
        flag: &'static str,
        program: String,
        #[source]
        error: std::io::Error,
    },
    #[error("{flag}: `{command}` did not exit within {} s", COMMAND_DEADLINE.as_secs())]
    Deadline { flag: &'static str, command: String },
    #[error("{flag}: `{command}` failed ({status}){}", stderr_note(.stderr))]
    Failed {
        flag: &'static str,
        command: String,
        status: ExitStatus,
        stderr: String,
    },
    #[error(
        "{flag}: `{command}` printed no SQLite version (3.MINOR.PATCH) on its standard output; it printed: {}",
        excerpt(.stdout)
    )]
    NoVersion {
        flag: &'static str,
        command: String,
        stdout: String,
    },
    #[error(
        "{flag}: `{command}` printed more than one SQLite version ({}); make it print only the one it links",
        .versions.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    Ambiguous {
        flag: &'static str,
        command: String,
        versions: Vec<SqliteVersion>,
    },
    #[error("{flag}: waiting for `{command}`")]
    Wait {
        flag: &'static str,
        command: String,
        #[source]
        error: std::io::Error,
    },
}

fn stderr_note(stderr: &str) -> String {
    let t = stderr.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!("; its stderr: {}", excerpt(t))
    }
}

fn excerpt(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        return "nothing".into();
    }
    let cut: String = t.chars().take(300).collect();
    if cut.len() < t.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

/// Every distinct SQLite version (`3.x.y`) in `text`, in order of first appearance. A
/// version is a run of digits and dots with exactly three numbers, major 3; dates, hashes
/// and other programs' versions (`2.6.0`, `3.11`) do not count.
pub fn versions_in(text: &str) -> Vec<SqliteVersion> {
    let mut out: Vec<SqliteVersion> = Vec::new();
    for token in text.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
        // A sentence may end right after the number: `SQLite 3.40.1.`
        let token = token.trim_matches('.');
        if let Ok(v) = token.parse::<SqliteVersion>()
            && v.major == 3
            && !out.contains(&v)
        {
            out.push(v);
        }
    }
    out
}

/// The version `source` names or its program prints.
pub fn read_version(source: &VersionSource) -> Result<SqliteVersion, AdviseError> {
    let Some(argv) = source.argv() else {
        let VersionSource::Given(v) = source else {
            unreachable!("only --version has no command")
        };
        return Ok(*v);
    };
    let flag = source.flag();
    let command = argv
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let stdout = run_bounded(flag, &command, &argv)?;
    match versions_in(&stdout).as_slice() {
        [] => Err(AdviseError::NoVersion {
            flag,
            command,
            stdout,
        }),
        [v] => Ok(*v),
        many => Err(AdviseError::Ambiguous {
            flag,
            command,
            versions: many.to_vec(),
        }),
    }
}

/// Runs `argv` (no shell, no stdin) to completion within [`COMMAND_DEADLINE`]; its stdout.
fn run_bounded(
    flag: &'static str,
    command: &str,
    argv: &[OsString],
) -> Result<String, AdviseError> {
    let (program, args) = argv.split_first().expect("a command is never empty");
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| AdviseError::Start {
            flag,
            program: program.to_string_lossy().into_owned(),
            error,
        })?;
    // Both pipes drained on their own threads, so a chatty command cannot block on a full
    // pipe while we wait for its exit.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let wait_error = |error| AdviseError::Wait {
        flag,
        command: command.to_string(),
        error,
    };
    let status = match crate::runner::reap::wait_exit(&mut child, COMMAND_DEADLINE) {
        Ok(Some(s)) => s,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(AdviseError::Deadline {
                flag,
                command: command.to_string(),
            });
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(wait_error(e));
        }
    };
    // The command has exited; a grandchild it left holding the pipes would keep these
    // threads reading, but only until it exits too.
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        return Err(AdviseError::Failed {
            flag,
            command: command.to_string(),
            status,
            stderr,
        });
    }
    Ok(stdout)
}

/// What the table says about one release.
#[derive(Debug, Clone)]
pub struct Advice {
    pub version: SqliteVersion,
    pub affecting: Vec<&'static KnownBug>,
    pub clear: Vec<&'static KnownBug>,
    /// The release is newer than the table was reviewed against.
    pub beyond_review: bool,
}

pub fn advise(version: SqliteVersion) -> Advice {
    let t = known_bugs::table();
    let (affecting, clear) = t.bugs.iter().partition(|b| b.affects(version));
    Advice {
        version,
        affecting,
        clear,
        beyond_review: version > t.reviewed_through,
    }
}

impl Advice {
    /// The console text: each affecting bug with its range, shape and command, then the
    /// ones that do not apply.
    pub fn render(&self, read_from: &str) -> String {
        let v = self.version;
        let total = self.affecting.len() + self.clear.len();
        let mut s = format!("SQLite {v} ({read_from})\n");
        if self.affecting.is_empty() {
            s += &format!(
                "affected by none of the {total} known multi-process bugs walburst tracks\n"
            );
        } else {
            s += &format!(
                "AFFECTED by {} of the {total} known multi-process bugs walburst tracks:\n",
                self.affecting.len()
            );
        }
        for b in &self.affecting {
            let what = match b.kind {
                BugKind::Bug => "fixed",
                BugKind::Hazard => "mitigated",
            };
            s += &format!("\n  {} [{}]\n", b.name, b.id);
            s += &format!(
                "    affected: {}; {what} in {}\n",
                b.affected, b.affected.fixed_in
            );
            s += &fill(b.shape.trim(), "    ", 92);
            match (&b.demo, b.demonstrate(v)) {
                (_, Some(d)) => {
                    let note = if d.on == v {
                        String::new()
                    } else {
                        format!(
                            "   ({v} is not offered; {} is the nearest affected release walburst offers)",
                            d.on
                        )
                    };
                    s += &format!("    show it:  {}{note}\n", d.command);
                    if let Some(sweep) = d.sweep {
                        s += &format!("    on every offered release:  {sweep}\n");
                    }
                }
                (Demo::Missing(why), None) => {
                    s += &fill(&format!("show it:  {}", why.trim()), "    ", 92)
                }
                (Demo::Scenario { scenario, .. }, None) => {
                    s += &format!(
                        "    show it:  no offered release is affected; scenario {scenario}\n"
                    )
                }
            }
        }
        if !self.clear.is_empty() {
            s += "\nnot affected:\n";
            for b in &self.clear {
                s += &format!("  {} [{}]: {}\n", b.name, b.id, b.affected);
            }
        }
        if self.beyond_review {
            s += &format!(
                "\nnote: {v} is newer than the table's last review ({}): bugs found since are not listed\n",
                known_bugs::table().reviewed_through
            );
        }
        s
    }
}

/// `text` as lines of at most `width` columns (a longer word gets a line of its own), each
/// starting with `indent`.
fn fill(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > width {
            out += &format!("{indent}{line}\n");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line += word;
    }
    if !line.is_empty() {
        out += &format!("{indent}{line}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SqliteVersion {
        s.parse().unwrap()
    }

    #[test]
    fn versions_are_found_in_typical_outputs() {
        assert_eq!(
            versions_in(
                "3.40.1 2022-12-28 14:03:47 df5c253c0b3dd24916e4ec7cf77d3db5294cc9fd45ae7b9c5e82ad8197f3alt1 (64-bit)\n"
            ),
            vec![v("3.40.1")]
        );
        assert_eq!(versions_in("SQLite 3.51.3."), vec![v("3.51.3")]);
        // Python's own and the module's versions are not SQLite's.
        assert_eq!(
            versions_in("Python 3.11 sqlite3 2.6.0 links 3.45.0"),
            vec![v("3.45.0")]
        );
        assert_eq!(versions_in("3.45.0\n3.45.0\n"), vec![v("3.45.0")]);
        assert_eq!(
            versions_in("3.45.0 and 3.50.2"),
            vec![v("3.45.0"), v("3.50.2")]
        );
        assert!(versions_in("no version; 1.2.3.4").is_empty());
    }

    #[test]
    fn fill_wraps_at_the_width_and_keeps_every_word() {
        let text = "one two three four five six seven eight nine ten";
        let f = fill(text, "  ", 16);
        assert!(
            f.lines().all(|l| l.len() <= 16 && l.starts_with("  ")),
            "{f}"
        );
        assert_eq!(f.split_whitespace().collect::<Vec<_>>().join(" "), text);
        assert_eq!(
            fill("averyveryverylongword", "  ", 8),
            "  averyveryverylongword\n"
        );
    }

    #[test]
    fn advice_partitions_the_table_and_flags_releases_past_the_review() {
        // Every release before 3.53.3 also has the super-journal hazard
        // (docs/super-journal-window.md); 3.53.3-3.54.1 the super-journal bug instead.
        let a = advise(v("3.50.2"));
        let ids: Vec<&str> = a.affecting.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "wal-reset",
                "close-drops-posix-locks",
                "zeroed-super-journal"
            ]
        );
        assert!(!a.beyond_review);
        let a = advise(v("3.50.7"));
        let ids: Vec<&str> = a.affecting.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["close-drops-posix-locks", "zeroed-super-journal"]);
        let ids = |ver| {
            advise(v(ver))
                .affecting
                .iter()
                .map(|b| b.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("3.53.3"), ["super-journal-rollback"]);
        assert!(ids("3.54.1").is_empty());
        assert!(ids("3.53.4").is_empty());
        assert!(advise(v("3.60.0")).beyond_review);
    }
}
