//! Which SQLite releases walburst can run on, and which published `libsqlite3-sys` crate
//! bundles each (the only way to get a release's amalgamation with its own compile flags).
//! A leaf module: the scenario layer names versions with [`SqliteVersion`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A SQLite release number, `3.50.2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SqliteVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl SqliteVersion {
    pub const fn new(major: u16, minor: u16, patch: u16) -> SqliteVersion {
        SqliteVersion {
            major,
            minor,
            patch,
        }
    }

    /// The release this row of the table names, if walburst offers it.
    pub fn release(self) -> Option<&'static Release> {
        RELEASES.iter().find(|r| r.sqlite == self)
    }

    /// The SQLite bundled into this build of walburst (rusqlite's `bundled` feature).
    pub fn bundled() -> SqliteVersion {
        BUNDLED
    }
}

impl fmt::Display for SqliteVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A version string that is not `MAJOR.MINOR.PATCH`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a SQLite version (expected MAJOR.MINOR.PATCH, e.g. 3.50.2)")]
pub struct BadVersion(pub String);

impl FromStr for SqliteVersion {
    type Err = BadVersion;
    fn from_str(s: &str) -> Result<SqliteVersion, BadVersion> {
        let parts: Vec<&str> = s.trim().split('.').collect();
        let num = |p: &str| p.parse::<u16>().map_err(|_| BadVersion(s.to_string()));
        match parts.as_slice() {
            [a, b, c] => Ok(SqliteVersion::new(num(a)?, num(b)?, num(c)?)),
            _ => Err(BadVersion(s.to_string())),
        }
    }
}

impl Serialize for SqliteVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SqliteVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SqliteVersion, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One SQLite release walburst can provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub sqlite: SqliteVersion,
    /// The `libsqlite3-sys` version whose build script compiles this release: its own
    /// bundled amalgamation ([`Source::Crate`]), or the one an npm package ships put in its
    /// place ([`Source::Npm`]; the nearest crate of the same minor line, else the nearest
    /// older one, so that the compile flags are those a Rust user of that era got).
    pub libsqlite3_sys: &'static str,
    /// The rusqlite release that shipped with that crate (for the docs only).
    pub rusqlite: &'static str,
    /// Where the amalgamation comes from.
    pub source: Source,
}

/// Where a release's amalgamation (`sqlite3.c`, `sqlite3.h`, `sqlite3ext.h`) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The `bundled` feature of the published `libsqlite3-sys` crate itself.
    Crate,
    /// A tarball from the npm registry; its files replace the crate's before compiling.
    Npm(&'static NpmAmalgamation),
}

/// An amalgamation shipped inside a published npm package, pinned by the registry's own
/// metadata (`npm view PACKAGE@VERSION dist.integrity`) and by the check-in it was cut from.
#[derive(Debug, PartialEq, Eq)]
pub struct NpmAmalgamation {
    pub package: &'static str,
    pub version: &'static str,
    /// `dist.integrity` of the tarball (`sha512-` and the base64 digest): a download that
    /// hashes otherwise is refused.
    pub integrity: &'static str,
    /// Where the three files lie inside the package.
    pub path: AmalgamationPath,
    /// `SQLITE_SOURCE_ID` of its `sqlite3.h`: the prepared library's `sqlite_source_id()`
    /// must say exactly this, or the prepare is refused.
    pub source_id: &'static str,
}

/// Where `sqlite3.c`, `sqlite3.h` and `sqlite3ext.h` lie inside an npm package's tarball.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmalgamationPath {
    /// A directory of the package (better-sqlite3: `package/deps/sqlite3`).
    Dir(&'static str),
    /// A directory inside a tarball the package carries (node `sqlite3`:
    /// `package/deps/sqlite-autoconf-NNNNNNN.tar.gz`, sqlite.org's own autoconf tarball).
    Tarball {
        tarball: &'static str,
        dir: &'static str,
    },
}

impl NpmAmalgamation {
    /// `better-sqlite3@12.6.2`.
    pub fn spec(&self) -> String {
        format!("{}@{}", self.package, self.version)
    }
}

impl Release {
    /// Where the amalgamation comes from, for `walburst sqlite list` and reports:
    /// `crate libsqlite3-sys 0.35.0` or `npm better-sqlite3@12.6.2`.
    pub fn origin_text(&self) -> String {
        match self.source {
            Source::Crate => format!("crate libsqlite3-sys {}", self.libsqlite3_sys),
            Source::Npm(n) => format!("npm {}", n.spec()),
        }
    }

    /// The source id the prepared library must report, where the table pins one.
    pub fn pinned_source_id(&self) -> Option<&'static str> {
        match self.source {
            Source::Crate => None,
            Source::Npm(n) => Some(n.source_id),
        }
    }
}

const fn rel(
    sqlite: SqliteVersion,
    libsqlite3_sys: &'static str,
    rusqlite: &'static str,
) -> Release {
    Release {
        sqlite,
        libsqlite3_sys,
        rusqlite,
        source: Source::Crate,
    }
}

/// A release from npm, compiled by the build script of `libsqlite3_sys` (whose rusqlite is
/// `rusqlite`).
const fn npm(
    sqlite: SqliteVersion,
    libsqlite3_sys: &'static str,
    rusqlite: &'static str,
    amalgamation: &'static NpmAmalgamation,
) -> Release {
    Release {
        sqlite,
        libsqlite3_sys,
        rusqlite,
        source: Source::Npm(amalgamation),
    }
}

const BETTER_SQLITE3_DIR: AmalgamationPath = AmalgamationPath::Dir("package/deps/sqlite3");

// Each read off the tarball itself (`npm pack`, sqlite3.h's SQLITE_VERSION and
// SQLITE_SOURCE_ID) and its integrity from `npm view PKG@V dist.integrity`, 2026-12-05.
// Of several package versions shipping one release, the newest is pinned.
const NPM_3_44_2: NpmAmalgamation = NpmAmalgamation {
    package: "sqlite3",
    version: "5.1.7",
    integrity: "sha512-GGIyOiFaG+TUra3JIfkI/zGP8yZYLPQ0pl1bH+ODjiX57sPhrLU5sQJn1y9bDKZUFYkX1crlrPfSYt0BKKdkog==",
    path: AmalgamationPath::Tarball {
        tarball: "package/deps/sqlite-autoconf-3440200.tar.gz",
        dir: "sqlite-autoconf-3440200",
    },
    source_id: "2023-11-24 11:41:44 ebead0e7230cd33bcec9f95d2183069565b9e709bf745c9b5db65cc0cbf92c0f",
};
// The 3.51.0 amalgamation better-sqlite3 ships (12.4.5, 12.4.6) carries this shortened
// `-experimental` source id: it is what the package holds, so it is what is pinned.
const NPM_3_51_0: NpmAmalgamation = NpmAmalgamation {
    package: "better-sqlite3",
    version: "12.4.6",
    integrity: "sha512-gaYt9yqTbQ1iOxLpJA8FPR5PiaHP+jlg8I5EX0Rs2KFwNzhBsF40KzMZS5FwelY7RG0wzaucWdqSAJM3uNCPCg==",
    path: BETTER_SQLITE3_DIR,
    source_id: "2025-11-04 19:38:17 fb2c931ae597f8d00a37574ff67aeed3eced4e5547f9120744a-experimental",
};
const NPM_3_51_2: NpmAmalgamation = NpmAmalgamation {
    package: "better-sqlite3",
    version: "12.6.2",
    integrity: "sha512-8VYKM3MjCa9WcaSAI3hzwhmyHVlH8tiGFwf0RlTsZPWJ1I5MkzjiudCo4KC4DxOaL/53A5B1sI/IbldNFDbsKA==",
    path: BETTER_SQLITE3_DIR,
    source_id: "2026-01-09 17:27:48 b270f8339eb13b504d0b2ba154ebca966b7dde08e40c3ed7d559749818cb2075",
};
const NPM_3_52_0: NpmAmalgamation = NpmAmalgamation {
    package: "sqlite3",
    version: "6.0.1",
    integrity: "sha512-X0czUUMG2tmSqJpEQa3tCuZSHKIx8PwM53vLZzKp/o6Rpy25fiVfjdbnZ988M8+O3ZWR1ih0K255VumCb3MAnQ==",
    path: AmalgamationPath::Tarball {
        tarball: "package/deps/sqlite-autoconf-3520000.tar.gz",
        dir: "sqlite-autoconf-3520000",
    },
    source_id: "2026-03-06 16:01:44 557aeb43869d3585137b17690cb3b64f7de6921774daae9e56403c3717dceab6",
};
const NPM_3_53_0: NpmAmalgamation = NpmAmalgamation {
    package: "better-sqlite3",
    version: "12.9.0",
    integrity: "sha512-wqUv4Gm3toFpHDQmaKD4QhZm3g1DjUBI0yzS4UBl6lElUmXFYdTQmmEDpAFa5o8FiFiymURypEnfVHzILKaxqQ==",
    path: BETTER_SQLITE3_DIR,
    source_id: "2026-04-09 11:41:38 4525003a53a7fc63ca75c59b22c79608659ca12f0131f52c18637f829977f20b",
};
const NPM_3_53_3: NpmAmalgamation = NpmAmalgamation {
    package: "better-sqlite3",
    version: "13.0.1",
    integrity: "sha512-LYpmOXdkpQYf4wmlxkdzW01XGlOXNIbjLg45yNkh0FQ4814VbK9PdOFmhZpYbej+EZtR/i3FDdhEG98HqZdgnA==",
    path: BETTER_SQLITE3_DIR,
    source_id: "2026-06-26 20:14:12 d4c0e51e4aeb96955b99185ab9cde75c339e2c29c3f3f12428d364a10d782c62",
};
const NPM_3_53_4: NpmAmalgamation = NpmAmalgamation {
    package: "better-sqlite3",
    version: "13.0.3",
    integrity: "sha512-RbOBxmLBG8uvFUc15X9+9SFemKcQ0WBuISBVkpuiaUB2qblC8UWlHEjdWVoZ8AdhSwmoEgsiXKfopX0CQxaACQ==",
    path: BETTER_SQLITE3_DIR,
    source_id: "2026-07-24 19:02:57 bf7c7f30031888f4e796e429ab3978879485813aaca6f641c7b33e4e09459bcc",
};

/// What the bundled build links (libsqlite3-sys 0.40.0, rusqlite 0.43). Checked against the
/// running library by a test.
const BUNDLED: SqliteVersion = SqliteVersion::new(3, 54, 1);

/// Every release walburst offers, oldest first. Each published `libsqlite3-sys` bundles
/// exactly one amalgamation; point releases no crate bundled come from npm packages that
/// ship one (better-sqlite3, node `sqlite3`), compiled by the build script of the nearest
/// crate of the same minor line (else the nearest older one). 3.44.0 is the floor: rusqlite 0.43 calls `sqlite3_set_clientdata` (new in
/// 3.44) and a Rust binary binds every symbol at load time. `walburst sqlite prepare`
/// checks that the built library reports the version this table promises (and, for an npm
/// release, the pinned source id).
pub const RELEASES: &[Release] = &[
    rel(SqliteVersion::new(3, 44, 0), "0.27.0", "0.30"),
    npm(SqliteVersion::new(3, 44, 2), "0.27.0", "0.30", &NPM_3_44_2),
    rel(SqliteVersion::new(3, 45, 0), "0.28.0", "0.31"),
    rel(SqliteVersion::new(3, 46, 0), "0.30.1", "0.32"),
    rel(SqliteVersion::new(3, 48, 0), "0.31.0", "0.33"),
    rel(SqliteVersion::new(3, 49, 1), "0.33.0", "0.35"),
    rel(SqliteVersion::new(3, 49, 2), "0.34.0", "0.36"),
    rel(SqliteVersion::new(3, 50, 2), "0.35.0", "0.37"),
    npm(SqliteVersion::new(3, 51, 0), "0.36.0", "0.38", &NPM_3_51_0),
    rel(SqliteVersion::new(3, 51, 1), "0.36.0", "0.38"),
    npm(SqliteVersion::new(3, 51, 2), "0.36.0", "0.38", &NPM_3_51_2),
    rel(SqliteVersion::new(3, 51, 3), "0.37.0", "0.39"),
    npm(SqliteVersion::new(3, 52, 0), "0.37.0", "0.39", &NPM_3_52_0),
    npm(
        SqliteVersion::new(3, 53, 0),
        "0.38.0",
        "0.40.0",
        &NPM_3_53_0,
    ),
    rel(SqliteVersion::new(3, 53, 1), "0.38.0", "0.40.0"),
    rel(SqliteVersion::new(3, 53, 2), "0.38.2", "0.40.2"),
    npm(
        SqliteVersion::new(3, 53, 3),
        "0.38.2",
        "0.40.2",
        &NPM_3_53_3,
    ),
    npm(
        SqliteVersion::new(3, 53, 4),
        "0.38.2",
        "0.40.2",
        &NPM_3_53_4,
    ),
    rel(SqliteVersion::new(3, 54, 0), "0.39.0", "0.41"),
    rel(BUNDLED, "0.40.0", "0.43"),
];

/// The offered versions, for error messages: `3.44.0, 3.45.0, ...`.
pub fn offered() -> String {
    RELEASES
        .iter()
        .map(|r| r.sqlite.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A `--sqlite` value walburst cannot run on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotOffered {
    #[error(transparent)]
    Malformed(#[from] BadVersion),
    /// A well-formed version with no release in [`RELEASES`].
    #[error(
        "SQLite {} is not offered (no published libsqlite3-sys bundles it and no npm package in the table ships it, or it is older than 3.44.0, which rusqlite 0.43 needs); offered: {}",
        .0,
        offered()
    )]
    Unknown(SqliteVersion),
}

/// Parses a version and checks that walburst offers it; the message lists what is offered.
pub fn parse_offered(text: &str) -> Result<SqliteVersion, NotOffered> {
    let v = text.parse::<SqliteVersion>()?;
    if v.release().is_none() {
        return Err(NotOffered::Unknown(v));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_print_and_order() {
        let v: SqliteVersion = "3.50.2".parse().unwrap();
        assert_eq!(v, SqliteVersion::new(3, 50, 2));
        assert_eq!(v.to_string(), "3.50.2");
        assert!(v < "3.51.0".parse().unwrap());
        assert!("3.50".parse::<SqliteVersion>().is_err());
        assert!("3.x.1".parse::<SqliteVersion>().is_err());
    }

    #[test]
    fn the_table_is_sorted_and_unique() {
        for w in RELEASES.windows(2) {
            assert!(w[0].sqlite < w[1].sqlite, "{:?}", w);
        }
    }

    #[test]
    fn the_bundled_version_is_what_this_binary_links() {
        assert_eq!(rusqlite::version(), BUNDLED.to_string());
        assert!(BUNDLED.release().is_some());
    }

    #[test]
    fn unoffered_versions_are_refused_with_the_list() {
        let e = parse_offered("3.50.1").unwrap_err();
        assert_eq!(e, NotOffered::Unknown(SqliteVersion::new(3, 50, 1)));
        let text = e.to_string();
        assert!(
            text.contains("not offered") && text.contains("3.50.2"),
            "{text}"
        );
        assert!(parse_offered("3.50.2").is_ok());
        assert_eq!(
            parse_offered("banana").unwrap_err(),
            NotOffered::Malformed(BadVersion("banana".into()))
        );
    }

    /// Every npm row is pinned in the registry's own format and compiled by a crate of
    /// the table: the nearest crate release of its minor line, else the nearest older one.
    #[test]
    fn npm_rows_are_pinned_and_built_by_the_nearest_crate() {
        let crates: Vec<&Release> = RELEASES
            .iter()
            .filter(|r| r.source == Source::Crate)
            .collect();
        let mut npm_rows = 0;
        for r in RELEASES {
            let Source::Npm(n) = r.source else { continue };
            npm_rows += 1;
            assert!(
                n.integrity.starts_with("sha512-") && n.integrity.len() == 7 + 88,
                "{}: {}",
                r.sqlite,
                n.integrity
            );
            // `YYYY-MM-DD HH:MM:SS <check-in>`, the form of SQLITE_SOURCE_ID.
            let (date, hash) = n.source_id.split_at(20);
            assert!(
                date.as_bytes()[4] == b'-' && date.ends_with(' '),
                "{}",
                r.sqlite
            );
            assert!(hash.len() >= 64, "{}: {hash}", r.sqlite);
            let same_line: Vec<&&Release> = crates
                .iter()
                .filter(|c| c.sqlite.minor == r.sqlite.minor)
                .collect();
            let want = if same_line.is_empty() {
                crates
                    .iter()
                    .rfind(|c| c.sqlite < r.sqlite)
                    .expect("an older crate")
            } else {
                same_line
                    .iter()
                    .min_by_key(|c| c.sqlite.patch.abs_diff(r.sqlite.patch))
                    .unwrap()
            };
            assert_eq!(
                (r.libsqlite3_sys, r.rusqlite),
                (want.libsqlite3_sys, want.rusqlite),
                "{}",
                r.sqlite
            );
        }
        assert!(npm_rows >= 6);
    }

    #[test]
    fn each_row_says_where_it_comes_from() {
        let from = |s: &str| parse_offered(s).unwrap().release().unwrap();
        assert_eq!(from("3.50.2").origin_text(), "crate libsqlite3-sys 0.35.0");
        assert_eq!(from("3.50.2").pinned_source_id(), None);
        assert_eq!(from("3.51.2").origin_text(), "npm better-sqlite3@12.6.2");
        assert_eq!(from("3.52.0").origin_text(), "npm sqlite3@6.0.1");
        assert!(
            from("3.51.2")
                .pinned_source_id()
                .is_some_and(|id| id.starts_with("2026-01-09 17:27:48 b270f833"))
        );
        for v in [
            "3.44.2", "3.51.0", "3.51.2", "3.52.0", "3.53.0", "3.53.3", "3.53.4",
        ] {
            assert!(parse_offered(v).is_ok(), "{v}");
        }
    }
}
