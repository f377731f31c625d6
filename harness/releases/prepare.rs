//! `walburst sqlite prepare VERSION`: builds one SQLite release as a shared library and
//! walburst once more against it (recipe and traps: README.md, "Other SQLite releases").
//!
//! 1. A throwaway crate depending on `libsqlite3-sys = "=X"` with `bundled` compiles the
//!    release's amalgamation with that crate's own flags (`HAVE_USLEEP` and the like); its
//!    `out_dir/libsqlite3.a` becomes `libsqlite3.so.0` (`cc -shared --whole-archive`).
//! 2. walburst, unchanged, is built into a separate target directory with
//!    `LIBSQLITE3_SYS_USE_PKG_CONFIG=1` + `SQLITE3_LIB_DIR`, so libsqlite3-sys links that
//!    library instead of bundling, with an rpath of `$ORIGIN`; the binary is copied beside
//!    the library, and workers (re-exec of the same binary) load it with no variable.
//! 3. The new binary reports its own SQLite; anything but the asked release is refused.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use super::cache::{self, BINARY, CacheError, LIBRARY, MANIFEST, Prepared};
use super::origin::{SqliteIdentity, SqliteOrigin};
use super::version::{Release, Source, SqliteVersion};

/// No cargo build of a prepare may take longer (2 cores take about a minute).
const BUILD_DEADLINE: Duration = Duration::from_secs(40 * 60);

/// Why a release could not be prepared. Every build step's failure names the log that
/// holds cargo's (or cc's) own words.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("SQLite {0} is not offered")]
    NotOffered(SqliteVersion),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("cannot {doing} {}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("cannot start {what} (log: {})", log.display())]
    Start {
        what: String,
        log: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "{what} took longer than {} minutes and was killed; log: {}",
        BUILD_DEADLINE.as_secs() / 60,
        log.display()
    )]
    Deadline { what: String, log: PathBuf },
    /// SIGINT/SIGTERM: the build step was killed (its whole process group); the cache
    /// holds nothing of this release that was half-written.
    #[error("{what} was interrupted and killed; log: {}", log.display())]
    Interrupted { what: String, log: PathBuf },
    #[error("{what} failed ({status}); log: {}", log.display())]
    Failed {
        what: String,
        status: std::process::ExitStatus,
        log: PathBuf,
    },
    /// A build step ended well but left no usable output.
    #[error("{problem}; log: {}", log.display())]
    NoOutput { problem: String, log: PathBuf },
    /// The new binary could not say which SQLite it runs.
    #[error("{} sqlite identity: {problem}", binary.display())]
    Identity { binary: PathBuf, problem: String },
    /// The new binary runs another SQLite than the one it was built for.
    #[error("the binary built for SQLite {asked} runs SQLite {runs}; log: {}", log.display())]
    Mismatch {
        asked: SqliteVersion,
        runs: String,
        log: PathBuf,
    },
    /// The built library reports another source id than the table pins for the release.
    #[error(
        "the library built for SQLite {asked} reports source id `{runs}`, the table pins `{pinned}`; refused; log: {}",
        log.display()
    )]
    SourceId {
        asked: SqliteVersion,
        pinned: String,
        runs: String,
        log: PathBuf,
    },
    /// The npm registry could not be reached (or refused the tarball).
    #[error(
        "cannot download the amalgamation of SQLite {version} (npm {spec}) from {url}: {problem}; the npm registry must be reachable the first time this release is prepared (set {} to a mirror); log: {}",
        super::npm::REGISTRY_ENV,
        log.display()
    )]
    Download {
        version: SqliteVersion,
        spec: String,
        url: String,
        problem: String,
        log: PathBuf,
    },
    /// A downloaded tarball is not the one the table pins; nothing of it is kept.
    #[error(
        "the tarball for SQLite {version} from {url} hashes to {got}, the table pins {pinned}; refused and deleted"
    )]
    Integrity {
        version: SqliteVersion,
        url: String,
        pinned: String,
        got: String,
    },
    #[error(transparent)]
    Manifest(#[from] crate::report::WriteError),
}

pub(super) fn io(doing: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PrepareError {
    let path = path.to_path_buf();
    move |error| PrepareError::Io { doing, path, error }
}

/// Environment a nested cargo must not inherit: they would redirect its output, change its
/// flags, or (LIBSQLITE3_SYS_USE_PKG_CONFIG in step 1) stop it from bundling.
const SCRUBBED: &[&str] = &[
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTFLAGS",
    "LIBSQLITE3_SYS_USE_PKG_CONFIG",
    "SQLITE3_LIB_DIR",
    "SQLITE3_INCLUDE_DIR",
    "SQLITE3_STATIC",
    "PKG_CONFIG_PATH",
    "LIBSQLITE3_FLAGS",
    "WALBURST_SQLITE_PREPARED_FROM",
    "WALBURST_SQLITE_PREPARED_AMALGAMATION",
];

pub(super) fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for v in SCRUBBED {
        c.env_remove(v);
    }
    c
}

/// Runs `cmd` with stderr appended to `log` and returns its stdout lines; fails (naming the
/// log) on a non-zero exit or after [`BUILD_DEADLINE`].
pub(super) fn run_logged(
    mut cmd: Command,
    log: &Path,
    what: &str,
) -> Result<Vec<String>, PrepareError> {
    let write_log = || io("write the log", log);
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(write_log())?;
    writeln!(&log_file, "\n=== {what}: {cmd:?}").map_err(write_log())?;
    // Its own process group: an interrupt kills the whole build (cargo and every rustc or
    // cc under it), and a terminal's Ctrl-C reaches only walburst, which does that.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file.try_clone().map_err(write_log())?)
        .spawn()
        .map_err(|error| PrepareError::Start {
            what: what.to_string(),
            log: log.to_path_buf(),
            error,
        })?;
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    // Woken by the exit itself (a pidfd) or by SIGINT/SIGTERM, not by a polling interval.
    use crate::runner::reap::{Waited, wait_exit_or_interrupt};
    let kill_group = |child: &mut std::process::Child| {
        if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = child.wait();
    };
    let status = match wait_exit_or_interrupt(&mut child, BUILD_DEADLINE) {
        Ok(Waited::Exited(s)) => s,
        Ok(Waited::TimedOut) => {
            kill_group(&mut child);
            return Err(PrepareError::Deadline {
                what: what.to_string(),
                log: log.to_path_buf(),
            });
        }
        Ok(Waited::Interrupted) => {
            kill_group(&mut child);
            return Err(PrepareError::Interrupted {
                what: what.to_string(),
                log: log.to_path_buf(),
            });
        }
        Err(e) => return Err(io("wait for the build writing", log)(e)),
    };
    // A build that ended on its own just as the interrupt came is still stopped here.
    if crate::signals::interrupted() {
        return Err(PrepareError::Interrupted {
            what: what.to_string(),
            log: log.to_path_buf(),
        });
    }
    let lines = reader.join().unwrap_or_default();
    for l in &lines {
        writeln!(&log_file, "{l}").map_err(write_log())?;
    }
    if !status.success() {
        return Err(PrepareError::Failed {
            what: what.to_string(),
            status,
            log: log.to_path_buf(),
        });
    }
    Ok(lines)
}

/// Step 1: the release's static library, compiled by its own `libsqlite3-sys` build script
/// (for an npm release: that crate's build script with the package's amalgamation, `npm`).
fn build_static(release: &Release, log: &Path) -> Result<PathBuf, PrepareError> {
    let root = cache::root();
    let krate = crate_project(release.libsqlite3_sys)?;
    let krate = match release.source {
        Source::Crate => krate,
        Source::Npm(n) => super::npm::project(release, n, &krate, log)?,
    };
    let mut cmd = cargo();
    cmd.current_dir(&krate)
        .args([
            "build",
            "--release",
            "--message-format=json",
            "--target-dir",
        ])
        .arg(root.join("amalgamation-target"));
    let lines = run_logged(
        cmd,
        log,
        &format!(
            "compiling SQLite {} ({})",
            release.sqlite,
            release.origin_text()
        ),
    )?;
    let out_dir = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "build-script-executed")
        .filter(|m| {
            m["package_id"]
                .as_str()
                .is_some_and(|id| id.contains("libsqlite3-sys"))
        })
        .find_map(|m| m["out_dir"].as_str().map(PathBuf::from))
        .ok_or_else(|| PrepareError::NoOutput {
            problem: "cargo did not report libsqlite3-sys's build script output".into(),
            log: log.to_path_buf(),
        })?;
    let lib = out_dir.join("libsqlite3.a");
    if !lib.is_file() {
        return Err(PrepareError::NoOutput {
            problem: format!(
                "libsqlite3-sys {} did not produce {}",
                release.libsqlite3_sys,
                lib.display()
            ),
            log: log.to_path_buf(),
        });
    }
    Ok(lib)
}

/// The throwaway crate that depends on `libsqlite3-sys = "=sys"` with `bundled`.
fn crate_project(sys: &str) -> Result<PathBuf, PrepareError> {
    let krate = cache::root().join("amalgamation").join(sys);
    std::fs::create_dir_all(krate.join("src")).map_err(io("create", &krate))?;
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "# Written by `walburst sqlite prepare`: compiles one SQLite amalgamation.\n\
             [package]\nname = \"walburst-sqlite-amalgamation\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nlibsqlite3-sys = {{ version = \"={sys}\", features = [\"bundled\"] }}\n\n[workspace]\n"
        ),
    )
    .and_then(|()| std::fs::write(krate.join("src").join("lib.rs"), ""))
    .map_err(io("write the amalgamation crate", &krate))?;
    Ok(krate)
}

/// Step 1b: `libsqlite3.so.0` (+ `libsqlite3.so` for the linker) and `pkgconfig/sqlite3.pc`.
fn link_shared(
    v: SqliteVersion,
    archive: &Path,
    dir: &Path,
    log: &Path,
) -> Result<(), PrepareError> {
    let mut cc = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()));
    cc.args(["-shared", "-o"])
        .arg(dir.join(LIBRARY))
        .arg(format!("-Wl,-soname,{LIBRARY}"))
        .arg("-Wl,--whole-archive")
        .arg(archive)
        .args(["-Wl,--no-whole-archive", "-lm", "-ldl", "-lpthread"]);
    run_logged(cc, log, "linking libsqlite3.so.0")?;
    std::os::unix::fs::symlink(LIBRARY, dir.join("libsqlite3.so"))
        .and_then(|()| std::fs::create_dir_all(dir.join("pkgconfig")))
        .and_then(|()| {
            std::fs::write(
                dir.join("pkgconfig").join("sqlite3.pc"),
                format!(
                    "libdir={}\n\nName: SQLite\nDescription: SQLite {v} prepared by walburst\nVersion: {v}\nLibs: -L${{libdir}} -lsqlite3\nCflags:\n",
                    dir.display()
                ),
            )
        })
        .map_err(io("write the library's links and pkg-config file in", dir))
}

/// Step 2: walburst linked against the library in `dir`, copied into `dir`.
fn build_walburst(release: &Release, dir: &Path, log: &Path) -> Result<(), PrepareError> {
    let tree = cache::source_tree()?;
    let target = cache::root().join("build");
    let mut cmd = cargo();
    cmd.current_dir(&tree)
        .args(["build", "--release", "--bin", BINARY, "--manifest-path"])
        .arg(tree.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env("LIBSQLITE3_SYS_USE_PKG_CONFIG", "1")
        .env("SQLITE3_LIB_DIR", dir)
        .env("PKG_CONFIG_PATH", dir.join("pkgconfig"))
        // DT_RPATH (not RUNPATH): the binary's own directory wins even over LD_LIBRARY_PATH.
        .env(
            "RUSTFLAGS",
            "-C link-arg=-Wl,--disable-new-dtags,-rpath,$ORIGIN",
        )
        .env("WALBURST_SQLITE_PREPARED_FROM", release.libsqlite3_sys);
    if let Source::Npm(_) = release.source {
        cmd.env(
            "WALBURST_SQLITE_PREPARED_AMALGAMATION",
            release.origin_text(),
        );
    }
    run_logged(cmd, log, "building walburst against it")?;
    std::fs::copy(target.join("release").join(BINARY), dir.join(BINARY))
        .map_err(io("copy the built walburst into", dir))?;
    Ok(())
}

/// Step 3: what the new binary says it runs.
pub fn identity_of(binary: &Path) -> Result<SqliteIdentity, PrepareError> {
    let failed = |problem: String| PrepareError::Identity {
        binary: binary.to_path_buf(),
        problem,
    };
    let out = Command::new(binary)
        .args(["sqlite", "identity"])
        .env_remove(crate::worker::origin::EXPECT_ENV)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot start it: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!(
            "failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| failed(format!("printed no identity: {e}")))
}

/// What preparing a release says while it works (minutes of compiling), in order: a wait
/// for the cache lock (only when another prepare holds it), steps 1 to 3, the result. The
/// caller's reporter renders it (`reporter::Console`, on stderr).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PrepareProgress<'a> {
    /// Another `walburst sqlite prepare` holds the cache lock: this one waits for it.
    WaitingForLock { lock: &'a Path },
    /// Step `n` of 3 of preparing `version` began `secs` after the preparation did.
    Step {
        n: u32,
        secs: f64,
        version: SqliteVersion,
        what: &'a str,
    },
    /// `version` is prepared in `dir`.
    Prepared {
        version: SqliteVersion,
        secs: f64,
        dir: &'a Path,
        bytes: u64,
    },
}

/// Prepares `v` unless a current preparation exists; returns its manifest. Progress goes
/// to `progress`; cargo's output to `<cache>/logs/prepare-<v>.log`.
pub fn ensure(
    v: SqliteVersion,
    progress: &mut dyn FnMut(PrepareProgress<'_>),
) -> Result<Prepared, PrepareError> {
    let release = v.release().ok_or(PrepareError::NotOffered(v))?;
    if let Some(p) = cache::read_prepared(v).filter(cache::is_current) {
        return Ok(p);
    }
    let tree = cache::source_tree()?;
    let _lock = cache::lock(&mut |lock| progress(PrepareProgress::WaitingForLock { lock }))?;
    // Another process may have prepared it while we waited for the lock.
    if let Some(p) = cache::read_prepared(v).filter(cache::is_current) {
        return Ok(p);
    }
    let fingerprint = cache::source_fingerprint(&tree);
    let root = cache::root();
    let logs = root.join("logs");
    std::fs::create_dir_all(&logs).map_err(io("create", &logs))?;
    let log = logs.join(format!("prepare-{v}.log"));
    let _ = std::fs::remove_file(&log);
    let start = Instant::now();
    let mut step = |n: u32, what: &str| {
        progress(PrepareProgress::Step {
            n,
            secs: start.elapsed().as_secs_f64(),
            version: v,
            what,
        })
    };
    step(
        1,
        &format!(
            "compiling the amalgamation of SQLite {v} ({}) (log: {})",
            release.origin_text(),
            log.display()
        ),
    );
    let archive = build_static(release, &log)?;
    // A fixed staging path (under the lock): the nested build sees the same
    // SQLITE3_LIB_DIR whenever it prepares this version.
    let staging = root.join(format!("{v}.staging"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io("create", &staging))?;
    let staged = (|| {
        link_shared(v, &archive, &staging, &log)?;
        step(
            2,
            "building walburst against it (release, separate target directory)",
        );
        build_walburst(release, &staging, &log)?;
        step(3, "checking the SQLite the new binary runs");
        let id = identity_of(&staging.join(BINARY))?;
        if id.version != v.to_string() || !matches!(id.origin, SqliteOrigin::Prepared { .. }) {
            return Err(PrepareError::Mismatch {
                asked: v,
                runs: format!("{} ({})", id.version, id.origin.describe()),
                log: log.clone(),
            });
        }
        if let Some(pinned) = release.pinned_source_id()
            && id.source_id != pinned
        {
            return Err(PrepareError::SourceId {
                asked: v,
                pinned: pinned.to_string(),
                runs: id.source_id,
                log: log.clone(),
            });
        }
        Ok(id)
    })();
    // A failed or interrupted prepare leaves no half-built release in the cache (its log
    // stays, named in the error).
    let id = staged.inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&staging);
    })?;
    let dir = cache::version_dir(v);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).map_err(io("move the prepared release into", &dir))?;
    // The .pc file names the staging directory it was linked from; point it here.
    let pc = dir.join("pkgconfig").join("sqlite3.pc");
    std::fs::read_to_string(&pc)
        .and_then(|text| {
            std::fs::write(
                &pc,
                text.replace(&staging.display().to_string(), &dir.display().to_string()),
            )
        })
        .map_err(io("rewrite", &pc))?;
    let prepared = Prepared {
        sqlite_version: v,
        sqlite_source_id: id.source_id,
        libsqlite3_sys: release.libsqlite3_sys.to_string(),
        amalgamation: match release.source {
            Source::Crate => None,
            Source::Npm(_) => Some(release.origin_text()),
        },
        source_fingerprint: fingerprint,
        prepared_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        prepare_secs: (start.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        bytes: cache::dir_bytes(&dir),
    };
    crate::report::write_json_atomic(&dir.join(MANIFEST), &prepared)?;
    progress(PrepareProgress::Prepared {
        version: v,
        secs: prepared.prepare_secs,
        dir: &dir,
        bytes: prepared.bytes,
    });
    Ok(prepared)
}
