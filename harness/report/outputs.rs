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

/// An output path (named by its command-line `flag`) that cannot be written: bad input,
/// refused before anything runs (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// `blocker`, on the way to `path`, exists and is not a directory.
    #[error("{flag} {}: {} is not a directory", path.display(), blocker.display())]
    NotADirectory {
        flag: String,
        path: PathBuf,
        blocker: PathBuf,
    },
    /// Some component above `path` is a regular file.
    #[error("{flag} {}: part of this path is not a directory", path.display())]
    ThroughAFile { flag: String, path: PathBuf },
    /// A file was asked for and `path` is a directory.
    #[error("{flag} {}: is a directory", path.display())]
    IsADirectory { flag: String, path: PathBuf },
    /// `probe` (`path` or its nearest ancestor) could not be looked at.
    #[error("{flag} {}: cannot use {}", path.display(), probe.display())]
    Unusable {
        flag: String,
        path: PathBuf,
        probe: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No file could be created in `dir`, the nearest existing directory of `path`.
    #[error("{flag} {}: cannot write in {}", path.display(), dir.display())]
    Unwritable {
        flag: String,
        path: PathBuf,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl OutputError {
    /// The flag whose value was refused.
    pub fn flag(&self) -> &str {
        match self {
            OutputError::NotADirectory { flag, .. }
            | OutputError::ThroughAFile { flag, .. }
            | OutputError::IsADirectory { flag, .. }
            | OutputError::Unusable { flag, .. }
            | OutputError::Unwritable { flag, .. } => flag,
        }
    }

    /// The path as the user gave it.
    pub fn path(&self) -> &Path {
        match self {
            OutputError::NotADirectory { path, .. }
            | OutputError::ThroughAFile { path, .. }
            | OutputError::IsADirectory { path, .. }
            | OutputError::Unusable { path, .. }
            | OutputError::Unwritable { path, .. } => path,
        }
    }

    /// The same refusal, naming `file` (the path the user gave) instead of its directory.
    fn naming(mut self, file: &Path) -> Self {
        match &mut self {
            OutputError::NotADirectory { path, .. }
            | OutputError::ThroughAFile { path, .. }
            | OutputError::IsADirectory { path, .. }
            | OutputError::Unusable { path, .. }
            | OutputError::Unwritable { path, .. } => *path = file.to_path_buf(),
        }
        self
    }
}

/// Checks that `dir` (named by command-line `flag`) can be created and written: the nearest
/// existing ancestor must be a directory in which a file can really be created (a mode check
/// would say nothing when running as root). Nothing is left behind.
pub fn check_dir(flag: &str, dir: &Path) -> Result<(), OutputError> {
    let flag = flag.to_string();
    let path = dir.to_path_buf();
    let mut probe = dir.to_path_buf();
    loop {
        match std::fs::metadata(&probe) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                return Err(OutputError::NotADirectory {
                    flag,
                    path,
                    blocker: probe,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                probe = match probe.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(OutputError::ThroughAFile { flag, path });
            }
            Err(source) => {
                return Err(OutputError::Unusable {
                    flag,
                    path,
                    probe,
                    source,
                });
            }
        }
    }
    match tempfile::Builder::new()
        .prefix(".walburst-write-check-")
        .tempfile_in(&probe)
    {
        Ok(_) => Ok(()),
        Err(source) => Err(OutputError::Unwritable {
            flag,
            path,
            dir: probe,
            source,
        }),
    }
}

/// Checks that `file` (named by `flag`) can be written: not a directory, in a directory
/// [`check_dir`] accepts.
pub fn check_file(flag: &str, file: &Path) -> Result<(), OutputError> {
    if file.is_dir() {
        return Err(OutputError::IsADirectory {
            flag: flag.to_string(),
            path: file.to_path_buf(),
        });
    }
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Name the file the user gave, not its directory.
    check_dir(flag, parent).map_err(|e| e.naming(file))
}

/// The directories a run writes into: `--out` and `--work-dir` (the system's temporary
/// directory when not given).
pub fn check_run_dirs(out: &Path, work_dir: Option<&Path>) -> Result<(), OutputError> {
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
        match check_dir("--out", &f) {
            Err(OutputError::NotADirectory {
                flag,
                path,
                blocker,
            }) => assert_eq!((flag.as_str(), &path, &blocker), ("--out", &f, &f)),
            other => panic!("{other:?}"),
        }
        assert!(check_dir("--out", &f.join("sub")).is_err());
        let j = f.join("j.xml");
        let e = check_file("--junit", &j).unwrap_err();
        assert_eq!((e.flag(), e.path()), ("--junit", j.as_path()), "{e}");
        assert!(matches!(
            check_file("--junit", d.path()),
            Err(OutputError::IsADirectory { .. })
        ));
        // A missing directory below a writable one is fine, and nothing is left behind.
        assert!(check_dir("--out", &d.path().join("a/b")).is_ok());
        assert!(check_file("--junit", &d.path().join("a/j.xml")).is_ok());
        let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn an_unwritable_file_names_its_flag_and_path() {
        // No file can be created in /proc, not even by root (a mode bit would not stop root).
        let file = Path::new("/proc/walburst-no-such-dir/j.xml");
        match check_file("--junit", file) {
            Err(OutputError::Unwritable {
                flag, path, dir, ..
            }) => {
                assert_eq!(flag, "--junit");
                assert_eq!(path, file);
                assert_eq!(dir, Path::new("/proc"));
            }
            other => panic!("expected an unwritable --junit, got {other:?}"),
        }
    }
}

/// Where a run's report and run directory go (`--out`, `--keep`, `--work-dir`:
/// `cli::args::OutputArgs`).
#[derive(Debug, Clone)]
pub struct Outputs {
    /// Directory for the JSON reports.
    pub out: PathBuf,
    /// Keep each run directory; failed runs always keep it.
    pub keep: bool,
    /// Where run directories are created (`None`: the system temporary directory).
    pub work_dir: Option<PathBuf>,
}
