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

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime};

pub use super::build_step::PrepareError;
use super::build_step::{cargo, io, run_logged};
use super::cache::{self, BINARY, LIBRARY, MANIFEST, Prepared};
use super::origin::{SqliteIdentity, SqliteOrigin};
use super::version::{Release, Source, SqliteVersion};

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
