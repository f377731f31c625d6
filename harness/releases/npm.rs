//! Releases whose amalgamation comes from an npm package (`Source::Npm`): point releases
//! no `libsqlite3-sys` bundles, taken from packages that ship SQLite's amalgamation
//! (better-sqlite3's `deps/sqlite3/`, node `sqlite3`'s sqlite.org autoconf tarball).
//!
//! Step 1 of a prepare for such a release: download the package's tarball from the npm
//! registry (only here, on `walburst sqlite prepare` or first use; kept under
//! `<cache>/downloads/`), refuse it unless its sha512 is the table's pinned
//! `dist.integrity`, take out `sqlite3.c`/`sqlite3.h`/`sqlite3ext.h` and check the header
//! names the release and its pinned source id; then copy the source of the crate the table
//! names and put those files in place of its own, so that its build script compiles them
//! with the flags it gives its own amalgamation. The rest of the prepare is the crate
//! path's (`prepare.rs`); the built library's `sqlite_source_id()` is checked at the end.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha512};

use super::build_step::{PrepareError, cargo, io, run_logged};
use super::cache;
use super::version::{AmalgamationPath, NpmAmalgamation, Release, SqliteVersion};

/// Overrides the npm registry (a mirror, or a `file://` directory laid out like it).
pub const REGISTRY_ENV: &str = "WALBURST_NPM_REGISTRY";
const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org";

/// The three files of an amalgamation, as the crates keep them under `sqlite3/`.
const FILES: [&str; 3] = ["sqlite3.c", "sqlite3.h", "sqlite3ext.h"];

/// Where the registry serves the tarball of an (unscoped) package version.
pub fn tarball_url(n: &NpmAmalgamation) -> String {
    let registry = std::env::var(REGISTRY_ENV)
        .ok()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
    format!(
        "{}/{}/-/{}-{}.tgz",
        registry.trim_end_matches('/'),
        n.package,
        n.package,
        n.version
    )
}

/// `dist.integrity` of `bytes` as the npm registry writes it: `sha512-` and the standard
/// base64 of the digest.
pub fn integrity_of(bytes: &[u8]) -> String {
    format!("sha512-{}", base64(&Sha512::digest(bytes)))
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ABC[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The last non-empty line of `log`: the failing tool's own words (curl's, tar's).
fn last_words(log: &Path) -> String {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The package tarball, downloaded once and checked against the pinned integrity every time
/// it is used (a cached file that no longer hashes right is fetched again).
fn fetch(v: SqliteVersion, n: &NpmAmalgamation, log: &Path) -> Result<PathBuf, PrepareError> {
    let dir = cache::root().join("downloads");
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let file = dir.join(format!("{}-{}.tgz", n.package, n.version));
    if std::fs::read(&file).is_ok_and(|b| integrity_of(&b) == n.integrity) {
        return Ok(file);
    }
    let url = tarball_url(n);
    let part = dir.join(format!("{}-{}.tgz.part", n.package, n.version));
    let _ = std::fs::remove_file(&part);
    let mut curl = Command::new("curl");
    // Bounded: a registry that accepts but never answers cannot hold the prepare.
    curl.args([
        "-fsSL",
        "--connect-timeout",
        "20",
        "--max-time",
        "600",
        "-o",
    ])
    .arg(&part)
    .arg(&url);
    let unreachable = |problem: String| PrepareError::Download {
        version: v,
        spec: n.spec(),
        url: url.clone(),
        problem,
        log: log.to_path_buf(),
    };
    match run_logged(curl, log, &format!("downloading {url}")) {
        Ok(_) => {}
        Err(PrepareError::Failed { status, .. }) => {
            let _ = std::fs::remove_file(&part);
            return Err(unreachable(format!("curl {status}: {}", last_words(log))));
        }
        Err(PrepareError::Start { error, .. }) => {
            return Err(unreachable(format!("cannot start curl: {error}")));
        }
        Err(e) => return Err(e),
    }
    let bytes = std::fs::read(&part).map_err(io("read", &part))?;
    let got = integrity_of(&bytes);
    if got != n.integrity {
        let _ = std::fs::remove_file(&part);
        return Err(PrepareError::Integrity {
            version: v,
            url,
            pinned: n.integrity.to_string(),
            got,
        });
    }
    std::fs::rename(&part, &file).map_err(io("move the download into", &file))?;
    Ok(file)
}

/// Runs `tar -xzf archive -C into members...`.
fn untar(archive: &Path, into: &Path, members: &[String], log: &Path) -> Result<(), PrepareError> {
    let mut tar = Command::new("tar");
    tar.arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .args(members);
    run_logged(tar, log, &format!("unpacking {}", archive.display())).map(|_| ())
}

/// The value of `#define NAME "..."` in a C header.
fn define(header: &str, name: &str) -> Option<String> {
    header.lines().find_map(|l| {
        let rest = l
            .strip_prefix("#define ")?
            .trim_start()
            .strip_prefix(name)?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        let value = rest.trim().strip_prefix('"')?.strip_suffix('"')?;
        Some(value.to_string())
    })
}

/// Unpacks the three files of the amalgamation into `work`; returns the directory holding
/// them, once its `sqlite3.h` names the release and the pinned source id.
fn unpack(
    v: SqliteVersion,
    n: &NpmAmalgamation,
    tgz: &Path,
    work: &Path,
    log: &Path,
) -> Result<PathBuf, PrepareError> {
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work).map_err(io("create", work))?;
    let members = |dir: &str| FILES.map(|f| format!("{dir}/{f}")).to_vec();
    let dir = match n.path {
        AmalgamationPath::Dir(dir) => {
            untar(tgz, work, &members(dir), log)?;
            work.join(dir)
        }
        AmalgamationPath::Tarball { tarball, dir } => {
            untar(tgz, work, &[tarball.to_string()], log)?;
            untar(&work.join(tarball), work, &members(dir), log)?;
            work.join(dir)
        }
    };
    let h = dir.join("sqlite3.h");
    let header = std::fs::read_to_string(&h).map_err(io("read", &h))?;
    let says = (
        define(&header, "SQLITE_VERSION"),
        define(&header, "SQLITE_SOURCE_ID"),
    );
    if says != (Some(v.to_string()), Some(n.source_id.to_string())) {
        return Err(PrepareError::NoOutput {
            problem: format!(
                "{} of npm {} says SQLite {} ({}), the table pins {v} ({})",
                h.display(),
                n.spec(),
                says.0.as_deref().unwrap_or("no SQLITE_VERSION"),
                says.1.as_deref().unwrap_or("no SQLITE_SOURCE_ID"),
                n.source_id
            ),
            log: log.to_path_buf(),
        });
    }
    Ok(dir)
}

/// Copies the regular files and directories under `from` to `to`.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let t = e.file_type()?;
        if t.is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        } else if t.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// The source directory of the crate `libsqlite3-sys` the project `krate` depends on, as
/// cargo resolved (and downloaded) it.
fn crate_source(krate: &Path, sys: &str, log: &Path) -> Result<PathBuf, PrepareError> {
    let mut cmd = cargo();
    cmd.current_dir(krate)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(krate.join("Cargo.toml"));
    let lines = run_logged(cmd, log, &format!("locating libsqlite3-sys {sys}"))?;
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .flat_map(|m| m["packages"].as_array().cloned().unwrap_or_default())
        .find(|p| p["name"] == "libsqlite3-sys" && p["version"] == sys)
        .and_then(|p| p["manifest_path"].as_str().map(PathBuf::from))
        .and_then(|m| m.parent().map(Path::to_path_buf))
        .ok_or_else(|| PrepareError::NoOutput {
            problem: format!("cargo metadata did not name the source of libsqlite3-sys {sys}"),
            log: log.to_path_buf(),
        })
}

/// Step 1 for an npm release: a project whose `libsqlite3-sys` (a path dependency) is the
/// table's crate with the package's amalgamation in place of its own. `crate_project` is
/// the ordinary crate project of that version (cargo resolves the crate's source from it).
pub(super) fn project(
    release: &Release,
    n: &NpmAmalgamation,
    crate_project: &Path,
    log: &Path,
) -> Result<PathBuf, PrepareError> {
    let v = release.sqlite;
    let base = cache::root()
        .join("amalgamation")
        .join(format!("npm-{}-{}", n.package, n.version));
    let krate = base.join("project");
    // A crate copy made before from this very tarball and crate is kept as it is: copying
    // it again would give its files new times and make cargo compile SQLite again on every
    // re-prepare (a walburst source change). The built library's source id is still checked.
    let made_from = format!(
        "{} libsqlite3-sys {}\n",
        n.integrity, release.libsqlite3_sys
    );
    let marker = base.join("made-from");
    if krate.join("Cargo.toml").is_file()
        && std::fs::read_to_string(&marker).is_ok_and(|m| m == made_from)
    {
        return Ok(krate);
    }
    let _ = std::fs::remove_file(&marker);
    let tgz = fetch(v, n, log)?;
    let files = unpack(v, n, &tgz, &base.join("unpacked"), log)?;
    let source = crate_source(crate_project, release.libsqlite3_sys, log)?;
    let sys = base.join("libsqlite3-sys");
    let _ = std::fs::remove_dir_all(&sys);
    copy_tree(&source, &sys).map_err(io("copy the crate source into", &sys))?;
    for f in FILES {
        std::fs::copy(files.join(f), sys.join("sqlite3").join(f))
            .map_err(io("put the npm amalgamation into", &sys.join("sqlite3")))?;
    }
    std::fs::create_dir_all(krate.join("src")).map_err(io("create", &krate))?;
    std::fs::write(
        krate.join("Cargo.toml"),
        format!(
            "# Written by `walburst sqlite prepare`: compiles SQLite {v} from npm {} with libsqlite3-sys {}'s build script.\n\
             [package]\nname = \"walburst-sqlite-amalgamation\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nlibsqlite3-sys = {{ path = \"../libsqlite3-sys\", features = [\"bundled\"] }}\n\n[workspace]\n",
            n.spec(),
            release.libsqlite3_sys
        ),
    )
    .and_then(|()| std::fs::write(krate.join("src").join("lib.rs"), ""))
    .map_err(io("write the amalgamation crate", &krate))?;
    std::fs::write(&marker, made_from).map_err(io("write", &marker))?;
    Ok(krate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrity_is_the_registrys_format() {
        // RFC 4648's vectors, then sha512("") as `npm` would write it.
        for (raw, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), want, "{raw}");
        }
        assert_eq!(
            integrity_of(b""),
            "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
        );
    }

    #[test]
    fn an_unreachable_registry_names_the_mirror_variable() {
        let e = PrepareError::Download {
            version: SqliteVersion::new(3, 51, 2),
            spec: "better-sqlite3@12.6.2".into(),
            url: "http://127.0.0.1:9/x.tgz".into(),
            problem: "curl: (7) refused".into(),
            log: PathBuf::from("/l"),
        };
        assert!(
            e.to_string()
                .contains(&format!("set {REGISTRY_ENV} to a mirror")),
            "{e}"
        );
    }

    #[test]
    fn headers_are_read_for_the_release_and_source_id() {
        let h = "#define SQLITE_VERSION        \"3.51.2\"\n#define SQLITE_VERSION_NUMBER 3051002\n#define SQLITE_SOURCE_ID      \"2026-01-09 17:27:48 b270\"\n";
        assert_eq!(define(h, "SQLITE_VERSION").as_deref(), Some("3.51.2"));
        assert_eq!(
            define(h, "SQLITE_SOURCE_ID").as_deref(),
            Some("2026-01-09 17:27:48 b270")
        );
        assert_eq!(define(h, "SQLITE_VERSION_NUMBER"), None);
    }
}
