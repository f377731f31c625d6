//! Where a run writes, checked before it starts, and what happens when a report still
//! cannot be written after it ends. A directory that cannot be written is bad input (exit 2,
//! nothing run); a report that cannot be written after the run keeps the run directory with
//! its records and report, names it, and exits 3 ([`crate::exit::EXIT_UNWRITTEN`]).

use std::path::{Path, PathBuf};

/// A run ended but its report could not be written where it was asked to go; its evidence
/// (records, report, database) is in `run_dir`.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot write the report into {}: {cause}; the run directory was kept with its records and report: {}",
    out_dir.display(),
    run_dir.display()
)]
pub struct ReportUnwritten {
    pub out_dir: PathBuf,
    pub run_dir: PathBuf,
    pub cause: String,
}

/// Checks that `dir` (named by command-line `flag`) can be created and written: the nearest
/// existing ancestor must be a directory in which a file can really be created (a mode check
/// would say nothing when running as root). Nothing is left behind.
pub fn check_dir(flag: &str, dir: &Path) -> Result<(), String> {
    let mut probe = dir.to_path_buf();
    loop {
        match std::fs::metadata(&probe) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                return Err(format!(
                    "{flag} {}: {} is not a directory",
                    dir.display(),
                    probe.display()
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                probe = match probe.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(format!(
                    "{flag} {}: part of this path is not a directory",
                    dir.display()
                ));
            }
            Err(e) => {
                return Err(format!(
                    "{flag} {}: cannot use {}: {e}",
                    dir.display(),
                    probe.display()
                ));
            }
        }
    }
    tempfile::Builder::new()
        .prefix(".walburst-write-check-")
        .tempfile_in(&probe)
        .map(drop)
        .map_err(|e| {
            format!(
                "{flag} {}: cannot write in {}: {e}",
                dir.display(),
                probe.display()
            )
        })
}

/// Checks that `file` (named by `flag`) can be written: not a directory, in a directory
/// [`check_dir`] accepts.
pub fn check_file(flag: &str, file: &Path) -> Result<(), String> {
    if file.is_dir() {
        return Err(format!("{flag} {}: is a directory", file.display()));
    }
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    check_dir(flag, parent).map_err(|m| {
        // Name the file the user gave, not its directory.
        let detail = m
            .strip_prefix(&format!("{flag} {}: ", parent.display()))
            .unwrap_or(&m);
        format!("{flag} {}: {detail}", file.display())
    })
}

/// The directories a run writes into: `--out` and `--work-dir` (the system's temporary
/// directory when not given).
pub fn check_run_dirs(out: &Path, work_dir: Option<&Path>) -> Result<(), String> {
    check_dir("--out", out)?;
    match work_dir {
        Some(w) => check_dir("--work-dir", w),
        None => check_dir(
            "--work-dir (default: the temporary directory)",
            &std::env::temp_dir(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_below_a_regular_file_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("file");
        std::fs::write(&f, "x").unwrap();
        assert!(
            check_dir("--out", &f)
                .unwrap_err()
                .contains("not a directory")
        );
        assert!(check_dir("--out", &f.join("sub")).is_err());
        assert!(check_file("--junit", &f.join("j.xml")).is_err());
        assert!(
            check_file("--junit", d.path())
                .unwrap_err()
                .contains("is a directory")
        );
        // A missing directory below a writable one is fine, and nothing is left behind.
        assert!(check_dir("--out", &d.path().join("a/b")).is_ok());
        assert!(check_file("--junit", &d.path().join("a/j.xml")).is_ok());
        let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}

/// Where a run's report and run directory go.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Directory for the JSON reports.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out: PathBuf,
    /// Keep each run directory (database, records, trace, worker stderr); failed runs always
    /// keep it.
    #[arg(long)]
    pub keep: bool,
    /// Where run directories are created (default: the system temporary directory).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}
